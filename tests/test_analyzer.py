"""The analysis of real audio files: formats, bad input, long files, the cache, the scan API."""

import csv
import json
import os
import time

import numpy as np
import pytest
import soundfile as sf

from cadence.analysis import analyze_file
from cadence.audio.decode import onset_envelope
from cadence.cache import TrackCache
from cadence.errors import AudioFileError
from cadence.library import scan_library
from tests.conftest import REPO
from tests.music import groove, without_info_frame, write, write_alac

FORMATS = [".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aiff"]


@pytest.mark.parametrize("ext", FORMATS)
def test_every_format_decodes_to_the_right_tempo(tmp_path, ext):
    path = write(tmp_path / f"track{ext}", groove(124, 20, seed=3))
    result = analyze_file(str(path))
    assert result.error is None
    assert result.bpm == pytest.approx(124, abs=1.0)
    assert 0 < result.confidence <= 1
    assert result.duration_s == pytest.approx(20, abs=0.2)
    assert result.alternatives == {
        "half": pytest.approx(62, abs=0.6),
        "double": pytest.approx(248, abs=2),
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_plain_rock_groove_is_read_at_its_beat_not_two_thirds_of_it(tmp_path, seed):
    # Hats on every eighth make a pulse of three eighths (100 BPM here) look
    # almost as periodic as the beat; lossless, so no codec blurs the case.
    path = write(tmp_path / "rock150.flac", groove(150, 30, seed=seed))
    assert analyze_file(str(path)).bpm == pytest.approx(150, abs=1.0)


def test_demo_library_reads_its_manifest_tempi_up_to_an_octave():
    """The bundled tracks (our generator: straight, sixteenth-note, shuffle and
    half-time grooves) read at their true tempo, or at half or double of it."""
    rows = list(csv.DictReader((REPO / "audio" / "manifest.csv").open()))
    assert len(rows) >= 8
    for row in rows:
        bpm = analyze_file(str(REPO / "audio" / row["file"])).bpm
        true = float(row["bpm"])
        assert any(abs(bpm - true * f) <= 0.04 * true * f for f in (0.5, 1, 2)), (row, bpm)


def test_apple_lossless_m4a_decodes(tmp_path):
    path = write_alac(tmp_path / "lossless.m4a", groove(118, 20, sr=44100))
    result = analyze_file(str(path))
    assert result.error is None
    assert result.bpm == pytest.approx(118, abs=1.0)


def test_silence_has_no_tempo_not_zero(tmp_path):
    path = write(tmp_path / "silence.wav", np.zeros(22050 * 20, dtype=np.float32))
    result = analyze_file(str(path))
    assert result.error is None
    assert result.bpm is None
    assert result.confidence == 0
    assert "no beat" in result.note


def test_short_clip_gets_low_confidence(tmp_path):
    path = write(tmp_path / "short.wav", groove(120, 5))
    result = analyze_file(str(path))
    assert result.error is None
    assert result.bpm is None or result.confidence < 0.4
    assert "low confidence" in (result.note or "") or result.bpm is None


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.mp3", b"", "empty file"),
        ("notes.flac", b"this is a text file, not audio\n" * 50, "cannot decode audio"),
        (
            "random.mp3",
            bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8)),
            "cannot decode",
        ),
        ("fake.m4a", b"\x00\x00\x00\x18ftypM4A " + b"\x00" * 100, "cannot decode audio"),
    ],
)
def test_bad_files_get_a_reason_not_a_traceback(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    result = analyze_file(str(path))
    assert result.bpm is None
    assert reason in result.error
    with pytest.raises(AudioFileError, match=reason):
        onset_envelope(path)


def test_truncated_file_uses_what_was_read(tmp_path):
    path = write(tmp_path / "whole.mp3", groove(110, 30))
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    result = analyze_file(str(cut))
    assert result.error is None
    assert result.bpm == pytest.approx(110, abs=1.0)
    assert result.duration_s == pytest.approx(15, abs=2)


def test_a_file_one_decoder_gives_up_on_part_way_is_read_by_the_next(tmp_path):
    # libsndfile loses a FLAC stream's sync at a broken stretch and stops;
    # FFmpeg finds the next frame and reads on.
    path = write(tmp_path / "song.flac", groove(140, 20, seed=4))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = np.random.default_rng(0).bytes(3000)
    path.write_bytes(bytes(data))
    result = analyze_file(str(path))
    assert result.error is None
    assert result.note == (
        "decoding stopped at 9.8 s of the 20.0 s it declares (flac decoder lost sync);"
        " another decoder read on past it"
    )
    assert result.duration_s == pytest.approx(20, abs=0.4)
    assert result.bpm == pytest.approx(140, abs=0.5)


@pytest.mark.parametrize("ext", [".flac", ".mp3"])
def test_music_followed_by_long_silence_is_read_where_it_sounds(tmp_path, ext):
    # 90 s of music, then 4 minutes of digital silence (as a render with a
    # long tail, or a hidden track, has): the middle two minutes are silent.
    sr = 22050
    audio = np.concatenate([groove(132, 90, seed=5), np.zeros(240 * sr, dtype=np.float32)])
    path = write(tmp_path / f"tail{ext}", audio, sr=sr)
    result = analyze_file(str(path))
    assert result.error is None
    assert result.bpm == pytest.approx(132, abs=0.5)
    assert result.duration_s == pytest.approx(330, abs=1)
    env = onset_envelope(path)
    assert env.sounding_s == pytest.approx(90, abs=2)


def test_a_file_shorter_than_it_says_is_read_from_its_true_middle(tmp_path):
    # A 40 s VBR MP3 with 3 s of silence first and no LAME/Xing frame: its
    # length is guessed from a silent frame's 32 kbit/s as 103 s. Asked for
    # at most 30 s, the analysis read from "the middle", 36.7 s: 3.4 s of it.
    from cadence.audio import mpg123
    from cadence.audio.decode import _decode
    from cadence.audio.lame import LameWriter
    from cadence.audio.readers import _blocks_pyav

    sr = 44100
    song = groove(120, 40, sr=sr, seed=1)
    song[: 3 * sr] = 0
    path = tmp_path / "no header.mp3"
    with LameWriter(path, samplerate=sr, channels=1) as f:
        f.write(song[:, None])
    without_info_frame(path)
    for reader, name in ((mpg123.blocks_mpg123, "mpg123"), (_blocks_pyav, "pyav")):
        env = _decode(str(path), reader, name, max_analysis_s=30)
        assert env.frame_start_s == pytest.approx(5, abs=0.05)  # the middle 30 s, not the last 3.4
        assert env.analysed_s == pytest.approx(30, abs=0.01)
        assert env.duration_s == pytest.approx(40, abs=0.1)  # not 103
    assert analyze_file(str(path)).duration_s == pytest.approx(40, abs=0.1)


def test_quiet_middle_of_a_long_track_is_still_the_window_read(tmp_path):
    # Soft but not silent (about -30 dBFS) all through: the middle is read, not the start.
    sr = 22050
    loud, soft = groove(100, 60, seed=6), 0.03 * groove(140, 240, seed=7)  # middle: 90-210 s
    path = write(tmp_path / "soft middle.flac", np.concatenate([loud, soft]), sr=sr)
    # A window of two minutes in a five-minute file (the default window, 30
    # minutes, takes the whole song).
    env = onset_envelope(path, max_analysis_s=120)
    assert env.sounding_s == pytest.approx(120, abs=1)
    assert analyze_file(str(path), max_analysis_s=120).bpm == pytest.approx(140, abs=0.5)


@pytest.mark.parametrize(
    ("ext", "subtype"), [(".wav", "PCM_16"), (".flac", "PCM_24"), (".ogg", "VORBIS")]
)
def test_pyav_reader_downmixes_stereo_like_libsndfile(tmp_path, ext, subtype):
    # Left and right differ, and the file spans several blocks and a short last one.
    # PyAV gives WAV and FLAC interleaved (s16, s32), Vorbis planar (fltp).
    from cadence.audio.decode import _blocks_pyav, _blocks_soundfile

    sr = 22050
    t = np.arange(int(7.3 * sr)) / sr
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 331 * t)], 1)
    path = tmp_path / f"stereo{ext}"
    sf.write(path, stereo, sr, subtype=subtype)
    mono = {}
    for name, reader in (("pyav", _blocks_pyav), ("soundfile", _blocks_soundfile)):
        blocks = reader(str(path), 65536)
        assert next(blocks) == sr
        next(blocks)
        mono[name] = np.concatenate(list(blocks))
    assert len(mono["pyav"]) == len(stereo)
    np.testing.assert_allclose(mono["pyav"], stereo.mean(axis=1), atol=0.02)  # Vorbis is lossy
    np.testing.assert_allclose(mono["pyav"], mono["soundfile"], atol=2e-4)


def test_long_file_is_analysed_in_bounded_memory(tmp_path, run_python):
    """A 2-hour file: decoding streams, and only its middle 30 minutes are analysed
    (envelopes of a few MB), so it needs little more memory than a 2-minute file."""
    sr = 8000
    one_minute = groove(126, 60, sr=sr)
    paths = {}
    for name, minutes in (("two-hour-mix.flac", 120), ("two-minutes.flac", 2)):
        paths[minutes] = tmp_path / name
        with sf.SoundFile(paths[minutes], "w", samplerate=sr, channels=1, format="FLAC") as f:
            for _ in range(minutes):
                f.write(one_minute)
    # The probe's own peak (VmHWM): ru_maxrss would carry over this test
    # process's peak from the fork and hide the probe's.
    probe = (
        "import json, sys\n"
        "from cadence.analysis import analyze_file\n"
        "r = analyze_file(sys.argv[1]).to_dict()\n"
        "status = open('/proc/self/status').read().split()\n"
        "r['maxrss_mb'] = int(status[status.index('VmHWM:') + 1]) / 1024\n"
        "print(json.dumps(r))\n"
    )
    results = {}
    for minutes, path in paths.items():
        proc = run_python(probe, str(path), timeout=300)
        assert proc.returncode == 0, proc.stderr
        results[minutes] = json.loads(proc.stdout)
    result = results[120]
    assert result["bpm"] == pytest.approx(126, abs=1.0)
    assert result["duration_s"] == pytest.approx(7200, abs=1)
    assert result["analysed_s"] == pytest.approx(1800, abs=1)  # the middle 30 minutes
    # Decoding the whole 2 hours would add 230 MB (float32 at 8 kHz; 1.3 GB at
    # 44.1 kHz stereo). The baseline (Python, numpy, librosa, FFmpeg) varies
    # between environments, so compare with the same process on 2 minutes.
    assert result["maxrss_mb"] < results[2]["maxrss_mb"] + 100


def test_rescan_comes_from_the_cache_and_notices_changed_files(library, tmp_path):
    root, tempos = library
    problems = []
    with TrackCache(tmp_path / "c.sqlite3", analyzer_version="test") as cache:
        first = scan_library(str(root), cache=cache, on_problem=lambda p, r: problems.append(p))
        assert (first.analysed, first.cached) == (len(tempos), 0)
        second = scan_library(str(root), cache=cache, on_problem=lambda p, r: problems.append(p))
        assert (second.analysed, second.cached) == (0, len(tempos))
        assert [t.bpm for t in second.tracks] == [t.bpm for t in first.tracks]
    with TrackCache(tmp_path / "c.sqlite3", analyzer_version="test-2") as cache:
        third = scan_library(str(root), cache=cache, on_problem=lambda p, r: None)
        assert third.analysed == len(tempos)  # a new analyzer version redoes everything
    assert problems == []


def test_changed_file_is_analysed_again(tmp_path):
    music = tmp_path / "m"
    music.mkdir()
    path = write(music / "a.wav", groove(100, 15))
    with TrackCache(tmp_path / "c.sqlite3", analyzer_version="t") as cache:
        scan_library(str(music), cache=cache, on_problem=lambda p, r: None)
        write(path, groove(140, 15))
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
        again = scan_library(str(music), cache=cache, on_problem=lambda p, r: None)
    assert again.analysed == 1
    assert again.tracks[0].bpm == pytest.approx(140, abs=1)


def test_parallel_scan_gives_the_same_results(library, tmp_path):
    root, _ = library
    serial = scan_library(str(root), cache=None, jobs=1, on_problem=lambda p, r: None)
    parallel = scan_library(str(root), cache=None, jobs=2, on_problem=lambda p, r: None)
    assert [(t.path, t.bpm) for t in serial.tracks] == [(t.path, t.bpm) for t in parallel.tracks]


def test_a_parallel_scan_starts_no_more_workers_than_it_has_files(tmp_path, monkeypatch):
    import cadence.library

    started = []

    class Recorded(cadence.library.ProcessPoolExecutor):
        def __init__(self, max_workers=None, **kwargs):
            started.append(max_workers)
            super().__init__(max_workers=max_workers, **kwargs)

    monkeypatch.setattr(cadence.library, "ProcessPoolExecutor", Recorded)
    for name in ("a.wav", "b.wav"):
        write(tmp_path / name, groove(120, 5))
    # 64 forks for two songs is wasted memory; 100000 (before --jobs had a
    # limit in play) took the machine down.
    result = scan_library(str(tmp_path), cache=None, jobs=64, on_problem=lambda p, r: None)
    assert started == [2]
    assert [t.bpm is not None for t in result.tracks] == [True, True]


def test_deleted_and_renamed_files_leave_the_cache(library, tmp_path):
    root, tempos = library
    music = tmp_path / "music"
    for name in list(tempos)[:3]:
        (music / name).parent.mkdir(parents=True, exist_ok=True)
        os.link(root / name, music / name)
    other = tmp_path / "other"
    other.mkdir()
    os.link(root / "steady.flac", other / "kept.flac")
    with TrackCache(tmp_path / "c.sqlite3", analyzer_version="t") as cache:
        scan_library(str(other), cache=cache, on_problem=lambda p, r: None)
        scan_library(str(music), cache=cache, on_problem=lambda p, r: None)
        assert len(cache) == 4
        first, second = (music / n for n in list(tempos)[:2])
        first.unlink()
        second.rename(second.with_name("renamed" + second.suffix))
        again = scan_library(str(music), cache=cache, on_problem=lambda p, r: None)
        assert (again.analysed, again.cached) == (1, 1)
        assert len(cache) == 3  # the renamed file's new entry; the other folder's is kept


@pytest.mark.parametrize(
    ("raised", "shown"),
    [
        (Exception("avcodec_open2(aac) returned 22"), "no decoder for its codec"),
        (
            AttributeError("'NoneType' object has no attribute 'sample_rate'"),
            "no decoder for its audio",
        ),
        (
            Exception("Error opening <_io.BufferedReader name='x'>: Format not recognised."),
            "format not recognised",
        ),
        # Through a descriptor, soundfile names its number (it changed run to run).
        (Exception("Error opening 4: Format not recognised."), "format not recognised"),
        (Exception("Error opening b'/m/\\xff.wav': System error."), "system error"),
        (OSError(2, "No such file"), "no such file"),
        # PyAV's errors name the file and FFmpeg's error number (a Vorbis stream chained to Opus).
        (Exception("Invalid argument: '/m/run.ogg' returned 22"), "invalid argument"),
        (
            Exception(
                "[Errno 1163346256] Not yet implemented in FFmpeg, patches welcome: '/m/a.ogg'"
            ),
            "the stream changes part-way in a way FFmpeg cannot follow",
        ),
    ],
)
def test_decoder_complaints_are_said_in_words_not_in_their_internals(raised, shown):
    from cadence.audio.decode import _reason

    assert _reason(raised) == shown


@pytest.mark.parametrize("kind", ["white", "pink"])
def test_noise_has_no_beat(tmp_path, kind):
    rng = np.random.default_rng(3)
    n = 40 * 22050
    x = rng.standard_normal(n)
    if kind == "pink":
        spectrum = np.fft.rfft(x)
        x = np.fft.irfft(spectrum / np.sqrt(np.maximum(np.arange(len(spectrum)), 1)), n)
    path = tmp_path / f"{kind} noise.wav"
    sf.write(path, (0.3 * x / np.abs(x).max()).astype(np.float32), 22050)
    r = analyze_file(str(path))
    assert r.error is None and r.bpm is None and not r.beats
    assert r.note == "no beat found"


def test_a_short_clip_without_beats_says_why_beside_its_low_confidence(tmp_path):
    # 3.2 s of a demo song: a tempo, but too few beats for a grid.
    clip = tmp_path / "clip.ogg"
    clip.write_bytes((REPO / "audio" / "garage-door.ogg").read_bytes()[:20000])
    r = analyze_file(str(clip))
    assert r.bpm is not None and not r.beats
    assert "no steady beat to place" in r.note
    assert "only 3.2 s of audio: low confidence" in r.note
