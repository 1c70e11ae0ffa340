"""Permissions as a user who is not root meets them (root reads and writes everything).

Each command runs as the unprivileged user `nobody` through `setpriv`, on
files in a folder that user can enter; run without root, the tests run the
commands as the current user, for whom permissions apply as they are.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.music import copy_bytes, groove, write

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")

NOBODY = 65534


def _as_user(args, *, env):
    prefix = []
    if os.geteuid() == 0:
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run([*prefix, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def place(subprocess_env):
    """A folder the unprivileged user can enter, with a user-writable HOME inside."""
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to test permissions as root")
    folder = Path(tempfile.mkdtemp(prefix="cadence-perm-"))
    folder.chmod(0o755)
    home = folder / "home"
    home.mkdir()
    if os.geteuid() == 0:
        os.chown(home, NOBODY, NOBODY)
    env = {**subprocess_env, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    env.pop("NUMBA_CACHE_DIR", None)
    yield folder, env
    for path in folder.rglob("*"):  # let the clean-up into folders made read-only
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder)


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    return write(tmp_path_factory.mktemp("src") / "s.wav", groove(166, 15)).read_bytes()


def _cadence(*args):
    return [sys.executable, "-m", "cadence", *args]


def test_bpm_measures_the_readable_files_past_an_unreadable_one(place, song):
    folder, env = place
    good = copy_bytes(song, folder / "good.wav")
    locked = copy_bytes(song, folder / "locked.wav")
    locked.chmod(0)
    result = _as_user(_cadence("bpm", str(good), str(locked), "--json"), env=env)
    assert result.returncode == 1, result.stderr
    rows = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert rows["good.wav"]["error"] is None
    assert any(rows["good.wav"]["bpm"] == pytest.approx(166 * f, abs=1) for f in (1, 0.5))
    assert rows["locked.wav"]["error"] == "cannot read (permission denied)"


def test_a_file_in_a_folder_that_cannot_be_entered_is_denied_not_missing(place, song):
    # It was "no such file": the folder may be read but not searched.
    folder, env = place
    locked = folder / "locked"
    locked.mkdir()
    inside = copy_bytes(song, locked / "s.wav")
    locked.chmod(0o644)
    result = _as_user(_cadence("bpm", str(inside), "--json"), env=env)
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)[0]["error"] == (
        "cannot read (permission denied: a folder on its path cannot be entered)"
    )


def test_a_link_to_a_file_in_a_folder_that_cannot_be_entered_is_denied_not_broken(place, song):
    # It was "broken symlink": the target is there, behind a folder that may not be searched.
    folder, env = place
    locked = folder / "locked"
    locked.mkdir()
    copy_bytes(song, locked / "s.wav")
    link = folder / "link.wav"
    link.symlink_to(locked / "s.wav")
    locked.chmod(0o644)
    result = _as_user(_cadence("bpm", str(link), "--json"), env=env)
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)[0]["error"] == (
        "cannot read (permission denied: a folder on its link's path cannot be entered)"
    )


def test_a_scan_reports_an_unreadable_file_and_measures_it_once_it_can(place, song):
    folder, env = place
    music = folder / "music"
    music.mkdir()
    copy_bytes(song, music / "a.wav")
    locked = copy_bytes(song, music / "b.wav")
    locked.chmod(0)
    cache = folder / "cache.sqlite3"
    scan = _cadence("scan", str(music), "--target", "166", "--cache", str(cache), "-j", "1")
    if os.geteuid() == 0:
        cache.touch()
        os.chown(cache, NOBODY, NOBODY)
        os.chown(folder, NOBODY, NOBODY)  # SQLite writes its journal beside the cache
    first = _as_user(scan, env=env)
    assert first.returncode == 0, first.stderr
    assert "b.wav: cannot read (permission denied)" in first.stderr
    locked.chmod(0o644)
    second = _as_user(scan, env=env)
    assert "(1 analysed, 1 from the cache" in second.stderr, second.stderr  # not cached as broken


def test_outputs_in_a_read_only_folder_are_refused_before_the_work_naming_the_users_path(
    place, song
):
    folder, env = place
    music = folder / "music"
    music.mkdir()
    copy_bytes(song, music / "a.wav")
    out = folder / "out"
    out.mkdir(mode=0o555)
    out.chmod(0o555)
    playlist = out / "run.m3u8"
    scan = _as_user(
        _cadence("scan", str(music), "--target", "166", "--no-cache", "--playlist", str(playlist)),
        env=env,
    )
    assert scan.returncode == 2
    assert f"Error: playlist: {playlist}: folder {out} is not writable" in scan.stderr
    render = _as_user(
        _cadence("metronome", "170", "--beats", "4", "-o", str(out / "b.wav")), env=env
    )
    assert render.returncode == 2, render.stderr
    assert f"Error: output: {out / 'b.wav'}: folder {out} is not writable" in render.stderr
    assert list(out.iterdir()) == []


def test_write_tags_in_a_read_only_folder_is_one_warning_a_file_and_the_list_prints(place, song):
    folder, env = place
    music = folder / "music"
    music.mkdir()
    track = copy_bytes(song, music / "a.wav")
    track.chmod(0o666)
    music.chmod(0o555)  # the file may be written, the folder may not (no temporary)
    before = track.read_bytes()
    result = _as_user(
        _cadence("scan", str(music), "--target", "166", "--no-cache", "--write-tags"), env=env
    )
    assert result.returncode == 0, result.stderr
    assert "a.wav: cannot write the BPM tag (Permission denied), left as it was" in result.stderr
    assert "a.wav" in result.stdout
    assert track.read_bytes() == before
    assert stat.S_IMODE(music.stat().st_mode) == 0o555


def test_a_render_made_read_only_by_its_owner_is_kept_unless_forced(place):
    folder, env = place
    work = folder / "work"
    work.mkdir()
    if os.geteuid() == 0:
        os.chown(work, NOBODY, NOBODY)
    out = work / "keep.wav"
    first = _as_user(_cadence("metronome", "170", "--beats", "4", "-o", str(out)), env=env)
    assert first.returncode == 0, first.stderr
    out.chmod(0o444)  # the runner's own "keep this one"
    before = out.read_bytes()
    again = _as_user(_cadence("metronome", "180", "--beats", "8", "-o", str(out)), env=env)
    assert again.returncode == 2, again.stderr
    assert f"Error: output: {out} is read-only; it is left as it is" in again.stderr
    assert out.read_bytes() == before
    forced = _as_user(
        _cadence("metronome", "180", "--beats", "8", "-o", str(out), "--force"), env=env
    )
    assert forced.returncode == 0, forced.stderr
    assert out.read_bytes() != before and stat.S_IMODE(out.stat().st_mode) == 0o444
