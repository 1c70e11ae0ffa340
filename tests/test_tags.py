"""BPM tags: read and written in every container, rounded as players expect."""

import pytest

from cadence.errors import AudioFileError
from cadence.tags import read_tags, write_bpm_tag
from tests.music import copy_bytes, write


def test_wav_and_aiff_bpm_tags_are_read_and_written(track, tmp_path):
    import soundfile as sf

    audio, sr = sf.read(copy_bytes(track, tmp_path / "t.wav"))
    for name in ("t.wav", "t.aiff"):
        path = write(tmp_path / name, audio, sr=sr)
        assert read_tags(str(path))["tag_bpm"] is None
        assert write_bpm_tag(str(path), 165.6) is True
        assert read_tags(str(path))["tag_bpm"] == 166
        assert write_bpm_tag(str(path), 166.2) is False  # the same number: not rewritten
        assert sf.read(path)[0] == pytest.approx(audio, abs=1e-4)


@pytest.mark.parametrize(
    ("bpm", "written"), [(84.5, "85"), (87.5, "88"), (127.49, "127"), (165.6, "166")]
)
def test_bpm_tag_is_rounded_half_up(track, tmp_path, bpm, written):
    from mutagen.wave import WAVE

    path = copy_bytes(track, tmp_path / "t.wav")
    assert write_bpm_tag(str(path), bpm) is True
    assert str(WAVE(path).tags["TBPM"]) == written
    assert read_tags(str(path))["tag_bpm"] == float(written)


@pytest.mark.parametrize(
    ("text", "value"),
    [("128", 128.0), ("128 BPM", 128.0), ("92,5", 92.5), (" 174bpm", 174.0), ("fast", None)],
)
def test_bpm_tags_are_read_with_units_and_decimal_commas(track, tmp_path, text, value):
    from mutagen.id3 import TBPM
    from mutagen.wave import WAVE

    path = copy_bytes(track, tmp_path / "t.wav")
    wave = WAVE(path)
    wave.add_tags()
    wave.tags.add(TBPM(encoding=3, text=[text]))
    wave.save()
    assert read_tags(str(path))["tag_bpm"] == value


def test_a_tag_that_cannot_be_read_back_is_not_written_again_and_again(track, tmp_path):
    import struct

    # A WAV whose RIFF chunk ends in zero padding after the audio (as some
    # editors write it): a tag appended after the padding is never found again.
    data = bytearray(copy_bytes(track, tmp_path / "padded.wav").read_bytes() + bytes(100))
    struct.pack_into("<I", data, 4, len(data) - 8)
    path = tmp_path / "padded.wav"
    path.write_bytes(bytes(data))
    for _ in range(3):
        with pytest.raises(AudioFileError, match="cannot be read back.*left as it was"):
            write_bpm_tag(str(path), 166.0)
        assert path.read_bytes() == bytes(data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["padded.wav"]
