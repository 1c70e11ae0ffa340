"""`cadence stretch` through click's CliRunner, on real audio files with known beats."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from cadence.cli import main
from cadence.core.timemap import click_samples
from tests.conftest import SHARED
from tests.music import clicks_on_beats, drums_on_beats, write

BPM = 160.0
SR = 22050
TRUE_BEATS = 0.25 + np.arange(80) * 60 / BPM
MUSIC_DEV = SHARED / "bench" / "music-dev"


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """30 s of drums at 160 BPM, beats known exactly, as FLAC."""
    folder = tmp_path_factory.mktemp("stretch")
    return write(folder / "song.flac", drums_on_beats(TRUE_BEATS, seconds=30.25))


def stretch(runner, *args):
    return runner.invoke(main, ["stretch", *map(str, args)])


def test_stretch_puts_the_songs_beats_on_the_step_grid(song, runner, tmp_path):
    out = tmp_path / "song-168.wav"
    result = stretch(runner, song, "--spm", 168, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["steps_per_beat"] == 1 and info["steady"]
    assert info["stretch_pct"] == pytest.approx(5.0, abs=0.2)
    assert sf.info(str(out)).duration == pytest.approx(30.25 * 160 / 168, abs=0.01)
    pairs = np.array(info["time_map"])
    # The true beats, through the reported map, fall on the 168-a-minute grid.
    mapped = np.interp(TRUE_BEATS, pairs[:, 0], pairs[:, 1])[2:-2]
    step = 60 / 168
    k = np.round((mapped - info["grid_start_s"]) / step)
    off = mapped - (info["grid_start_s"] + k * step)
    assert np.median(np.abs(off)) < 0.005 and np.max(np.abs(off)) < 0.012
    assert np.all(np.diff(k) == 1)


def test_the_clicks_are_the_metronomes_grid_to_the_sample(song, runner, tmp_path):
    clicked, plain = tmp_path / "on.flac", tmp_path / "off.flac"
    result = stretch(runner, song, "--spm", 168, "-o", clicked, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert stretch(runner, song, "--spm", 168, "-o", plain, "--click", "off").exit_code == 0
    on, _ = sf.read(str(clicked), dtype="float64")
    off, _ = sf.read(str(plain), dtype="float64")
    on, off = on.reshape(len(on), -1), off.reshape(len(off), -1)
    clicks = on[:, 0] - off[:, 0] * 10 ** (-3 / 20)  # the music is 3 dB under the click
    loud = np.flatnonzero(np.abs(clicks) > 0.02)
    starts = loud[np.concatenate([[True], np.diff(loud) > 1000])]
    grid = click_samples(round(info["grid_start_s"] * SR), spm=168, sr=SR, n_samples=len(on))
    assert len(starts) == len(grid) == info["clicks"]
    assert np.max(np.abs(starts - grid)) <= 2  # the click's own attack: a sample or two in


def test_a_song_at_half_the_cadence_gets_two_steps_a_beat(runner, tmp_path):
    beats = 0.5 + np.arange(40) * 60 / 86
    song = write(tmp_path / "slow.flac", clicks_on_beats(beats, seconds=29.0))
    out = tmp_path / "slow-170.flac"
    result = stretch(runner, song, "--spm", 170, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    # Read at 86 (two steps a beat) or at 172 (a step a beat and one between):
    # the same music, slowed by 1.2 %, a step on every beat and between.
    assert info["stretch_pct"] == pytest.approx(100 * (85 / 86 - 1), abs=0.3)
    pairs = np.array(info["time_map"])
    mapped = np.interp(beats[1:-1], pairs[:, 0], pairs[:, 1])
    steps = (mapped - info["grid_start_s"]) / (60 / 170)
    assert np.max(np.abs(steps - np.round(steps))) < 0.01 * 170 / 60  # within 10 ms of a step
    assert np.all(np.diff(np.round(steps)) == 2)
    assert info["clicks"] == pytest.approx(2 * len(beats), abs=3)


def test_the_summary_line_says_what_was_written(song, runner, tmp_path):
    out = tmp_path / "s.ogg"
    result = stretch(runner, song, "--spm", 165, "-o", out)
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.output and "165 spm" in result.output
    assert "160.0 BPM +3.1 %" in result.output and "one step a beat" in result.output


def test_a_song_whose_beats_leave_the_grid_is_played_with_a_warning(song, runner, tmp_path):
    # 20 s at 156 BPM, then 20 s at 166: one grid cannot hold both.
    first = 0.25 + np.arange(52) * 60 / 156
    second = first[-1] + 60 / 156 + np.arange(55) * 60 / 166
    changing = write(
        tmp_path / "change.flac", drums_on_beats(np.concatenate([first, second]), seconds=41.0)
    )
    result = stretch(runner, changing, "--spm", 161, "-o", tmp_path / "c.wav")
    assert result.exit_code == 0, result.output
    assert "beats off a steady grid" in result.stderr
    steady = stretch(runner, song, "--spm", 165, "-o", tmp_path / "s.wav")
    assert "beats off a steady grid" not in steady.output


def test_a_song_too_far_from_the_cadence_is_refused_with_the_needed_stretch(song, runner, tmp_path):
    out = tmp_path / "far.wav"
    result = stretch(runner, song, "--spm", 180, "-o", out)
    assert result.exit_code == 2
    assert "--max-stretch" in result.output and "+12.5 %" in result.output
    assert not out.exists()
    assert stretch(runner, song, "--spm", 180, "-o", out, "--max-stretch", 13).exit_code == 0


def test_stretch_never_writes_over_the_song_or_a_file_not_its_own(song, runner, tmp_path):
    result = stretch(runner, song, "--spm", 165, "-o", song, "--force")
    assert result.exit_code == 2 and "the song itself" in result.output
    other = tmp_path / "mine.wav"
    sf.write(str(other), np.zeros(1000), 8000)
    before = other.read_bytes()
    result = stretch(runner, song, "--spm", 165, "-o", other)
    assert result.exit_code == 2 and "--force" in result.output
    assert other.read_bytes() == before
    assert stretch(runner, song, "--spm", 165, "-o", other, "--force").exit_code == 0
    # Its own output it replaces without asking.
    assert stretch(runner, song, "--spm", 166, "-o", other).exit_code == 0


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["--spm", "165", "-o", "x.aiff"], 2, "unknown format"),
        (["--spm", "0", "-o", "x.wav"], 2, "spm:"),
        (["--spm", "165", "-o", "x.wav", "--click-volume", "3"], 2, "click-volume:"),
    ],
)
def test_bad_options_are_refused_before_any_work(song, runner, tmp_path, args, code, words):
    result = runner.invoke(
        main,
        ["stretch", str(song), *[str(tmp_path / a) if a.startswith("x.") else a for a in args]],
    )
    assert result.exit_code == code, result.output
    assert words in result.output and "Traceback" not in result.output


def test_a_file_that_is_not_music_or_has_no_beat_is_one_error_line(runner, tmp_path):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"no audio here" * 100)
    result = stretch(runner, bad, "--spm", 170, "-o", tmp_path / "o.wav")
    assert (
        result.exit_code == 1 and result.output.startswith("Error: ") and "bad.mp3" in result.output
    )
    quiet = write(tmp_path / "quiet.flac", np.zeros(SR * 10, np.float32))
    result = stretch(runner, quiet, "--spm", 170, "-o", tmp_path / "o.wav")
    assert result.exit_code == 1 and "quiet.flac" in result.output
    assert not (tmp_path / "o.wav").exists()


needs_music_dev = pytest.mark.skipif(
    not (MUSIC_DEV / "tracks.csv").exists(), reason=f"no music-dev set at {MUSIC_DEV}"
)


@needs_music_dev
def test_a_real_songs_true_beats_land_on_the_clicks(runner, tmp_path):
    with open(MUSIC_DEV / "tracks.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if "six60" in r["file"])
    bpm, first = float(row["bpm"]), float(row["first_beat_s"])
    true = first + np.arange(int((60 - first) * bpm / 60)) * 60 / bpm
    spm = round(bpm * 1.05)
    result = stretch(
        runner,
        MUSIC_DEV / row["file"],
        "--spm",
        spm,
        "-o",
        tmp_path / "o.flac",
        "--json",
        "--click",
        "off",
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    pairs = np.array(info["time_map"])
    inside = true[(true > pairs[0, 0]) & (true < pairs[-1, 0])]
    mapped = np.interp(inside, pairs[:, 0], pairs[:, 1])
    step = 60 / spm * info["steps_per_beat"]
    off = mapped - (info["grid_start_s"] + np.round((mapped - info["grid_start_s"]) / step) * step)
    assert np.median(np.abs(off)) < 0.010 and np.percentile(np.abs(off), 95) < 0.025


@pytest.mark.parametrize(("song_sr", "mp3_sr"), [(96000, 48000), (88200, 44100), (38000, 44100)])
def test_a_song_to_mp3_is_written_at_the_nearest_rate_mp3_carries_losing_nothing(
    runner, tmp_path, song_sr, mp3_sr
):
    beats = 0.25 + np.arange(24) * 60 / BPM
    hires = write(
        tmp_path / "hires.flac", drums_on_beats(beats, seconds=9.25, sr=song_sr), sr=song_sr
    )
    out = tmp_path / "run.mp3"
    result = stretch(runner, hires, "--spm", 168, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["sr"] == mp3_sr == sf.info(str(out)).samplerate
    assert sf.info(str(out)).duration == pytest.approx(9.25 * 160 / 168, abs=0.01)
    clicked = tmp_path / "clicked.mp3"
    result = runner.invoke(main, ["beats", str(hires), "--click", str(clicked)])
    assert result.exit_code == 0, result.output
    assert sf.info(str(clicked)).samplerate == mp3_sr
    assert sf.info(str(clicked)).duration == pytest.approx(9.25, abs=0.01)


def test_a_cut_song_is_stretched_with_the_note_that_it_is_cut(runner, tmp_path):
    whole = write(tmp_path / "cut.wav", drums_on_beats(TRUE_BEATS, seconds=30.25))
    whole.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # the header says 30 s
    result = stretch(runner, whole, "--spm", 165, "-o", tmp_path / "c.wav")
    assert result.exit_code == 0, result.output
    assert "cut.wav: file ends early" in result.stderr
