"""Whole music files read for mixing: every decoder gives the same samples, scaled alike."""

import numpy as np
import pytest
import soundfile as sf

from cadence.audio import readers
from cadence.errors import AudioFileError
from tests.music import (
    analysis_blocks,
    clicks_at_random,
    encode_with_pyav,
    groove,
    window_lag_s,
    write,
    write_alac,
)


@pytest.fixture
def stereo():
    left, right = groove(160, 3, sr=44100, seed=3), groove(160, 3, sr=44100, seed=4)
    return np.stack([left, right], axis=1) * 0.7


def test_apple_lossless_reads_back_as_the_samples_written(tmp_path, stereo):
    path = write_alac(tmp_path / "song.m4a", stereo[:, 0])  # s32p frames from FFmpeg's ALAC
    samples, sr = readers.read_audio(path)
    written = (np.clip(stereo[:, 0], -1, 1) * 32767).astype(np.int16) / 32768
    assert sr == 44100 and samples.shape == (len(stereo), 1)
    np.testing.assert_array_equal(samples[:, 0], written.astype(np.float32))


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_ffmpeg_reads_a_wav_exactly_as_libsndfile_does(tmp_path, stereo, subtype):
    path = tmp_path / "song.wav"
    sf.write(path, stereo, 44100, subtype=subtype)  # packed samples: FFmpeg's resampler path
    by_ffmpeg, sr, _ = readers._read_pyav(str(path))
    by_libsndfile, _, _ = readers._read_soundfile(str(path))
    assert sr == 44100 and by_ffmpeg.dtype == np.float32 and by_ffmpeg.flags.c_contiguous
    np.testing.assert_array_equal(by_ffmpeg, by_libsndfile)


def test_ogg_vorbis_reads_the_same_through_either_decoder(tmp_path, stereo):
    path = tmp_path / "song.ogg"
    sf.write(path, stereo, 44100)  # planar float frames: the fast path
    by_ffmpeg, _ = readers.read_audio(path)
    by_libvorbis, _, _ = readers._read_soundfile(str(path))
    assert by_ffmpeg.shape == by_libvorbis.shape == stereo.shape
    assert np.max(np.abs(by_ffmpeg - by_libvorbis)) < 1e-4


def test_a_file_with_no_audio_says_so(tmp_path):
    path = tmp_path / "noise.ogg"
    path.write_bytes(b"OggS" + bytes(500))
    with pytest.raises(AudioFileError, match="noise.ogg: cannot decode audio"):
        readers.read_audio(path)


@pytest.mark.parametrize("channels", [1, 2, 6])
@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_analysis_blocks_are_the_same_mono_samples_through_either_decoder(
    tmp_path, subtype, channels
):
    # FFmpeg's FIFO path against libsndfile: packed samples of every type,
    # scaled alike (u8 centred), downmixed alike, from the start and after a seek.
    rng = np.random.default_rng(channels)
    audio = 0.4 * np.sin(np.arange(3 * 44100)[:, None] * rng.uniform(0.01, 0.1, channels))
    path = tmp_path / "song.wav"
    sf.write(path, audio, 44100, subtype=subtype)
    for start_s in (0.0, 1.3):
        sr_av, _, by_ffmpeg = analysis_blocks(readers._blocks_pyav, path, start_s)
        sr_sf, _, by_libsndfile = analysis_blocks(readers._blocks_soundfile, path, start_s)
        assert sr_av == sr_sf == 44100
        assert all(b.ndim == 1 and b.dtype == np.float32 for b in by_ffmpeg)
        assert all(len(b) >= 16384 for b in by_ffmpeg[:-1])  # frames joined into big blocks
        np.testing.assert_array_equal(np.concatenate(by_ffmpeg), np.concatenate(by_libsndfile))


def test_analysis_blocks_of_planar_vorbis_match_libvorbis(tmp_path, stereo):
    path = tmp_path / "song.ogg"
    sf.write(path, stereo, 44100)
    _, _, by_ffmpeg = analysis_blocks(readers._blocks_pyav, path)
    _, _, by_libvorbis = analysis_blocks(readers._blocks_soundfile, path)
    joined = np.concatenate(by_ffmpeg)
    assert joined.shape == (len(stereo),)
    assert np.max(np.abs(joined - np.concatenate(by_libvorbis))) < 1e-4


def _adts(path, tone_hz: float, *, sr: int, layout: str, seconds: float = 2.0) -> bytes:
    """AAC in ADTS frames (a stream that may change its layout or rate part-way), via PyAV."""
    t = np.arange(int(seconds * sr)) / sr
    n_channels = 1 if layout == "mono" else 2
    planes = np.repeat((0.5 * np.sin(2 * np.pi * tone_hz * t))[None], n_channels, 0)
    encode_with_pyav(
        path, planes.astype(np.float32), codec="aac", sample_format="fltp", sr=sr, container="adts"
    )
    return path.read_bytes()


def test_a_stream_that_turns_from_stereo_to_mono_is_read_on_through_the_change(tmp_path):
    # The FIFO copies as many channels as its first frame had: fed a mono frame
    # after stereo ones it read past the frame (or crashed); a new FIFO starts instead.
    path = tmp_path / "radio.aac"
    path.write_bytes(
        _adts(tmp_path / "a.aac", 440, sr=44100, layout="stereo")
        + _adts(tmp_path / "b.aac", 660, sr=44100, layout="mono")
    )
    _, _, blocks = analysis_blocks(readers._blocks_pyav, path)
    mono = np.concatenate(blocks)
    assert 3.9 * 44100 < len(mono) < 4.2 * 44100
    for part, tone_hz in ((mono[: 2 * 44100], 440), (mono[-2 * 44100 :], 660)):
        middle = part[4096:-4096]
        peak_hz = np.argmax(np.abs(np.fft.rfft(middle))) * 44100 / len(middle)
        assert abs(peak_hz - tone_hz) < 5
        assert np.max(np.abs(part)) < 0.6  # no samples from beyond a frame


@pytest.mark.parametrize("second_layout", ["mono", "stereo"])
def test_a_stream_whose_sample_rate_changes_is_used_up_to_the_change(tmp_path, second_layout):
    # With the layout unchanged, only the FIFO itself sees the new rate.
    from cadence.analysis import analyze_file

    path = tmp_path / "radio.aac"
    path.write_bytes(
        _adts(tmp_path / "a.aac", 440, sr=44100, layout="stereo", seconds=4.0)
        + _adts(tmp_path / "b.aac", 660, sr=48000, layout=second_layout)
    )
    with pytest.raises(AudioFileError, match="sample rate changes from 44100 to 48000 Hz"):
        analysis_blocks(readers._blocks_pyav, path)
    note = analyze_file(str(path)).note
    assert "decoding stopped at 4.0 s (the sample rate changes from 44100 to 48000 Hz)" in note
    # Read whole for mixing, it stops there too, at the rate it started at.
    samples, sr = readers.read_audio(path)
    assert sr == 44100 and 3.9 < len(samples) / sr < 4.2


def test_asking_whether_a_cut_mp3_is_a_render_prints_nothing_of_libmpg123s(tmp_path, capfd):
    from pathlib import Path

    from cadence.audio.write import rendered_by

    song = Path(__file__).resolve().parent.parent / "audio" / "sunrise-run.mp3"
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(song.read_bytes()[:30000])  # its Xing frame counts the whole song
    assert rendered_by(cut) is None
    assert "Xing" not in capfd.readouterr().err


@pytest.mark.parametrize("ext", [".ogg", ".opus", ".flac", ".m4a", ".mp3"])
def test_a_window_read_by_ffmpeg_from_part_way_starts_where_it_says(tmp_path, ext):
    # After a seek FFmpeg decodes from the frame or Ogg page before the point
    # asked for: the window's beats were 20-60 ms late until the first frame's
    # time (from the stream's start: 25 ms into an MP3) was used to drop the
    # samples before it.
    from cadence.audio import decode

    path = write(tmp_path / f"long{ext}", 0.5 * clicks_at_random(30, sr=44100), sr=44100)
    whole = decode._decode(str(path), readers._blocks_pyav, "pyav", max_analysis_s=1800)
    window = decode._decode(str(path), readers._blocks_pyav, "pyav", max_analysis_s=10)
    assert window.frame_start_s == pytest.approx(10.0, abs=0.02)  # the middle 10 s
    assert window_lag_s(window, whole) == 0


@pytest.fixture
def cut_flac(tmp_path, stereo):
    """A FLAC file cut in half (a download broken off), and the samples of the whole."""
    whole = write(tmp_path / "whole.flac", np.tile(stereo, (4, 1)), sr=44100)
    samples, _ = readers.read_audio(whole)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return cut, samples


def test_a_cut_flac_is_read_up_to_the_cut_by_either_decoder(cut_flac):
    # Both stop with an error at the cut; what decoded before it is kept, as
    # the analysis keeps it, so a --click file can be made of such a song.
    path, whole = cut_flac
    for reader in (readers._read_soundfile, readers._read_pyav):
        samples, sr, broke_off = reader(str(path))
        assert sr == 44100 and broke_off, reader
        assert 0.3 * len(whole) < len(samples) < 0.6 * len(whole)
        np.testing.assert_allclose(samples, whole[: len(samples)], atol=1e-6)
    samples, sr = readers.read_audio(path)
    assert sr == 44100 and len(samples) > 0.3 * len(whole)


def test_the_analysis_blocks_before_a_decoding_error_are_all_given(cut_flac):
    # FFmpeg's FIFO held up to a block when the decoder failed, and soundfile
    # raised for the block it failed in: what decoded before the error is
    # given first, so a cut FLAC's analysis reaches as far as its whole read.
    path, _ = cut_flac
    for blocks_reader, whole_reader in (
        (readers._blocks_pyav, readers._read_pyav),
        (readers._blocks_soundfile, readers._read_soundfile),
    ):
        blocks = blocks_reader(str(path), readers._SOUNDFILE_BLOCK)  # as the whole read's
        next(blocks), next(blocks)
        got = []
        with pytest.raises(Exception):  # noqa: B017 (each decoder has its own error type)
            for block in blocks:
                got.append(block)
        samples, _, _ = whole_reader(str(path))
        assert sum(map(len, got)) == len(samples) > 0, blocks_reader
        np.testing.assert_array_equal(np.concatenate(got), samples.mean(axis=1, dtype=np.float32))
