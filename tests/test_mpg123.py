"""MP3 read for the analysis by libmpg123: mono near the analysis rate, FFmpeg's samples."""

import numpy as np
import pytest
import soundfile as sf
import soxr

from cadence.analysis import analyze_file
from cadence.audio import decode, mpg123, readers
from cadence.audio.lame import LameWriter
from tests.music import (
    analysis_blocks,
    clicks_at_random,
    clicks_on_beats,
    groove,
    window_lag_s,
    without_info_frame,
    write,
)


def _mp3(path, audio: np.ndarray, *, sr: int):
    with LameWriter(path, samplerate=sr, channels=audio.shape[1]) as f:
        f.write(audio.astype(np.float32))
    return path


def _decoded(reader, path, start_s: float = 0.0) -> tuple[int, int, np.ndarray]:
    rate, length, blocks = analysis_blocks(reader, path, start_s)
    return rate, length, np.concatenate(blocks)


def _delay_and_error(reference: np.ndarray, decoded: np.ndarray, *, sr: int):
    """How much later `decoded` runs than `reference` (s, from the phase of their
    cross-spectrum, 100 Hz-4 kHz), and their difference once it is undone (dB
    against `reference`, up to 4.5 kHz)."""
    n = min(len(reference), len(decoded)) // 2 * 2
    a, b = np.fft.rfft(reference[:n]), np.fft.rfft(decoded[:n])
    hz = np.fft.rfftfreq(n, 1 / sr)
    band = (hz > 100) & (hz < 4000)
    phase = np.unwrap(np.angle(b[band] * np.conj(a[band])))
    delay_s = -np.polyfit(hz[band], phase, 1, w=np.abs(a[band]))[0] / (2 * np.pi)
    undone = b * np.exp(2j * np.pi * hz * delay_s)
    kept = (hz > 20) & (hz < 4500)
    error = np.sum(np.abs(undone[kept] - a[kept]) ** 2) / np.sum(np.abs(a[kept]) ** 2)
    return delay_s, 10 * np.log10(error)


def test_the_system_library_is_there_as_the_makefile_installs_it():
    assert mpg123.mpg123_library() is not None  # Debian's libmpg123-0


@pytest.mark.parametrize(
    ("sr", "rate"), [(48000, 12000), (44100, 11025), (32000, 16000), (22050, 11025), (16000, 16000)]
)
def test_mpg123_gives_ffmpegs_mono_mix_at_the_lowest_rate_at_or_above_the_analysis_rate(
    tmp_path, sr, rate
):
    rng = np.random.default_rng(sr)
    stereo = 0.1 * rng.standard_normal((3 * sr, 2))  # left and right differ
    path = _mp3(tmp_path / "noise.mp3", stereo, sr=sr)
    by_ffmpeg_sr, _, by_ffmpeg = _decoded(readers._blocks_pyav, path)
    got_rate, length, by_mpg123 = _decoded(mpg123.blocks_mpg123, path)
    assert by_ffmpeg_sr == sr and got_rate == rate
    assert length == len(by_mpg123) == round(len(by_ffmpeg) * rate / sr)  # gapless, exact
    reference = soxr.resample(by_ffmpeg, sr, rate, quality="VHQ")
    delay_s, error_db = _delay_and_error(reference, by_mpg123, sr=rate)
    # At a reduced rate: one sample of the stream later (the synthesis's
    # decimation), otherwise the same to -50 dB; at its own rate, identical.
    assert delay_s == pytest.approx(0 if rate == sr else 1 / sr, abs=2e-6)
    assert error_db < (-100 if rate == sr else -45)


def test_an_mp3_is_analysed_through_mpg123_to_the_same_envelope_and_beats_as_through_ffmpeg(
    tmp_path,
):
    sr = 44100
    beats = 0.25 + np.arange(60) * 60 / 150
    song = clicks_on_beats(beats, sr=sr, seconds=24.5)
    path = _mp3(tmp_path / "song.mp3", np.stack([song, 0.5 * song], 1) * 0.5, sr=sr)
    assert readers.block_readers(str(path))[0][0] == "mpg123"
    kwargs = dict(max_analysis_s=decode.MAX_ANALYSIS_S)
    by_ffmpeg = decode._decode(str(path), readers._blocks_pyav, "pyav", **kwargs)
    by_mpg123 = decode._decode(str(path), mpg123.blocks_mpg123, "mpg123", **kwargs)
    assert by_mpg123.bands.shape == by_ffmpeg.bands.shape
    assert len(by_mpg123.fine) == len(by_ffmpeg.fine)
    assert by_mpg123.duration_s == pytest.approx(by_ffmpeg.duration_s, abs=1 / 11025)
    for got, want in zip(by_mpg123.bands, by_ffmpeg.bands):
        assert np.mean(np.abs(got - want)) < 0.01 * np.mean(np.abs(want))
    assert np.mean(np.abs(by_mpg123.fine - by_ffmpeg.fine)) < 0.05 * np.mean(by_ffmpeg.fine)
    result = analyze_file(str(path))
    assert result.bpm == pytest.approx(150, abs=0.2)
    assert np.median(np.abs(np.subtract.outer(result.beats, beats)).min(axis=1)) < 0.010


def test_a_long_mp3_is_read_from_its_middle_exactly_where_it_says(tmp_path):
    sr = 44100
    song = clicks_at_random(30, sr=sr) + 0.3 * groove(128, 30, sr=sr, seed=8)
    path = _mp3(tmp_path / "long.mp3", np.stack([song, song], 1) * 0.5, sr=sr)
    whole = decode._decode(str(path), mpg123.blocks_mpg123, "mpg123", max_analysis_s=1800)
    window = decode._decode(str(path), mpg123.blocks_mpg123, "mpg123", max_analysis_s=10)
    assert window.frame_start_s == pytest.approx(10.0, abs=0.01)  # the middle 10 s
    assert window.analysed_s == pytest.approx(10.0, abs=0.01)
    assert window_lag_s(window, whole) == 0


def test_another_kind_of_file_named_mp3_is_left_to_ffmpeg(tmp_path):
    # libmpg123 hunts for a frame header anywhere: in PCM it could find one and read noise.
    path = tmp_path / "really a wav.mp3"
    sf.write(path, groove(120, 12, seed=1), 22050, format="WAV")
    with pytest.raises(mpg123.Mpg123Error, match="does not start like an MP3 stream"):
        next(mpg123.blocks_mpg123(str(path), 16384))
    result = analyze_file(str(path))
    assert result.error is None and result.bpm == pytest.approx(120, abs=0.5)


def test_without_the_library_mp3_is_read_by_ffmpeg(tmp_path, monkeypatch):
    sr = 22050
    path = _mp3(tmp_path / "song.mp3", groove(120, 12, sr=sr, seed=1)[:, None], sr=sr)
    with_it = analyze_file(str(path))
    monkeypatch.setattr(mpg123, "mpg123_library", lambda: None)
    assert [name for name, _ in readers.block_readers(str(path))] == ["pyav", "soundfile"]
    without = analyze_file(str(path))
    assert without.error is None
    assert without.bpm == pytest.approx(with_it.bpm, abs=0.1)


@pytest.mark.parametrize("junk", ["zeros", "random"])
def test_a_broken_stretch_of_an_mp3_stops_the_analysis_there_and_says_so(tmp_path, capfd, junk):
    # libmpg123 does not resync past it: skipping it would shorten the song
    # unseen, and every beat after it came 37-100 ms early. FFmpeg stops too,
    # and libsndfile reads no further: the longest read is kept, with its note.
    sr = 44100
    song = groove(140, 20, sr=sr, seed=4)
    path = _mp3(tmp_path / "song.mp3", np.stack([song, song], 1) * 0.5, sr=sr)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    stretch = bytes(20_000) if junk == "zeros" else np.random.default_rng(0).bytes(3000)
    data[middle : middle + len(stretch)] = stretch
    path.write_bytes(bytes(data))
    capfd.readouterr()
    result = analyze_file(str(path))
    assert result.error is None and result.bpm == pytest.approx(140, abs=0.5)
    assert result.note == (
        "decoding stopped at 10.0 s of the 20.0 s it declares (a damaged stretch in the stream):"
        " used what decoded"
    )
    assert result.duration_s == pytest.approx(10, abs=0.5)
    assert max(result.beats) < result.duration_s
    assert capfd.readouterr().err == ""  # libmpg123's complaints, silenced


def test_another_kind_of_file_named_mp3_after_an_id3_tag_is_left_to_ffmpeg(tmp_path):
    # An ID3 tag, then FLAC (or an ADTS AAC stream, whose sync word has layer
    # 0): libmpg123 read false frames from it, stopped, and left a bogus note.
    flac = write(tmp_path / "song.flac", groove(120, 12, seed=1))
    path = tmp_path / "tagged flac.mp3"
    path.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + flac.read_bytes())
    assert mpg123.first_frame(path) is None
    result = analyze_file(str(path))
    assert result.error is None and result.note is None
    assert result.bpm == pytest.approx(120, abs=0.5)
    adts = tmp_path / "adts.mp3"
    adts.write_bytes(bytes([0xFF, 0xF1, 0x50, 0x80]) + bytes(100))
    assert mpg123.first_frame(adts) is None


@pytest.mark.parametrize(("rate_hz", "factor"), [(96000, 2), (44100, 2), (24000, 1), (11025, 0)])
def test_down_sampling_keeps_the_rate_at_or_above_the_analysis_rate(rate_hz, factor):
    assert mpg123.down_sample_for(rate_hz) == factor
    assert mpg123.MIN_RATE_HZ == decode.ANALYSIS_SR


def test_a_truncated_mp3_is_noted_when_its_header_gives_the_length(tmp_path):
    # libmpg123 reports the LAME/Xing frame's length, which a cut file keeps;
    # without that frame the length is a guess, and no note is made of it.
    sr = 44100
    song = groove(150, 30, sr=sr, seed=5)
    for name, strip in (("whole header.mp3", False), ("no header.mp3", True)):
        path = _mp3(tmp_path / name, np.stack([song, song], 1) * 0.5, sr=sr)
        if strip:
            without_info_frame(path)
        assert mpg123.length_in_header(str(path)) is not strip
        assert analyze_file(str(path)).note is None
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        result = analyze_file(str(path))
        assert result.bpm == pytest.approx(150, abs=0.5)
        if strip:
            assert result.note is None
        else:
            assert result.note.startswith("file ends early: ")
            assert result.note.endswith(" s of the 30.0 s it declares (truncated?)")


def test_the_length_of_an_mp3_without_a_length_header_is_counted_not_guessed(tmp_path):
    # From the first frame's bit rate (a silent one) 40 s were guessed as 103.
    sr = 44100
    song = groove(120, 40, sr=sr, seed=1)
    song[: 3 * sr] = 0
    path = _mp3(tmp_path / "no header.mp3", song[:, None], sr=sr)
    without_info_frame(path)
    rate, length, mono = _decoded(mpg123.blocks_mpg123, path)
    assert length == len(mono)
    assert length / rate == pytest.approx(40, abs=0.1)
