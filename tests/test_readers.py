"""Whole music files read for mixing: every decoder gives the same samples, scaled alike."""

import numpy as np
import pytest
import soundfile as sf

from cadence.audio import readers
from cadence.errors import AudioFileError
from tests.music import groove, write_alac


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
    by_ffmpeg, sr = readers._read_pyav(str(path))
    by_libsndfile, _ = readers._read_soundfile(str(path))
    assert sr == 44100 and by_ffmpeg.dtype == np.float32 and by_ffmpeg.flags.c_contiguous
    np.testing.assert_array_equal(by_ffmpeg, by_libsndfile)


def test_ogg_vorbis_reads_the_same_through_either_decoder(tmp_path, stereo):
    path = tmp_path / "song.ogg"
    sf.write(path, stereo, 44100)  # planar float frames: the fast path
    by_ffmpeg, _ = readers.read_audio(path)
    by_libvorbis, _ = readers._read_soundfile(str(path))
    assert by_ffmpeg.shape == by_libvorbis.shape == stereo.shape
    assert np.max(np.abs(by_ffmpeg - by_libvorbis)) < 1e-4


def test_a_file_with_no_audio_says_so(tmp_path):
    path = tmp_path / "noise.ogg"
    path.write_bytes(b"OggS" + bytes(500))
    with pytest.raises(AudioFileError, match="noise.ogg: cannot decode audio"):
        readers.read_audio(path)


@pytest.mark.parametrize(
    ("suffix", "subtype", "tolerance"),
    [(".wav", "PCM_16", 1e-4), (".wav", "FLOAT", 1e-7), (".ogg", None, 1e-4)],
)
def test_analysis_blocks_are_the_same_mono_samples_through_either_decoder(
    tmp_path, stereo, suffix, subtype, tolerance
):
    # Packed 16-bit and float WAV, planar float Vorbis: every layout the FIFO takes.
    path = tmp_path / f"song{suffix}"
    sf.write(path, stereo, 44100, subtype=subtype)

    def blocks(reader):
        it = reader(str(path), 16384)
        sr, _frames = next(it), next(it)
        out = list(it)
        return sr, out

    sr_av, by_ffmpeg = blocks(readers._blocks_pyav)
    sr_sf, by_libsndfile = blocks(readers._blocks_soundfile)
    assert sr_av == sr_sf == 44100
    assert all(b.ndim == 1 and b.dtype == np.float32 for b in by_ffmpeg)
    assert all(len(b) >= 16384 for b in by_ffmpeg[:-1])  # frames joined into big blocks
    joined_av, joined_sf = np.concatenate(by_ffmpeg), np.concatenate(by_libsndfile)
    assert joined_av.shape == joined_sf.shape == (len(stereo),)
    assert np.max(np.abs(joined_av - joined_sf)) < tolerance
