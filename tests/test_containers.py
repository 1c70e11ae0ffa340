"""A truncated WAV, AIFF, FLAC or Ogg file is told from its container's headers, and noted."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from cadence.analysis import analyze_file
from cadence.audio.containers import declared_frames, ends_early_note, ogg_ends_unfinished
from tests.music import groove, write

SR = 22050


@pytest.fixture(scope="module")
def song() -> np.ndarray:
    mono = groove(150, 20, sr=SR, seed=4)
    return np.stack([mono, mono * 0.9], axis=1)


def _cut(path, share: float = 0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * share)])
    return path


def _ogg_pages(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each Ogg page, walked from the headers (kept apart from the code tested)."""
    pages, at = [], 0
    while at < len(data):
        n_segments = data[at + 26]
        end = at + 27 + n_segments + sum(data[at + 27 : at + 27 + n_segments])
        pages.append((at, end))
        at = end
    return pages


@pytest.mark.parametrize(
    ("suffix", "subtype"),
    [(".wav", "PCM_16"), (".wav", "FLOAT"), (".aiff", "PCM_24"), (".flac", "PCM_16")],
)
def test_the_header_of_a_wav_aiff_or_flac_declares_its_frames_even_when_the_file_is_cut(
    tmp_path, song, suffix, subtype
):
    path = tmp_path / f"song{suffix}"
    sf.write(path, song, SR, subtype=subtype)
    assert declared_frames(path) == len(song)
    _cut(path)
    assert declared_frames(path) == len(song)
    if suffix != ".flac":  # (libsndfile gives a cut FLAC's STREAMINFO length)
        with sf.SoundFile(path) as f:  # what the decoder says: what is left
            assert f.frames < 0.6 * len(song)


def test_a_flac_stream_of_unknown_length_declares_nothing(tmp_path, song):
    path = tmp_path / "stream.flac"
    sf.write(path, song, SR, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    info = 8  # after "fLaC" and the STREAMINFO block's header
    data[info + 13] &= 0xF0  # the low 4 bits of the bits-per-sample byte start the count
    data[info + 14 : info + 18] = bytes(4)  # total samples 0: an encoder that could not tell
    path.write_bytes(bytes(data))
    assert declared_frames(path) is None


def test_a_wav_of_unknown_length_and_other_files_declare_nothing(tmp_path, song):
    path = tmp_path / "stream.wav"
    sf.write(path, song, SR, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    at = data.index(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", 0xFFFFFFFF)  # a writer that could not seek back
    path.write_bytes(bytes(data))
    assert declared_frames(path) is None
    for name, content in (
        ("notes.txt", b"RIFF"),
        ("empty.wav", b""),
        ("song.ogg", None),
        ("short.flac", b"fLaC"),
        ("cut.flac", b"fLaC" + bytes(16)),
    ):
        other = tmp_path / name
        if content is None:
            sf.write(other, song, SR)
        else:
            other.write_bytes(content)
        assert declared_frames(other) is None
    assert declared_frames(tmp_path / "missing.wav") is None


@pytest.mark.parametrize("suffix", [".ogg", ".opus"])
def test_an_ogg_file_cut_in_a_page_or_between_pages_ends_unfinished(tmp_path, song, suffix):
    path = write(tmp_path / f"song{suffix}", song, sr=SR)
    data = path.read_bytes()
    assert not ogg_ends_unfinished(path)
    pages = _ogg_pages(data)
    assert len(pages) > 3
    start, end = pages[-2]
    for cut in (start + 10, start + 30, (start + end) // 2, end):
        path.write_bytes(data[:cut])
        assert ogg_ends_unfinished(path), cut


def test_an_ogg_file_with_junk_after_it_or_chained_streams_is_not_called_cut(tmp_path, song):
    first = write(tmp_path / "a.ogg", song, sr=SR).read_bytes()
    second = write(tmp_path / "b.ogg", song[:, ::-1].copy(), sr=SR).read_bytes()
    path = tmp_path / "song.ogg"
    path.write_bytes(first + b"TAG" + bytes(125))  # an ID3v1 tag stuck on: cannot tell
    assert not ogg_ends_unfinished(path)
    path.write_bytes(first + second)  # chained: two streams, each ended
    assert not ogg_ends_unfinished(path)
    path.write_bytes(first + second[: len(second) // 2])
    assert ogg_ends_unfinished(path)
    for name, content in (("empty.ogg", b""), ("short.ogg", b"Ogg"), ("text.ogg", b"hello" * 20)):
        (tmp_path / name).write_bytes(content)
        assert not ogg_ends_unfinished(tmp_path / name)


@pytest.mark.parametrize("suffix", [".wav", ".aiff", ".ogg", ".opus"])
def test_a_truncated_file_is_analysed_as_far_as_it_goes_with_a_note(tmp_path, song, suffix):
    path = write(tmp_path / f"song{suffix}", song, sr=SR)
    whole = analyze_file(str(path))
    assert whole.note is None
    _cut(path)
    result = analyze_file(str(path))
    assert result.error is None
    assert result.bpm == pytest.approx(150, abs=1)
    first = result.note.split("; ")[0]  # (then: only 10 s of audio, low confidence)
    assert first.startswith("file ends early: ")
    if suffix in (".wav", ".aiff"):
        assert first.endswith(" s of the 20.0 s it declares (truncated?)")
    else:
        assert first.endswith(" s without its last page (truncated?)")


def test_a_cut_ogg_is_noted_whichever_decoder_read_it(tmp_path, song):
    # libsndfile gives a cut Ogg file's length from its last page, so the
    # length it declares is no sign: the page walk is.
    path = _cut(write(tmp_path / "song.ogg", song, sr=SR))
    with sf.SoundFile(path) as f:
        frames = f.frames
    for decoder in ("soundfile", "pyav"):
        note = ends_early_note(str(path), frames, frames, SR, decoder)
        assert note is not None and note.endswith("without its last page (truncated?)")


def test_a_cut_flac_says_how_much_of_its_declared_length_decoded(tmp_path, song):
    # The decoders stop at the cut with an error (libsndfile: "flac decoder
    # lost sync"): the note says where, and what the stream declared.
    path = _cut(write(tmp_path / "song.flac", song, sr=SR))
    result = analyze_file(str(path))
    assert result.error is None and result.bpm == pytest.approx(150, abs=1)
    first = result.note.split("; ")[0]
    assert first.startswith("decoding stopped at ")
    assert " s of the 20.0 s it declares (" in first
    assert first.endswith("): used what decoded")


def _boxes(data: bytes) -> list[bytes]:
    """The kinds of an MP4's top-level boxes, in order (walked apart from the code tested)."""
    kinds, at = [], 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        kinds.append(kind)
        at += size if size >= 8 else len(data)
    return kinds


def test_an_m4a_cut_before_its_index_is_named_so_not_called_undecodable_gibberish(tmp_path):
    from cadence.audio.containers import mp4_cut_before_index
    from cadence.audio.readers import read_audio
    from cadence.errors import AudioFileError

    path = write(tmp_path / "run.m4a", groove(150, 20, sr=44100, seed=4), sr=44100)
    kinds = _boxes(path.read_bytes())
    assert kinds[0] == b"ftyp" and kinds.index(b"moov") > kinds.index(b"mdat")  # index last
    assert not mp4_cut_before_index(path)
    _cut(path)
    assert mp4_cut_before_index(path)
    why = "cannot decode audio (the file ends before its index, the MP4 'moov' box: truncated?)"
    assert why in analyze_file(str(path)).error
    with pytest.raises(AudioFileError, match=r"ends before its index"):
        read_audio(path)


def test_an_mp4_with_its_index_first_or_not_an_mp4_is_not_called_cut_before_it(tmp_path):
    from cadence.audio.containers import mp4_cut_before_index

    def box(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(body), kind) + body

    first = tmp_path / "faststart.m4a"
    first.write_bytes(
        box(b"ftyp", b"M4A \0\0\0\0") + box(b"moov", b"\0" * 32) + box(b"mdat", b"\1" * 4000)
    )
    _cut(first)  # cut in its samples: the decoders read what is there
    assert not mp4_cut_before_index(first)
    other = tmp_path / "notes.m4a"
    other.write_bytes(b"\0\0\1\0free" + b"\0" * 100)  # runs past the end, but no ftyp
    assert not mp4_cut_before_index(other)
    junk = tmp_path / "junk.m4a"
    junk.write_bytes(box(b"ftyp", b"M4A \0\0\0\0") + b"\0" * 100)  # zeros where a box starts
    assert not mp4_cut_before_index(junk)
    assert not mp4_cut_before_index(tmp_path / "missing.m4a")
