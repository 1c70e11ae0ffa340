"""`cadence play` through click's CliRunner: a folder, files and a playlist at a cadence."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from cadence.cli import main
from tests.music import drums_on_beats, write


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Songs at 158, 163 and 84 BPM, one at 120 (too far from 165), and a broken file."""
    root = tmp_path_factory.mktemp("music")
    for name, bpm in (
        ("one.flac", 158.0),
        ("two.ogg", 163.0),
        ("slow.wav", 84.0),
        ("far.flac", 120.0),
    ):
        beats = 0.3 + np.arange(int(24 * bpm / 60)) * 60 / bpm
        write(root / name, drums_on_beats(beats, seconds=25.0))
    (root / "broken.mp3").write_bytes(b"not audio" * 200)
    return root


def play(runner, *args):
    return runner.invoke(main, ["play", *map(str, args)])


def test_play_renders_the_fitting_songs_of_a_folder(folder, runner, tmp_path):
    out = tmp_path / "run.mp3"
    result = play(runner, 165, folder, "-o", out, "--cache", tmp_path / "c.sqlite")
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.output and "3 songs played, 1 left out." in result.output
    assert "broken.mp3" in result.output  # one line for the file that cannot be read
    assert "Left out, beyond --max-stretch 8 %: 1 song of the folder." in result.output
    for name in ("one.flac", "two.ogg", "slow.wav"):
        assert name in result.output
    assert "far.flac" not in result.output.split("Wrote")[0].split("Song")[-1]
    info = sf.info(str(out))
    assert info.samplerate == 44100 and info.channels == 2 and info.duration > 50


def test_play_json_lists_each_song_with_its_time_map_and_the_stems(folder, runner, tmp_path):
    out = tmp_path / "run.flac"
    result = play(
        runner,
        165,
        folder / "one.flac",
        folder / "two.ogg",
        "-o",
        out,
        "--stems",
        "--json",
        "--order",
        "tempo",
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert [s["path"].rsplit("/", 1)[-1] for s in info["songs"]] == ["one.flac", "two.ogg"]
    for song in info["songs"]:
        assert {"start_s", "end_s", "stretch_pct", "speed", "steps_per_beat", "time_map"} <= set(
            song
        )
        pairs = np.array(song["time_map"])
        # The found beats, through the map: a step apart, within their own few ms.
        assert np.all(np.diff(pairs[:, 1]) == pytest.approx(60 / 165, abs=0.005))
    music, click = info["stems"]["music"], info["stems"]["click"]
    assert music.endswith("run.music.flac") and click.endswith("run.click.flac")
    assert sf.info(music).frames == sf.info(click).frames == sf.info(str(out)).frames


def test_play_reads_a_playlist_and_plays_for_the_duration(folder, runner, tmp_path):
    playlist = tmp_path / "list.m3u8"
    playlist.write_text(f"#EXTM3U\n{folder / 'two.ogg'}\n{folder / 'far.flac'}\n")
    out = tmp_path / "run.wav"
    result = play(runner, 165, playlist, "-o", out, "--duration", "1m", "--click", "off")
    assert result.exit_code == 0, result.output
    assert "far.flac: left out: needs" in result.output
    assert sf.info(str(out)).duration == pytest.approx(60.0, abs=0.001)


def test_no_fitting_song_is_one_clear_error(folder, runner, tmp_path):
    result = play(runner, 200, folder / "one.flac", "-o", tmp_path / "x.wav")
    assert result.exit_code == 1
    assert "no song fits 200 spm within --max-stretch 8 %" in result.output
    assert "one.flac (+26.6 %)" in result.output
    assert not (tmp_path / "x.wav").exists()


def test_the_playlist_being_played_is_refused_as_the_output_by_its_name(folder, runner, tmp_path):
    playlist = tmp_path / "run.m3u8"
    playlist.write_text(f"{folder / 'one.flac'}\n")
    result = play(runner, 165, playlist, "-o", playlist, "--force")
    assert result.exit_code == 2
    assert f"{playlist} is a playlist being played; give another name" in result.output
    assert playlist.read_text() == f"{folder / 'one.flac'}\n"


def test_play_refuses_to_write_over_a_song_or_a_file_not_its_own(folder, runner, tmp_path):
    result = play(runner, 165, folder / "one.flac", "-o", folder / "one.flac", "--force")
    assert result.exit_code == 2 and "is one of the songs" in result.output
    mine = tmp_path / "mine.wav"
    sf.write(str(mine), np.zeros(100), 8000)
    result = play(runner, 165, folder / "one.flac", "-o", mine)
    assert result.exit_code == 2 and "--force" in result.output


def test_live_play_without_a_sound_device_is_one_error_and_leaves_nothing(folder, runner):
    from cadence.liveplay import PREFIX, SHM_FOLDER

    before = set(SHM_FOLDER.glob(f"{PREFIX}*"))
    result = play(runner, 165, folder / "one.flac", "--device", "no-such-device")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "Traceback" not in result.output
    assert set(SHM_FOLDER.glob(f"{PREFIX}*")) == before


def test_a_folders_song_is_never_written_over_even_with_force(folder, runner, tmp_path):
    target = folder / "far.flac"  # in the folder, though not played: still the user's song
    before = target.read_bytes()
    result = play(runner, 165, folder, "-o", target, "--force", "--cache", tmp_path / "c.sq")
    assert result.exit_code == 2 and "a folder being played" in result.output
    assert target.read_bytes() == before


def test_a_utf16_playlist_with_file_urls_is_read(folder, runner, tmp_path):
    playlist = tmp_path / "win.m3u8"
    text = f"#EXTM3U\r\nfile://{folder / 'one.flac'}\r\n# a comment\r\n\r\n"
    playlist.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    result = play(runner, 165, playlist, "-o", tmp_path / "o.wav", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["songs"][0]["path"] == str(folder / "one.flac")


def test_nothing_to_play_says_why_of_each_source(runner, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = play(runner, 165, empty, "-o", tmp_path / "o.wav", "--cache", tmp_path / "c.sq")
    assert result.exit_code == 1 and "no music found" in result.output
    result = play(runner, 165, tmp_path / "missing.mp3", "-o", tmp_path / "o.wav")
    assert result.exit_code == 1
    assert "missing.mp3: left out: no such file" in result.output


@pytest.mark.parametrize(
    "args, words",
    [
        (["--duration", "1000h"], "at most 24 h"),
        (["--every", "17"], "--every"),
        (["--seed", "3"], "--order shuffle"),
        (["--max-stretch", "0"], "--max-stretch"),
        (["--intervals", "run:2m,walk"], "intervals"),
        (["--repeat", "3"], "intervals"),
        (["--ramp-from", "150"], "ramp"),
    ],
)
def test_bad_session_options_are_refused_before_the_scan(folder, runner, tmp_path, args, words):
    result = play(runner, 165, folder / "one.flac", "-o", tmp_path / "o.wav", *args)
    assert result.exit_code == 2, result.output
    assert words in result.output


def test_play_a_run_walk_programme_follows_each_parts_rate(folder, runner, tmp_path):
    out = tmp_path / "walk.wav"
    args = ["--intervals", "run:20s,walk:20s@155", "--repeat", "2", "--json", "--click", "off"]
    result = play(runner, 165, folder, "-o", out, "--cache", tmp_path / "c.sqlite", *args)
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    bar_165, bar_155 = 4 * 60 / 165, 4 * 60 / 155
    cycle = round(20 / bar_165) * bar_165 + round(20 / bar_155) * bar_155  # whole bars
    assert info["duration_s"] == pytest.approx(2 * cycle, abs=1e-3)
    run_s = round(20 / bar_165) * bar_165
    for entry in info["songs"]:  # each song as played in a part: at that part's rate
        rate = entry["bpm"] * entry["steps_per_beat"] * (1 + entry["stretch_pct"] / 100)
        walking = (
            entry["start_s"] % cycle >= run_s - 1e-3
        )  # the walk: from run_s to the cycle's end
        assert rate == pytest.approx(155.0 if walking else 165.0, abs=0.1), entry
        assert abs(entry["stretch_pct"]) <= 8.0


def test_a_part_no_song_fits_is_one_error_naming_it(folder, runner, tmp_path):
    args = ["--intervals", "run:1m,walk:1m@100", "-o", tmp_path / "w.wav"]
    result = play(runner, 165, folder / "one.flac", *args)
    assert result.exit_code != 0
    assert "no song fits 100 spm (a part of --intervals)" in result.output
    assert "Traceback" not in result.output


def test_play_ramps_the_runs_of_a_programme(folder, runner, tmp_path):
    out = tmp_path / "ramped.wav"
    args = ["--intervals", "run:20s,walk:10s", "--repeat", "2", "--json", "--click", "off"]
    args += ["--ramp-from", "159", "--ramp-over", "40s"]
    result = play(runner, 165, folder, "-o", out, "--cache", tmp_path / "c.sqlite", *args)
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    rates = [e["bpm"] * e["steps_per_beat"] * (1 + e["stretch_pct"] / 100) for e in info["songs"]]
    assert rates[0] == pytest.approx(159.0, abs=0.1) and rates[-1] == pytest.approx(165.0, abs=0.1)
    assert all(b > a - 0.1 for a, b in itertools.pairwise(rates))  # up only
    assert info["duration_s"] == pytest.approx(60.0, abs=2.0)  # whole bars near 2 × 30 s
    assert info["ramp_spm"] == [159.0, 165.0]  # its start, and as far as it got
    parts = info["parts"]
    assert [(p["label"], p["round"], p["click"]) for p in parts] == [
        ("run", 1, True),
        ("walk", 1, False),
        ("run", 2, True),
        ("walk", 2, False),
    ]
    assert parts[0]["spm"] == 159.0  # the ramp's start; the walk holds where the run ended:
    assert parts[0]["spm"] < parts[1]["spm"] <= parts[2]["spm"] <= 165.0
    assert [p["end_s"] for p in parts[:-1]] == [p["start_s"] for p in parts[1:]]
    assert parts[-1]["end_s"] == pytest.approx(info["duration_s"], abs=1e-3)


def test_a_session_rendered_into_the_folder_is_not_played_as_a_song(folder, runner, tmp_path):
    import shutil

    music = tmp_path / "music"
    shutil.copytree(folder, music)
    cache = tmp_path / "c.sqlite"
    first = play(runner, 165, music, "-o", music / "run.mp3", "--cache", cache, "--duration", "30s")
    assert first.exit_code == 0, first.output
    again = play(runner, 165, music, "-o", tmp_path / "again.wav", "--cache", cache, "--json")
    assert again.exit_code == 0, again.output
    assert "run.mp3: left out: a session cadence rendered (play -o), not a song" in again.stderr
    played = {e["path"] for e in json.loads(again.stdout)["songs"]}
    assert played and str(music / "run.mp3") not in played


def test_a_ramp_that_ends_after_the_session_says_how_far_it_got(folder, runner, tmp_path):
    args = ["--ramp-from", "160", "--ramp-over", "10m", "--duration", "30s", "--click", "off"]
    result = play(runner, 165, folder, "-o", tmp_path / "r.wav", "--cache", tmp_path / "c", *args)
    assert result.exit_code == 0, result.output
    assert "0:30 at 160→160" in result.stderr and "at 165 spm" not in result.stderr


def test_a_session_too_long_for_a_wav_is_refused_before_rendering(folder, runner, tmp_path):
    out = tmp_path / "long.wav"
    result = play(runner, 165, folder, "-o", out, "--duration", "7h", "--cache", tmp_path / "c")
    assert result.exit_code == 2, result.output
    assert "a WAV file holds at most 4 GiB, 6.8 h at 44100 Hz" in result.output
    assert "write .flac instead" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


def test_the_songs_of_one_folder_are_listed_by_name_under_it(folder, runner, tmp_path):
    result = play(runner, 165, folder, "-o", tmp_path / "o.flac", "--cache", tmp_path / "c")
    assert result.exit_code == 0, result.output
    assert f"Songs in {folder}:\n" in result.stdout
    assert "one.flac" in result.stdout and f"{folder}/one.flac" not in result.stdout


def test_a_song_whose_beats_leave_the_grid_is_marked_in_the_table(runner, tmp_path):
    # 20 s at 156 BPM, then 20 s at 166: one grid cannot hold both.
    first = 0.25 + np.arange(52) * 60 / 156
    second = first[-1] + 60 / 156 + np.arange(55) * 60 / 166
    changing = write(
        tmp_path / "change.flac", drums_on_beats(np.concatenate([first, second]), seconds=41.0)
    )
    result = play(runner, 161, changing, "-o", tmp_path / "run.wav", "--no-cache")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "change.flac" in line)
    assert "~" in row
    assert "~ beats off a steady grid" in result.stdout


def test_a_cut_song_given_as_a_file_is_played_with_the_note_that_it_is_cut(runner, tmp_path):
    beats = 0.25 + np.arange(80) * 60 / 160
    cut = write(tmp_path / "cut.wav", drums_on_beats(beats, seconds=30.25))
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])  # the header says 30 s
    result = play(runner, 165, cut, "-o", tmp_path / "run.wav", "--no-cache")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("file ends early") == 1


@pytest.mark.parametrize(
    ("missing", "says"),
    [
        (["nosuchfolder"], "the one file given could not be used"),
        (["nosuch1", "nosuch2.mp3"], "none of the 2 files could be used"),
    ],
)
def test_sources_none_of_which_can_be_used_are_each_named_then_counted(
    runner, tmp_path, missing, says
):
    result = play(runner, 160, *(tmp_path / m for m in missing), "-o", tmp_path / "z.wav")
    assert result.exit_code == 1
    for m in missing:  # a source may have been meant as a folder
        assert f"{m}: left out: no such file or folder" in result.stderr
    assert f"Error: no song to play at 160 spm: {says} (each one's reason is above)" in (
        result.stderr
    )
    assert not (tmp_path / "z.wav").exists()


def test_songs_beyond_the_stretch_are_counted_of_the_folders_given(folder, runner, tmp_path):
    other = tmp_path / "more"
    other.mkdir()
    beats = 0.3 + np.arange(40) * 60 / 100.0
    write(other / "walk.flac", drums_on_beats(beats, seconds=25.0))  # 100 BPM: too far from 165
    out = tmp_path / "run.mp3"
    result = play(runner, 165, folder, other, "-o", out, "--cache", tmp_path / "c.sqlite")
    assert result.exit_code == 0, result.output
    assert "Left out, beyond --max-stretch 8 %: 2 songs of the folders." in result.output


@pytest.mark.parametrize("command", [["play", "165"], ["scan", "--target", "165"]])
def test_jobs_beyond_the_limit_is_refused_before_any_worker_starts(runner, tmp_path, command):
    # play had no upper limit: --jobs 100000 forked until the kernel killed it.
    result = runner.invoke(main, [*command, str(tmp_path), "--jobs", "100000"])
    assert result.exit_code == 2
    assert "100000 is not in the range 1<=x<=64" in result.output


def test_the_default_jobs_are_the_cpus_the_process_may_use(subprocess_env):
    # Under taskset (or a container's CPU limit) os.cpu_count() is still every CPU.
    script = "from cadence.cli import default_jobs; print(default_jobs())"
    done = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=subprocess_env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


def test_the_default_jobs_stay_within_the_limit_on_a_big_machine(monkeypatch):
    from cadence.cli import MAX_JOBS, default_jobs

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(128)))
    assert default_jobs() == MAX_JOBS == 64
