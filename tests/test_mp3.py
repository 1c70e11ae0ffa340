"""MP3 files as cadence writes them: through the system's LAME, or else soundfile's."""

import mutagen
import numpy as np
import pytest
import soundfile as sf

from cadence.audio import lame
from cadence.audio.write import SESSION_MUSIC_COMMENT, rendered_by, write_blocks
from tests.music import groove


@pytest.fixture
def music():
    """Four seconds of stereo drums: a different groove in each channel."""
    left, right = groove(170, 4, sr=44100, seed=1), groove(170, 4, sr=44100, seed=2)
    return np.stack([left, right], axis=1).astype(np.float32) * 0.5


def _in_blocks(audio, size=10_000):
    return (audio[i : i + size] for i in range(0, len(audio), size))


def _lag(reference, decoded):
    """The shift (samples) of `decoded` against `reference`, by cross-correlation."""
    n = len(reference)
    spec = np.fft.rfft(reference, 2 * n) * np.conj(np.fft.rfft(decoded[:n], 2 * n))
    peak = int(np.argmax(np.fft.irfft(spec)))
    return (peak + n) % (2 * n) - n


def test_the_system_lame_is_installed_where_the_suite_runs():
    # The Makefile installs libmp3lame0; without it every MP3 below would test the fallback.
    assert lame.lame_library() is not None


@pytest.mark.parametrize(("sr", "channels"), [(44100, 2), (48000, 1)])
def test_an_mp3_decodes_to_every_sample_written_and_in_place(tmp_path, music, sr, channels):
    audio = music if channels == 2 else music[:, :1]
    out = tmp_path / "run.mp3"
    written = write_blocks(
        out, _in_blocks(audio), sr=sr, channels=channels, comment=SESSION_MUSIC_COMMENT
    )
    decoded, got_sr = sf.read(out, dtype="float32", always_2d=True)
    assert written == len(audio) and got_sr == sr
    # The LAME info frame tells decoders the encoder's delay and padding: no extra samples.
    assert decoded.shape == audio.shape
    assert _lag(audio[:, 0], decoded[:, 0]) == 0
    # The music, not noise: its loudness, 10 ms by 10 ms, kept (drums are noise-like, so
    # a perceptual codec keeps their envelope and spectrum, not their waveform).
    frames = len(audio) // (sr // 100)

    def envelope(x):
        x = x[: frames * (sr // 100), 0]
        return np.sqrt(np.mean(x.reshape(frames, -1) ** 2, axis=1))

    assert np.corrcoef(envelope(audio), envelope(decoded))[0, 1] > 0.99
    assert np.sum(decoded**2) / np.sum(audio**2) == pytest.approx(1, abs=0.1)


def test_an_mp3_is_marked_as_cadence_s_own_and_tagged_as_vbr(tmp_path, music):
    out = tmp_path / "run.mp3"
    write_blocks(out, _in_blocks(music), sr=44100, channels=2, comment=SESSION_MUSIC_COMMENT)
    assert rendered_by(out) == SESSION_MUSIC_COMMENT
    info = mutagen.File(out)
    assert "-V 2" in info.info.encoder_settings  # written by LameWriter, not soundfile's CBR
    assert {str(c) for c in info.tags.getall("COMM")} == {SESSION_MUSIC_COMMENT}


def test_without_the_system_lame_soundfile_s_encoder_writes_the_mp3(tmp_path, music, monkeypatch):
    monkeypatch.setattr(lame, "lame_library", lambda: None)
    out = tmp_path / "run.mp3"
    write_blocks(out, _in_blocks(music), sr=44100, channels=2, comment=SESSION_MUSIC_COMMENT)
    assert rendered_by(out) == SESSION_MUSIC_COMMENT
    assert "-V 2" not in (mutagen.File(out).info.encoder_settings or "")
    assert sf.info(out).duration == pytest.approx(4, abs=0.1)


def test_a_rate_mp3_cannot_carry_is_refused_by_lame_writer(tmp_path):
    with pytest.raises(OSError, match="96000 Hz"):
        lame.LameWriter(tmp_path / "x.mp3", samplerate=96000, channels=2)
    assert not (tmp_path / "x.mp3").exists()


def test_writing_to_a_closed_lame_writer_is_an_error_and_close_twice_is_not(tmp_path):
    f = lame.LameWriter(tmp_path / "x.mp3", samplerate=44100, channels=1)
    f.write(np.zeros(1000, np.float32))
    f.close()
    f.close()
    assert f.closed
    with pytest.raises(OSError, match="closed"):
        f.write(np.zeros(10, np.float32))


def test_a_block_of_the_wrong_channel_count_is_refused(tmp_path):
    f = lame.LameWriter(tmp_path / "x.mp3", samplerate=44100, channels=2)
    with pytest.raises(OSError, match="a block of 1 channels to a 2-channel MP3"):
        f.write(np.zeros((100, 1), np.float32))
    f.close()
