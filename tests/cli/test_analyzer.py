"""`cadence bpm` and `cadence scan` on real music folders: formats, odd names, links,
owners, read-only places, tags, the cache, interruptions, playlists and plots."""

import csv
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time

import numpy as np
import pytest
import soundfile as sf

from cadence.analysis import analyze_file
from cadence.cache import TrackCache
from cadence.cli import main
from cadence.tags import bpm_tag_value, read_tags
from tests.conftest import REPO
from tests.music import copy_bytes, groove, write


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_scan_finds_every_track_and_matches_the_target(library, runner, tmp_path):
    root, tempos = library
    cache = tmp_path / "cache.sqlite3"
    result = runner.invoke(
        main,
        [
            "scan",
            str(root),
            "--target",
            "172",
            "--format",
            "json",
            "--cache",
            str(cache),
            "-j",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by_name = {os.path.relpath(t["path"], root): t for t in data}
    assert set(by_name) == set(tempos)
    for name, bpm in tempos.items():
        t = by_name[name]
        assert t["error"] is None
        # 170 and 85 are the same pulse at two metrical levels; what the runner
        # needs is that the track is found for 172 spm, at the right step tempo.
        assert any(t["bpm"] == pytest.approx(bpm * f, abs=1.0) for f in (1, 0.5, 2)), name
    for name in ("phone.m4a", "Album one/fast run.mp3", "Album one/deep/half time.ogg"):
        assert by_name[name]["match_factor"] in (1, 2), name
        assert by_name[name]["step_bpm"] == pytest.approx(
            tempos[name] * (2 if tempos[name] < 100 else 1), abs=1.0
        )
    assert by_name["steady.flac"]["match_factor"] is None
    assert by_name["steady.flac"]["bpm"] == pytest.approx(128, abs=1.0)
    assert by_name["Ünïcode – naïve.wav"]["bpm"] == pytest.approx(100, abs=1.0)
    for key in ("path", "bpm", "confidence", "match_factor", "step_bpm", "analysed_s", "error"):
        assert all(key in t for t in data)
    # As long as the file is, as bpm and beats say (the demo-length songs are read whole).
    assert by_name["steady.flac"]["analysed_s"] == pytest.approx(
        by_name["steady.flac"]["duration_s"], abs=0.05
    )


@pytest.fixture
def messy(tmp_path):
    """Good tracks among bad ones, odd names, a symlink loop; nothing may change."""
    root = tmp_path / "messy"
    root.mkdir()
    write(root / "good.wav", groove(172, 15))
    write(root / "also good.flac", groove(86, 15, seed=2))
    (root / "empty.mp3").write_bytes(b"")
    (root / "not audio.ogg").write_text("hello")
    (root / "readme.txt").write_text("not scanned")
    (root / ".hidden.mp3").write_bytes(b"junk")
    write(root / os.fsdecode(b"bad-\xff\xfename.wav"), groove(120, 12))
    (root / "loop").mkdir()
    os.symlink("..", root / "loop" / "up")
    os.symlink("nowhere.mp3", root / "dangling.mp3")
    hashes = {p: _sha(p) for p in root.rglob("*") if p.is_file() and not p.is_symlink()}
    return root, hashes


def test_scan_of_a_messy_folder_reports_each_problem_and_changes_nothing(messy, runner, tmp_path):
    root, hashes = messy
    result = runner.invoke(
        main,
        ["scan", str(root), "--target", "172", "--no-cache", "--all", "-j", "1"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "empty.mp3: empty file" in out
    assert "not audio.ogg: cannot decode audio" in out
    assert "symlink loop" in out
    assert "dangling.mp3: broken symlink" in out
    assert "bad-\ufffd\ufffdname.wav" in out
    assert "Scanned 6 tracks" in out  # the broken symlink is listed, as an error
    assert "good.wav" in out
    assert "Traceback" not in out
    assert {p: _sha(p) for p in hashes} == hashes


def test_missing_folder_is_an_error(runner, tmp_path):
    result = runner.invoke(main, ["scan", str(tmp_path / "nope"), "--target", "172", "--no-cache"])
    assert result.exit_code == 1
    assert "no such folder" in result.output


def test_playlist_is_utf8_m3u8_ordered_by_tempo(library, runner, tmp_path):
    root, _ = library
    playlist = tmp_path / "run.m3u8"
    result = runner.invoke(
        main,
        [
            "scan",
            str(root),
            "--target",
            "172",
            "--tolerance",
            "5",
            "--no-cache",
            "--playlist",
            str(playlist),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = playlist.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    entries = lines[2::2]
    assert len(entries) == 3
    for entry in entries:
        assert (playlist.parent / entry).resolve().exists()
    tempos = [float(line.rsplit("[", 1)[1].split()[0]) for line in lines[1::2]]
    steps = [t * (2 if t < 120 else 1) for t in tempos]
    assert steps == sorted(steps)


def test_csv_and_table_outputs(library, runner):
    root, tempos = library
    result = runner.invoke(
        main, ["scan", str(root), "--target", "172", "--no-cache", "--format", "csv", "-q"]
    )
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("path,bpm,confidence,stability,match_factor,step_bpm")
    assert len(lines) == 1 + len(tempos)
    rows = list(csv.DictReader(lines))
    phone = next(r for r in rows if r["path"].endswith("phone.m4a"))
    assert float(phone["grid_residual_median_ms"]) <= float(phone["grid_residual_p95_ms"]) < 30
    table = runner.invoke(main, ["scan", str(root), "--target", "172", "--no-cache", "-q"])
    for name in ("phone.m4a", "fast run.mp3", "half time.ogg"):
        assert name in table.output
    # The 86 BPM groove fits 172 either way: at half time, or (the beat-level
    # model reads straight eighths with a backbeat at 86 as 172) at one step a beat.
    assert "half time  " in table.output or "172.0  1 step/beat" in table.output
    assert "steady.flac" not in table.output  # does not fit; shown only with --all


def test_plot_writes_a_png(library, runner, tmp_path):
    root, _ = library
    png = tmp_path / "tempos.png"
    result = runner.invoke(
        main, ["scan", str(root), "--target", "172", "--no-cache", "-q", "--plot", str(png)]
    )
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_tags_only_when_asked_and_audio_untouched(tmp_path, runner):
    music = tmp_path / "tag me"
    music.mkdir()
    for ext in (".mp3", ".flac", ".ogg", ".m4a"):
        write(music / f"t{ext}", groove(166, 15))
    before = {p: _sha(p) for p in music.iterdir()}
    runner.invoke(main, ["scan", str(music), "--target", "166", "--no-cache", "-q"])
    assert {p: _sha(p) for p in music.iterdir()} == before
    result = runner.invoke(
        main, ["scan", str(music), "--target", "166", "--no-cache", "--write-tags"]
    )
    assert result.exit_code == 0, result.output
    assert "Wrote the BPM tag into 4 files" in result.output
    assert sorted(p.name for p in music.iterdir()) == ["t.flac", "t.m4a", "t.mp3", "t.ogg"]
    from cadence.tags import bpm_tag_value, read_tags

    for p in music.iterdir():
        measured = analyze_file(str(p))
        assert any(measured.bpm == pytest.approx(166 * f, abs=1) for f in (1, 0.5))
        assert read_tags(str(p))["tag_bpm"] == bpm_tag_value(measured.bpm)
    listed = runner.invoke(main, ["bpm", str(music / "t.flac"), "--json"])
    assert json.loads(listed.output)[0]["tag_bpm"] == bpm_tag_value(measured.bpm)


def test_bpm_command(tmp_path, runner):
    good = write(tmp_path / "good.ogg", groove(150, 20))
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"nope")
    result = runner.invoke(main, ["bpm", str(good), str(bad), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data[0]["bpm"] == pytest.approx(150, abs=1) and data[0]["error"] is None
    assert data[1]["bpm"] is None and "cannot decode" in data[1]["error"]
    table = runner.invoke(main, ["bpm", str(good)])
    assert table.exit_code == 0
    assert "150." in table.output


SLOW_TRACKS = 40


def _slow_library(tmp_path, n=SLOW_TRACKS):
    """n two-minute tracks: hard links to one file, so making them is instant and
    the scan runs long enough to be stopped even on a loaded machine."""
    root = tmp_path / "slow"
    root.mkdir()
    first = write(root / "track00.flac", groove(128, 120, sr=44100), sr=44100)
    for i in range(1, n):
        os.link(first, root / f"track{i:02d}.flac")
    return root


def _wait_until_cached(cache, n, timeout_s=120):
    """Poll the running scan's cache until it holds `n` tracks."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if cache.exists():
            with sqlite3.connect(cache) as db:
                try:
                    if db.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] >= n:
                        return
                except sqlite3.OperationalError:
                    pass  # the scan is creating the table


def test_scan_survives_kill_9_and_resumes(tmp_path, cadence_cmd, subprocess_env):
    root = _slow_library(tmp_path)
    cache = tmp_path / "cache.sqlite3"
    cmd = [
        *cadence_cmd,
        "scan",
        str(root),
        "--target",
        "172",
        "--cache",
        str(cache),
        "-j",
        "1",
        "-q",
    ]
    proc = subprocess.Popen(
        cmd, env=subprocess_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _wait_until_cached(cache, 3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(cache) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        done = db.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
    assert 3 <= done < SLOW_TRACKS
    again = subprocess.run(
        [*cmd[:-1], "--format", "json"], env=subprocess_env, capture_output=True, text=True
    )
    assert again.returncode == 0
    assert f"{SLOW_TRACKS - done} analysed, {done} from the cache" in again.stderr


def test_ctrl_c_stops_cleanly_and_keeps_results(tmp_path, cadence_cmd, subprocess_env):
    root = _slow_library(tmp_path)
    cache = tmp_path / "cache.sqlite3"
    cmd = [*cadence_cmd, "scan", str(root), "--target", "172", "--cache", str(cache), "-j", "2"]
    proc = subprocess.Popen(
        cmd, env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _wait_until_cached(cache, 2)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Interrupted: what was analysed is kept in the cache." in err
    assert "Traceback" not in err
    with sqlite3.connect(cache) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] >= 2


def test_ctrl_c_with_no_cache_does_not_claim_to_keep_anything(
    tmp_path, cadence_cmd, subprocess_env
):
    root = _slow_library(tmp_path)
    cmd = [*cadence_cmd, "scan", str(root), "--target", "172", "--no-cache", "-j", "2"]
    proc = subprocess.Popen(
        cmd, env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not _children(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # the workers start with the scan loop
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Interrupted: nothing is kept (--no-cache)." in err
    assert "kept in the cache" not in err


def _children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (from /proc)."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry))
    return kids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _scan_cmd(cadence_cmd, root, cache, *extra):
    return [*cadence_cmd, "scan", str(root), "--target", "172", "--cache", str(cache), *extra]


def test_ctrl_c_twice_stops_at_once_and_leaves_no_workers(tmp_path, cadence_cmd, subprocess_env):
    root = _slow_library(tmp_path)
    cache = tmp_path / "cache.sqlite3"
    playlist = tmp_path / "run.m3u8"
    playlist.write_text("#EXTM3U\nkept.mp3\n")
    proc = subprocess.Popen(
        _scan_cmd(cadence_cmd, root, cache, "-j", "2", "--playlist", str(playlist)),
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_until_cached(cache, 2)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)  # it used to hang here
    # 130 from the scan; 1 ("Aborted!") or death by SIGINT when the second
    # Ctrl-C arrives while the results print or the interpreter exits.
    assert proc.returncode in (130, 1, -signal.SIGINT), err
    assert "Traceback" not in err
    time.sleep(1)
    assert workers and not any(_alive(w) for w in workers)
    assert playlist.read_text() == "#EXTM3U\nkept.mp3\n"  # a partial list replaces nothing


def test_a_killed_worker_is_replaced_and_the_scan_finishes(tmp_path, cadence_cmd, subprocess_env):
    root = _slow_library(tmp_path, n=12)
    cache = tmp_path / "cache.sqlite3"
    proc = subprocess.Popen(
        _scan_cmd(cadence_cmd, root, cache, "-j", "2", "--format", "json"),
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_until_cached(cache, 2)
    os.kill(_children(proc.pid)[0], signal.SIGKILL)  # as the out-of-memory killer would
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    rows = json.loads(out)
    assert len(rows) == 12 and all(r["bpm"] == pytest.approx(128, abs=1) for r in rows)


def test_workers_end_with_a_scan_killed_with_kill_9(tmp_path, cadence_cmd, subprocess_env):
    root = _slow_library(tmp_path)
    cache = tmp_path / "cache.sqlite3"
    proc = subprocess.Popen(
        _scan_cmd(cadence_cmd, root, cache, "-j", "2", "-q"),
        env=subprocess_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_until_cached(cache, 2)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers and not any(_alive(w) for w in workers)


def test_damaged_cache_is_an_error_not_a_traceback(library, runner, tmp_path):
    root, _ = library
    cache = tmp_path / "cache.sqlite3"
    with sqlite3.connect(cache) as db:
        db.execute("CREATE TABLE tracks (id INTEGER, name TEXT)")  # another program's file
    result = runner.invoke(main, ["scan", str(root), "--target", "172", "--cache", str(cache)])
    assert result.exit_code == 1
    assert "damaged or not a cadence cache" in result.output and "--no-cache" in result.output


def test_progress_bar_on_a_terminal_stays_out_of_redirected_output(library, tmp_path, cadence_cmd):
    root, tempos = library
    out = tmp_path / "tracks.csv"
    command = " ".join([*cadence_cmd, "scan", f"'{root}'", "--target", "172", "--no-cache"])
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}
    subprocess.run(
        ["script", "-qec", f"{command} --format csv > '{out}'", "/dev/null"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(tempos) and rows[0]["path"]


def test_ctrl_c_outside_the_scan_loop_exits_130_without_a_traceback(
    library, runner, tmp_path, monkeypatch
):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(TrackCache, "load", interrupted)
    root, _ = library
    result = runner.invoke(
        main, ["scan", str(root), "--target", "172", "--cache", str(tmp_path / "c.sqlite3")]
    )
    assert result.exit_code == 130
    assert result.output == "Interrupted.\n"


@pytest.mark.parametrize(
    ("outputs", "said"),
    [
        (["--playlist", "run.m3u8"], "Playlist not written"),
        (["--playlist", "run.m3u8", "--plot", "t.png"], "Playlist and plot not written"),
    ],
)
def test_an_interrupted_scan_names_only_the_outputs_it_was_asked_for(
    library, runner, tmp_path, monkeypatch, outputs, said
):
    import cadence.library

    def interrupted(path, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cadence.library, "analyze_file", interrupted)
    monkeypatch.chdir(tmp_path)
    root, _ = library
    args = ["scan", str(root), "--target", "172", "--no-cache", "-j", "1", *outputs]
    result = runner.invoke(main, args)
    assert result.exit_code == 130
    assert f"{said}: the scan was interrupted." in result.stderr
    assert not (tmp_path / "run.m3u8").exists()


def test_an_interrupted_scans_verdict_is_of_the_tracks_it_reached(
    library, runner, tmp_path, monkeypatch
):
    import cadence.library

    real = cadence.library.analyze_file
    calls = []

    def stops_at_the_third(path, **kwargs):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(path, **kwargs)

    monkeypatch.setattr(cadence.library, "analyze_file", stops_at_the_third)
    root, _ = library
    args = ["scan", str(root), "--target", "100", "--no-cache", "-j", "1"]
    result = runner.invoke(main, args)
    assert result.exit_code == 130
    assert "(of the 2 scanned before the interruption)" in result.stdout


def test_a_scan_stopped_before_its_first_track_gives_no_verdict(library, runner, monkeypatch):
    import cadence.library

    def interrupted(path, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cadence.library, "analyze_file", interrupted)
    root, _ = library
    result = runner.invoke(main, ["scan", str(root), "--target", "100", "--no-cache", "-j", "1"])
    assert result.exit_code == 130
    assert "fit" not in result.stdout
    # Nor does the summary on stderr: "0 fit 100 ± 3 spm" of nothing read as a result.
    assert "Scanned 0 tracks" in result.stderr and "fit" not in result.stderr
    assert "Interrupted: nothing is kept (--no-cache)." in result.stderr


def test_all_lists_equal_fits_by_confidence_and_names_the_target_not_a_count(runner):
    from cadence.core.matching import TempoMatch, TrackFit, all_by_fit
    from cadence.core.tracks import TrackResult

    def fit(path, factor, off_spm, confidence):
        match = TempoMatch(factor, None, off_spm, None)
        return TrackFit(TrackResult(path, confidence=confidence), match)

    rows = [fit("a", 2, 0.0, 0.84), fit("b", None, 30.0, 0.99), fit("c", 2, 0.0, 0.89)]
    assert [f.track.path for f in all_by_fit(rows)] == ["c", "a", "b"]
    result = runner.invoke(main, ["scan", ".", "--target", "500"])
    assert result.exit_code == 2
    assert "target: 500 steps/min is outside the plausible human range" in result.output
    assert "count" not in result.output


def test_names_with_brackets_and_control_characters_print_literally(track, runner, tmp_path):
    music = tmp_path / "music"
    names = ["Song [remix].wav", "[b]bold.wav", "[/]closer.wav", "new\nline.wav", "esc\x1b[2J.wav"]
    for name in names:
        copy_bytes(track, music / name)
    playlist = tmp_path / "run.m3u8"
    scan = runner.invoke(
        main,
        [
            "scan",
            str(music),
            "--target",
            "166",
            "--no-cache",
            "-j",
            "1",
            "--playlist",
            str(playlist),
        ],
    )
    assert scan.exit_code == 0, scan.output
    for shown in ["Song [remix].wav", "[b]bold.wav", "[/]closer.wav", "new\\nline.wav"]:
        assert shown in scan.output
    assert "\x1b" not in scan.output
    assert "esc\\x1b[2J.wav" in scan.output
    entries = [line for line in playlist.read_text("utf-8").splitlines() if line[:1] != "#"]
    assert sorted(entries) == sorted(f"music/{n}" for n in names[:3] + names[4:])
    assert "1 track left out" in scan.output
    bpm = runner.invoke(main, ["bpm", str(music / "[/]closer.wav"), str(music / "new\nline.wav")])
    assert bpm.exit_code == 0, bpm.output
    assert "[/]closer.wav" in bpm.output and "new\\nline.wav" in bpm.output


def test_write_tags_keeps_links_and_owner_and_skips_what_is_tagged(track, runner, tmp_path):
    music, outside = tmp_path / "music", tmp_path / "outside"
    real = copy_bytes(track, outside / "real.wav")
    music.mkdir()
    os.symlink(real, music / "link.wav")
    hard = copy_bytes(track, music / "hard.wav")
    os.link(hard, outside / "hard-other.wav")
    owned = copy_bytes(track, music / "owned.wav")
    if os.getuid() == 0:  # as root (sudo), the file's owner must not become root
        os.chown(owned, 65534, 65534)
    owner = (owned.stat().st_uid, owned.stat().st_gid)
    cache = tmp_path / "cache.sqlite3"
    args = ["scan", str(music), "--target", "166", "--cache", str(cache), "--write-tags", "-j", "1"]

    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "Wrote the BPM tag into 2 files" in first.output
    assert "hard.wav: has 1 other hard link(s)" in first.output
    assert (music / "link.wav").is_symlink()
    assert read_tags(str(real))["tag_bpm"] in (83, 166)
    assert hard.stat().st_ino == (outside / "hard-other.wav").stat().st_ino
    assert read_tags(str(hard))["tag_bpm"] is None
    assert (owned.stat().st_uid, owned.stat().st_gid) == owner
    mtime = owned.stat().st_mtime_ns

    second = runner.invoke(main, [*args, "--format", "json"])
    assert "Wrote the BPM tag into 0 files (2 already had it)" in second.output
    assert owned.stat().st_mtime_ns == mtime
    assert "3 from the cache" in second.output  # the tagged files were not analysed again
    rows = {os.path.basename(r["path"]): r for r in json.loads(second.stdout)}
    assert rows["owned.wav"]["tag_bpm"] == bpm_tag_value(rows["owned.wav"]["bpm"])


def test_tag_write_that_cannot_start_is_one_warning_and_the_scan_prints(
    track, runner, tmp_path, monkeypatch
):
    copy_bytes(track, tmp_path / "music" / "t.wav")

    def refuse(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("cadence.files.tempfile.mkstemp", refuse)
    result = runner.invoke(
        main, ["scan", str(tmp_path / "music"), "--target", "166", "--no-cache", "--write-tags"]
    )
    assert result.exit_code == 0, result.output
    assert "t.wav: cannot write the BPM tag (Operation not permitted), left as it was" in (
        result.output
    )
    assert "half time" in result.output or "1 step/beat" in result.output
    assert list((tmp_path / "music").iterdir()) == [tmp_path / "music" / "t.wav"]


def test_folder_argument_that_is_not_a_folder_exits_1(track, runner, tmp_path):
    path = copy_bytes(track, tmp_path / "t.wav")
    result = runner.invoke(main, ["scan", str(path), "--target", "166"])
    assert result.exit_code == 1
    assert result.output == f"Error: {path}: not a folder\n"


def test_output_paths_are_checked_before_the_scan(track, runner, tmp_path):
    copy_bytes(track, tmp_path / "music" / "t.wav")
    for option, name in (("--playlist", "x.m3u8"), ("--plot", "x.out")):
        result = runner.invoke(
            main,
            ["scan", str(tmp_path / "music"), "--target", "166", option, f"/nonexistent/{name}"],
        )
        assert result.exit_code == 2
        assert "folder /nonexistent does not exist" in result.output
        assert "Scanned" not in result.output


def test_error_keeps_a_colon_in_the_file_name(runner, tmp_path):
    bad = tmp_path / "live: set.mp3"
    bad.write_bytes(b"not audio at all" * 100)
    result = runner.invoke(main, ["bpm", str(bad), "--json"])
    assert json.loads(result.output)[0]["error"].startswith("cannot decode audio")


def test_bpm_of_a_pipe_fails_at_once(tmp_path, cadence_cmd, subprocess_env):
    fifo = tmp_path / "fifo.mp3"
    os.mkfifo(fifo)
    done = subprocess.run(
        [*cadence_cmd, "bpm", str(fifo), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env,
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)[0]["error"] == "not a regular file (a pipe, device or socket)"


def test_bpm_json_is_utf8_for_names_that_are_not(track, runner, tmp_path):
    path = copy_bytes(track, tmp_path / os.fsdecode(b"caf\xe9.wav"))
    result = runner.invoke(main, ["bpm", str(path), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout_bytes.decode("utf-8"))[0]["path"].endswith("caf\ufffd.wav")


def test_truncated_flac_is_used_and_reported(track, runner, tmp_path):

    audio, sr = sf.read(copy_bytes(track, tmp_path / "t.wav"))
    (tmp_path / "music").mkdir()
    whole = write(tmp_path / "music" / "whole.flac", audio, sr=sr)
    cut = tmp_path / "music" / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    result = runner.invoke(
        main, ["scan", str(tmp_path / "music"), "--target", "166", "--no-cache", "--format", "json"]
    )
    assert result.exit_code == 0
    assert "cut.flac: decoding stopped at" in result.stderr
    rows = {os.path.basename(r["path"]): r for r in json.loads(result.stdout)}
    assert rows["cut.flac"]["bpm"] is not None and "decoding stopped" in rows["cut.flac"]["note"]
    assert rows["whole.flac"]["note"] is None


def test_problems_are_listed_even_when_quiet(runner, tmp_path):
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "empty.mp3").write_bytes(b"")
    result = runner.invoke(main, ["scan", str(tmp_path / "music"), "--target", "166", "-q"])
    assert result.exit_code == 0
    assert "empty.mp3: empty file" in result.stderr
    assert "Scanned" not in result.stderr


def test_cache_is_shared_by_every_spelling_of_the_folder(track, runner, tmp_path, monkeypatch):
    copy_bytes(track, tmp_path / "music" / "a" / "t.wav")
    cache = str(tmp_path / "cache.sqlite3")
    monkeypatch.chdir(tmp_path)
    spellings = ["music", "./music/", str(tmp_path / "music"), "music/a/.."]
    outputs = [
        runner.invoke(main, ["scan", s, "--target", "166", "--cache", cache]).output
        for s in spellings
    ]
    assert "1 analysed, 0 from the cache" in outputs[0]
    for out in outputs[1:]:
        assert "0 analysed, 1 from the cache" in out


def test_a_folder_linked_inside_the_library_is_listed_once_under_its_own_path(
    track, runner, tmp_path
):
    music = tmp_path / "music"
    copy_bytes(track, music / "b" / "t.wav")
    (music / "a").mkdir()
    os.symlink("../b", music / "a" / "to-b")
    os.symlink("..", music / "b" / "up")
    result = runner.invoke(
        main, ["scan", str(music), "--target", "166", "--no-cache", "--format", "json"]
    )
    assert [r["path"] for r in json.loads(result.stdout)] == [str(music / "b" / "t.wav")]
    assert "b/up: symlink loop: not followed" in result.stderr
    assert "to-b" not in result.stderr


def test_bpm_measures_the_good_files_past_missing_and_folder_arguments(track, runner, tmp_path):
    good = copy_bytes(track, tmp_path / "good.wav")
    (tmp_path / "folder.mp3").mkdir()
    args = ["bpm", str(tmp_path / "missing.mp3"), str(tmp_path / "folder.mp3"), str(good)]
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 1, result.output
    missing, folder, measured = json.loads(result.output)
    assert missing["error"] == "no such file"
    assert folder["error"] == "a folder, not a file (cadence scan reads folders)"
    assert measured["error"] is None
    assert min(abs(measured["bpm"] - 166), abs(2 * measured["bpm"] - 166)) < 1  # 166 or 83
    # Every entry has the same keys, whether it failed or not.
    assert set(missing) == set(folder) <= set(measured)
    assert {"title", "artist", "tag_bpm"} <= set(missing)


@pytest.mark.parametrize("command", ["bpm", "beats"])
def test_a_file_with_no_tempo_shows_no_confidence_in_the_table(track, runner, tmp_path, command):
    good = copy_bytes(track, tmp_path / "good.wav")
    silence = write(tmp_path / "silence.wav", np.zeros(10 * 22050))
    result = runner.invoke(main, [command, str(tmp_path / "missing.mp3"), str(silence), str(good)])
    header, missing, quiet, measured = result.output.splitlines()[:4]
    at = header.index("Conf")
    cells = [row[at : at + 4].strip() for row in (missing, quiet, measured)]
    assert cells[:2] == ["—", "—"]  # not a measured 0.00
    assert 0 < float(cells[2]) <= 1


def test_no_beat_says_whether_it_is_silence_or_too_short(runner, tmp_path):

    silence = write(tmp_path / "silence.wav", np.zeros(10 * 22050))
    short = write(tmp_path / "short.wav", groove(150, 2))
    result = runner.invoke(main, ["bpm", str(silence), str(short), "--json"])
    assert result.exit_code == 0, result.output
    quiet, brief = json.loads(result.output)
    assert (quiet["bpm"], quiet["note"]) == (None, "silence: no beat")
    assert brief["bpm"] is None
    assert brief["note"] == "too short to measure (2.0 s of audio; needs 3 s)"


def test_playlist_lists_a_symlinked_track_under_its_own_name(track, runner, tmp_path):
    music = tmp_path / "music"
    copy_bytes(track, music / "a.wav")
    os.symlink("a.wav", music / "b.wav")
    playlist = tmp_path / "lists" / "run.m3u8"
    playlist.parent.mkdir()
    args = ["scan", str(music), "--target", "166", "--no-cache", "-j", "1"]
    result = runner.invoke(main, [*args, "--playlist", str(playlist)])
    assert result.exit_code == 0, result.output
    entries = [line for line in playlist.read_text("utf-8").splitlines() if line[:1] != "#"]
    assert sorted(entries) == ["../music/a.wav", "../music/b.wav"]


def test_playlist_left_out_warning_shows_even_with_quiet(track, runner, tmp_path):
    music = tmp_path / "music"
    copy_bytes(track, music / "new\nline.wav")
    copy_bytes(track, music / "fine.wav")
    playlist = tmp_path / "run.m3u8"
    args = ["scan", str(music), "--target", "166", "--no-cache", "-j", "1", "-q"]
    result = runner.invoke(main, [*args, "--playlist", str(playlist)])
    assert result.exit_code == 0, result.output
    assert "warning: playlist: 1 track left out (names not UTF-8 or with line breaks)" in (
        result.output
    )


@pytest.mark.parametrize("name", ["run.txt", "run", "run.m3u8.bak"])
def test_a_playlist_named_as_no_player_would_open_it_is_refused_before_the_scan(
    library, runner, tmp_path, name
):
    root, _ = library
    result = runner.invoke(
        main,
        ["scan", str(root), "--target", "172", "--no-cache", "--playlist", str(tmp_path / name)],
    )
    assert result.exit_code == 2
    assert result.output == (
        f"Error: playlist: {tmp_path / name}: a playlist is written as .m3u8;"
        " give a name such as run.m3u8\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_playlist_or_plot_never_replaces_a_song_without_force(library, runner, tmp_path):
    root, _ = library
    song = tmp_path / "keep.mp3"
    song.write_bytes((root / "Album one" / "fast run.mp3").read_bytes())
    before = _sha(song)
    for option in ("--playlist", "--plot"):
        result = runner.invoke(
            main, ["scan", str(root), "--target", "172", "--no-cache", option, str(song)]
        )
        assert result.exit_code == 2, result.output
        assert "Scanned" not in result.output  # refused before the scan, not after
        assert _sha(song) == before
    # A song's name is refused as a playlist's first: no "--force" advice that
    # --force would then not honour.
    named = runner.invoke(
        main, ["scan", str(root), "--target", "172", "--no-cache", "--playlist", str(song)]
    )
    assert "a playlist is written as .m3u8" in named.stderr and "--force" not in named.stderr
    # --force does not make a song's name a playlist's: still refused, by the name.
    forced = runner.invoke(
        main,
        ["scan", str(root), "--target", "172", "--no-cache", "--playlist", str(song), "--force"],
    )
    assert forced.exit_code == 2 and "is written as .m3u8" in forced.stderr
    assert _sha(song) == before
    # A file with a playlist's name that is not one is replaced with --force only.
    odd = tmp_path / "old.m3u8"
    odd.write_bytes(song.read_bytes())
    args = ["scan", str(root), "--target", "172", "--no-cache", "--playlist", str(odd)]
    kept = runner.invoke(main, args)
    assert kept.exit_code == 2 and _sha(odd) == before
    assert "exists and is not a playlist; it is left as it is" in kept.stderr
    forced = runner.invoke(main, [*args, "--force"])
    assert forced.exit_code == 0 and odd.read_text().startswith("#EXTM3U")


def test_a_plot_the_format_of_which_cannot_be_drawn_is_refused_before_the_scan(
    library, runner, tmp_path
):
    root, _ = library
    result = runner.invoke(
        main, ["scan", str(root), "--target", "172", "--plot", str(tmp_path / "x.txt")]
    )
    assert result.exit_code == 2
    assert "cannot draw a .txt file" in result.stderr and "Scanned" not in result.output


def test_nothing_fits_keeps_the_old_playlist_and_points_to_the_nearest(library, runner, tmp_path):
    root, _ = library
    playlist = tmp_path / "run.m3u8"
    playlist.write_text("#EXTM3U\n#EXTINF:1,kept\nkept.mp3\n")
    result = runner.invoke(
        main, ["scan", str(root), "--target", "240", "--no-cache", "--playlist", str(playlist)]
    )
    assert result.exit_code == 0, result.output
    assert "No tracks fit 240 ± 3 spm. The nearest is" in result.stdout
    assert "--all lists every track" in result.stdout
    assert "Playlist not written: no track fits" in result.stderr
    assert playlist.read_text() == "#EXTM3U\n#EXTINF:1,kept\nkept.mp3\n"


def test_write_tags_skips_guesses_and_a_second_run_changes_no_byte(track, runner, tmp_path):
    music = tmp_path / "music"
    copy_bytes(track, music / "sure.wav")
    write(music / "clip.wav", groove(166, 5))  # 5 s: a guess, confidence well under 0.5
    scan = ["scan", str(music), "--target", "166", "--no-cache", "-j", "1", "--write-tags"]
    first = runner.invoke(main, scan)
    assert first.exit_code == 0, first.output
    assert "Wrote the BPM tag into 1 file (1 left untagged: too unsure of the tempo)." in (
        first.stderr
    )
    assert read_tags(str(music / "clip.wav"))["tag_bpm"] is None
    assert read_tags(str(music / "sure.wav"))["tag_bpm"] is not None
    before = {p.name: (_sha(p), p.stat().st_mtime_ns) for p in music.iterdir()}
    second = runner.invoke(main, scan)
    assert second.exit_code == 0, second.output
    assert {p.name: (_sha(p), p.stat().st_mtime_ns) for p in music.iterdir()} == before
    assert "(1 already had it; 1 left untagged" in second.stderr
    stated = runner.invoke(main, [*scan, "--min-confidence", "0.01"])
    assert read_tags(str(music / "clip.wav"))["tag_bpm"] is not None, stated.output


def test_min_confidence_keeps_unsure_tracks_out_of_the_fit_and_the_playlist(
    library, runner, tmp_path
):
    root, _ = library
    playlist = tmp_path / "p.m3u8"
    args = ["scan", str(root), "--target", "172", "--no-cache", "--playlist", str(playlist)]
    result = runner.invoke(main, [*args, "--min-confidence", "1", "--all"])
    assert result.exit_code == 0, result.output
    assert "unsure" in result.stdout and "more would, with a confidence under 1." in result.stderr
    assert not playlist.exists()  # nothing fits for sure: no playlist written
    bad = runner.invoke(main, [*args, "--min-confidence", "2"])
    assert bad.exit_code == 2 and "min-confidence: must be from 0 to 1, got 2.0" in bad.stderr


def test_a_broken_file_is_decoded_and_reported_once_until_it_changes(track, runner, tmp_path):
    music = tmp_path / "music"
    copy_bytes(track, music / "good.wav")
    broken = music / "broken.mp3"
    broken.write_bytes(b"not audio at all" * 100)
    scan = ["scan", str(music), "--target", "166", "--cache", str(tmp_path / "c.db"), "-j", "1"]
    first = runner.invoke(main, scan)
    assert "warning: " in first.stderr and "broken.mp3: cannot decode audio" in first.stderr
    again = runner.invoke(main, scan)
    assert again.exit_code == 0, again.output
    assert "warning" not in again.stderr
    assert "(0 analysed, 2 from the cache, 0 problems, 1 known from earlier scans)" in again.stderr
    broken.write_bytes(b"still not audio, but changed" * 100)
    changed = runner.invoke(main, scan)
    assert "1 analysed" in changed.stderr and "broken.mp3: cannot decode audio" in changed.stderr


def test_a_cache_in_a_missing_folder_is_refused_not_created(library, runner, tmp_path):
    root, _ = library
    cache = tmp_path / "no" / "such" / "c.db"
    result = runner.invoke(main, ["scan", str(root), "--target", "172", "--cache", str(cache)])
    assert result.exit_code == 2
    assert f"cache: {cache}: folder {cache.parent} does not exist" in result.stderr
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("columns", [80, 60, 40])
def test_the_track_name_keeps_room_on_a_narrow_terminal(library, cadence_cmd, columns):
    from tests.tty import lines_at_width

    root, tempos = library
    lines = lines_at_width(
        [*cadence_cmd, "scan", root, "--target", "172", "--no-cache", "-q"], columns
    )
    assert any("Steps/min" in line for line in lines), lines
    assert all(len(line) <= columns for line in lines), lines
    assert not any(line.endswith(" ") for line in lines), lines
    # Squeezed to 7 columns, the names were cut in the middle of their words.
    listed = [n for n, bpm in tempos.items() if min(abs(bpm - 172), abs(2 * bpm - 172)) <= 3]
    words = {w for name in listed for w in name.split() if len(w) <= 16}
    assert all(any(w in line for line in lines) for w in words), (words, lines)


def test_libmpg123_says_nothing_on_the_terminal(tmp_path, cadence_cmd, subprocess_env):
    song = (REPO / "audio" / "sunrise-run.mp3").read_bytes()
    broken = tmp_path / "holes.mp3"  # frames cut out: libmpg123 notes each resync
    broken.write_bytes(song[:4000] + song[9000:9300] + song[20000:])
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(song[:5000])
    done = subprocess.run(
        [*cadence_cmd, "bpm", str(broken), str(cut)],
        capture_output=True,
        text=True,
        env=subprocess_env,
        timeout=120,
    )
    assert done.stderr == "", done.stderr  # it printed 'Note: Illegal Audio-MPEG-Header ...'
    assert "holes.mp3" in done.stdout and "cut.mp3" in done.stdout


def test_a_metronome_rendered_into_the_folder_stays_out_of_the_playlist(track, runner, tmp_path):
    music = tmp_path / "music"
    copy_bytes(track, music / "song.wav")
    click = music / "click166.wav"
    rendered = runner.invoke(main, ["metronome", "166", "--duration", "20s", "-o", str(click)])
    assert rendered.exit_code == 0, rendered.output
    playlist = tmp_path / "run.m3u8"
    args = ["scan", str(music), "--target", "166", "--no-cache", "-j", "1", "--format", "json"]
    result = runner.invoke(main, [*args, "--playlist", str(playlist)])
    assert result.exit_code == 0, result.output
    # Measured like any file, it fits its own cadence; but a playlist is of songs.
    fits = {os.path.basename(t["path"]) for t in json.loads(result.stdout) if t["match_factor"]}
    assert fits == {"song.wav", "click166.wav"}
    entries = [line for line in playlist.read_text("utf-8").splitlines() if line[:1] != "#"]
    assert entries == ["music/song.wav"]
    assert "click166.wav left out (a metronome cadence rendered, not a song)" in result.stderr


@pytest.mark.parametrize(("columns", "shown"), [(100, True), (50, False)])
def test_the_progress_display_drops_its_rate_and_elapsed_time_on_a_narrow_terminal(
    monkeypatch, columns, shown
):
    from rich.progress import TimeElapsedColumn, TimeRemainingColumn

    from cadence.cli.output import ProgressDisplay

    monkeypatch.setenv("COLUMNS", str(columns))
    display = ProgressDisplay("Analysing", enabled=True, rate_unit="files")
    with display:
        kinds = [type(c) for c in display._progress.columns]
        display.update(3, 10)
    assert TimeRemainingColumn in kinds
    assert (TimeElapsedColumn in kinds) is shown
