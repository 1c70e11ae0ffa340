"""Faults injected for real: a full disk, pipes and devices as inputs, signals at random moments.

The full disk is a small tmpfs, which needs root to mount; without root those
tests are skipped, saying why. Read-only folders and unreadable files are in
tests/test_permissions.py (run as an unprivileged user).
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cadence.cli import main
from cadence.files import TEMP_MARK
from cadence.tags import read_tags
from tests.music import copy_bytes, groove, write

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="tmpfs and signals: Linux")


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB file system of its own (tmpfs), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs (the full disk) needs root; run the suite as root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> None:
    """Take every free block of `disk`."""
    with open(disk / "filler", "wb") as fh:
        try:
            while True:
                fh.write(bytes(65536))
                fh.flush()
        except OSError:
            pass


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if TEMP_MARK in p.name)


@pytest.mark.parametrize("ext", [".flac", ".mp3"])  # libsndfile's writer, and LAME's
def test_a_render_onto_a_full_disk_says_so_and_leaves_nothing(small_disk, runner, ext):
    out = small_disk / f"run{ext}"
    result = runner.invoke(main, ["metronome", "170", "--duration", "10m", "-o", str(out)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {out}: cannot write (the disk is full)\n"
    assert list(small_disk.iterdir()) == []


def test_a_cache_on_a_full_disk_is_said_to_be_on_a_full_disk(small_disk, runner, library):
    root, _ = library
    _fill(small_disk)
    cache = small_disk / "c.db"
    result = runner.invoke(main, ["scan", str(root), "--target", "172", "--cache", str(cache)])
    assert result.exit_code == 1
    assert f"cache {cache}: cannot open (the disk is full); try --no-cache" in result.stderr
    assert "damaged" not in result.stderr


def test_a_disk_that_fills_during_a_scan_stops_the_cache_not_the_scan(small_disk, library):
    from cadence.cache import TrackCache
    from cadence.library import scan_library

    root, tempos = library
    problems = []
    with TrackCache(small_disk / "c.db", analyzer_version="t") as cache:
        _fill(small_disk)  # after the cache is open: the first results no longer fit
        result = scan_library(str(root), cache=cache, on_problem=lambda p, r: problems.append(r))
    assert len(result.tracks) == len(tempos) and all(t.bpm for t in result.tracks)
    assert [r for r in problems if "cache" in r or "disk" in r] == [
        "cannot write (the disk is full): the rest of this scan is not cached"
    ]
    assert not result.cached_kept


@pytest.mark.parametrize(
    "args",
    [
        ["calc", "--spm", "160"],  # click's echo
        ["plan", "--current", "150"],  # a rich table
        ["plan", "--current", "150", "--json"],
        ["bpm", "--json", "MISSING.wav"],  # a batch whose one file fails, then the output
        ["--help"],  # the group's eager options run before any command
        ["--version"],
    ],
    ids=["calc", "plan-table", "plan-json", "bpm-json", "help", "version"],
)
def test_output_onto_a_full_device_is_an_error_line_not_a_traceback(args):
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "cadence", *args], stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: cannot write the output (standard output): No space left on device"
    )
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_a_command_started_with_its_output_closed_does_not_crash():
    # `cadence plan … >&-`: Python has no sys.stdout at all.
    done = subprocess.run(
        ["sh", "-c", f"{sys.executable} -m cadence plan --current 150 >&-"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


def test_an_os_error_of_another_kind_is_not_called_an_output_failure(monkeypatch, runner):
    """Only a failure writing standard output is reported as one: any other
    OSError that escapes a command still shows where it came from."""

    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("cadence.core.calc.cadence_report", broken)
    result = runner.invoke(main, ["calc", "--spm", "160"])
    assert "cannot write the output" not in result.output
    assert isinstance(result.exception, OSError)


def test_pipes_and_devices_as_inputs_are_refused_at_once(runner, tmp_path, track):
    music = tmp_path / "music"
    copy_bytes(track, music / "good.wav")
    os.mkfifo(music / "pipe.mp3")
    (music / "zero.mp3").symlink_to("/dev/zero")
    scan = runner.invoke(main, ["scan", str(music), "--target", "166", "--no-cache", "--all"])
    assert scan.exit_code == 0, scan.output
    for name in ("pipe.mp3", "zero.mp3"):
        assert f"{name}: not a regular file (a pipe, device or socket)" in scan.stderr
    bpm = runner.invoke(main, ["bpm", "/dev/zero", str(music / "good.wav")])
    assert bpm.exit_code == 1 and "not a regular file" in bpm.stdout
    assert "166" in bpm.stdout or "83" in bpm.stdout
    device_out = tmp_path / "out.wav"
    device_out.symlink_to("/dev/null")
    rendered = runner.invoke(main, ["metronome", "170", "--beats", "2", "-o", str(device_out)])
    assert rendered.exit_code == 2 and "exists and is not a session" in rendered.stderr


def test_a_symlink_loop_is_named_as_one_not_as_a_broken_link(runner, tmp_path):
    (tmp_path / "a.mp3").symlink_to(tmp_path / "b.mp3")
    (tmp_path / "b.mp3").symlink_to(tmp_path / "a.mp3")
    (tmp_path / "gone.mp3").symlink_to(tmp_path / "nothing.mp3")
    result = runner.invoke(main, ["bpm", str(tmp_path / "a.mp3"), str(tmp_path / "gone.mp3")])
    assert result.exit_code == 1
    assert "a.mp3  error: symlink loop" in result.stdout
    assert "gone.mp3  error: broken symlink" in result.stdout


def _originals(tmp_path_factory):
    src = tmp_path_factory.mktemp("originals")
    return {
        f"t{i}.wav": write(src / f"t{i}.wav", groove(150 + 4 * i, 12, seed=i)).read_bytes()
        for i in range(6)
    }


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    return _originals(tmp_path_factory)


TAG = ("--write-tags", "--min-confidence", "0")


def test_sigterm_at_random_moments_of_a_tagging_scan_never_harms_a_song(
    originals, tmp_path, cadence_cmd, subprocess_env
):
    import io

    import soundfile as sf

    samples = {
        name: sf.read(io.BytesIO(data), dtype="int16")[0] for name, data in originals.items()
    }
    rng = random.Random(20261201)
    for run in range(20):
        music = tmp_path / f"run{run}"
        music.mkdir()
        for name, data in originals.items():
            (music / name).write_bytes(data)
        proc = subprocess.Popen(
            [*cadence_cmd, "scan", str(music), "--target", "160", "--no-cache", "-j", "1", *TAG],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=subprocess_env,
        )
        time.sleep(rng.uniform(0.3, 3.5))  # in the start-up, the analysis or the tagging
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        # Stopped with its clean-up (143, or 130 from the scan's own handling), done
        # already (0), or killed before its handlers are set or after its work (-15).
        assert proc.returncode in (0, 130, 143, -signal.SIGTERM), err
        for name, data in originals.items():
            path = music / name
            if path.read_bytes() == data:
                continue  # untouched
            # Else whole and tagged: the same audio, and a tag that reads back.
            assert read_tags(str(path))["tag_bpm"] is not None, (run, name)
            assert (sf.read(path, dtype="int16")[0] == samples[name]).all(), (run, name)
        # A stopped scan cleans up after itself: no temporary is left for the next run.
        assert _temps(music) == [], (run, _temps(music))
        assert sorted(p.name for p in music.iterdir()) == sorted(originals)
        if run % 4:
            continue
        # And now and then a whole scan of the folder after it: it works and leaves nothing.
        after = subprocess.run(
            [*cadence_cmd, "scan", str(music), "--target", "160", "--no-cache", "-q"],
            capture_output=True,
            env=subprocess_env,
            timeout=120,
        )
        assert after.returncode == 0, after.stderr
        assert _temps(music) == [], (run, _temps(music))
        assert sorted(p.name for p in music.iterdir()) == sorted(originals)
