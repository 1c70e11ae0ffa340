"""Real signals to real processes: nothing of cadence's is left behind, whatever stops it."""

import os
import signal
import subprocess
import sys
import time

import pytest

from cadence.files import TEMP_MARK, locked_temp, remove_leftovers
from tests.music import copy_bytes

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if TEMP_MARK in p.name)


def _wait_for(predicate, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _start_long_render(cadence_cmd, subprocess_env, out):
    # Ten hours of FLAC: minutes of work, so the signal always lands mid-render.
    proc = subprocess.Popen(
        [*cadence_cmd, "metronome", "170", "--duration", "10h", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env,
    )
    _wait_for(lambda: _temps(out.parent) and os.path.getsize(out.parent / _temps(out.parent)[0]))
    return proc


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_render_stopped_by_a_signal_leaves_nothing(
    signum, code, tmp_path, cadence_cmd, subprocess_env
):
    out = tmp_path / "long.flac"
    proc = _start_long_render(cadence_cmd, subprocess_env, out)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.decode().endswith("Stopped.\n")
    assert list(tmp_path.iterdir()) == []


def test_a_render_killed_with_kill_9_is_cleaned_up_by_the_next_render(
    tmp_path, cadence_cmd, subprocess_env
):
    out = tmp_path / "long.flac"
    proc = _start_long_render(cadence_cmd, subprocess_env, out)
    proc.kill()
    proc.wait(timeout=60)
    left = _temps(tmp_path)
    assert len(left) == 1 and left[0].startswith(".long.flac.cadence-")
    done = subprocess.run(
        [*cadence_cmd, "metronome", "170", "--beats", "4", "-o", str(out)],
        capture_output=True,
        env=subprocess_env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.flac"]


def test_a_leftover_of_another_name_is_removed_once_it_is_stale_and_nobody_holds_it(tmp_path):
    import time

    old = tmp_path / ".long.wav.cadence-k2v9x0qa.wav"  # what a kill -9 left, an hour ago
    fresh = tmp_path / ".other.wav.cadence-abcd1234.wav"  # another write, 5 minutes ago
    # The user's, not temporaries of ours, though as old and unlocked.
    users = [
        ".my.cadence-notes.txt",
        ".my.cadence-settings",  # 8 letters, as mkstemp's part
        ".notes.cadence-20240101.txt",
        ".music.cadence-playlist.m3u",
    ]
    for path in (old, fresh, *(tmp_path / name for name in users)):
        path.write_bytes(b"x" * 100)
    an_hour_ago, five_minutes_ago = time.time() - 3600, time.time() - 300
    for path in (old, *(tmp_path / name for name in users)):
        os.utime(path, (an_hour_ago, an_hour_ago))
    os.utime(fresh, (five_minutes_ago, five_minutes_ago))  # a write may pause; a lock may not show
    assert remove_leftovers(tmp_path / "run.mp3") == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, *users])


def test_a_temporary_in_use_by_a_running_write_is_never_taken_for_a_leftover(tmp_path, run_python):
    target = tmp_path / "song.flac"
    with locked_temp(target, suffix=".tagging") as tmp:
        tmp.write_bytes(b"half written")
        # Another process looks for leftovers while this one still writes.
        probe = (
            "import sys; from cadence.files import remove_leftovers; "
            "print(len(remove_leftovers(sys.argv[1])))"
        )
        other = run_python(probe, str(target))
        assert other.stdout.strip() == "0", other.stderr
        assert tmp.exists()
    assert remove_leftovers(target) == [] and list(tmp_path.iterdir()) == []


def test_a_scan_removes_what_a_killed_tag_write_left_and_says_so(track, runner, tmp_path):
    from cadence.cli import main

    music = tmp_path / "music"
    copy_bytes(track, music / "t.wav")
    leftover = music / f".t.wav{TEMP_MARK}k9xq2m1a.tagging"
    leftover.write_bytes(track)  # what kill -9 during --write-tags leaves
    other = music / ".t.wav.not-ours.tagging"  # not cadence's: left alone
    other.write_bytes(b"x")
    result = runner.invoke(main, ["scan", str(music), "--target", "166", "--no-cache"])
    assert result.exit_code == 0, result.output
    assert f"{leftover.name}: removed: left by a tag write that was killed" in result.stderr
    assert sorted(p.name for p in music.iterdir()) == [other.name, "t.wav"]


def _reading(pid: int, folder) -> bool:
    """Whether process `pid` has a file of `folder` open (it is decoding)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(folder)):
                return True
        except OSError:
            continue
    return False


def _interrupted(
    cadence_cmd,
    subprocess_env,
    args,
    folder,
    *,
    delay_s: float,
    bpm: float = 150,
    signum: int = signal.SIGINT,
):
    """Run ``cadence ARGS`` on twelve 3-minute FLACs made in `folder`; Ctrl-C it
    (or send it `signum`) mid-decode.

    Twelve 3-minute songs: seconds of work on any machine, so the signal always
    lands mid-command, whatever the delay. FLAC: libsndfile reads it.
    Returns (return code, stdout, stderr).
    """
    import numpy as np
    import soundfile as sf

    from tests.music import groove

    folder.mkdir()
    sf.write(folder / "a.flac", np.stack([groove(bpm, 180)] * 2, axis=1), 22050)
    for i in range(1, 12):
        os.link(folder / "a.flac", folder / f"{chr(97 + i)}.flac")
    files = sorted(str(p) for p in folder.iterdir())
    proc = subprocess.Popen(
        [*cadence_cmd, *_expand(args, files)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env,
        text=True,
    )
    _wait_for(lambda: _reading(proc.pid, folder))
    time.sleep(delay_s)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def _expand(args, files):
    """`args` with the marker ``FILES`` replaced by the songs."""
    out = []
    for a in args:
        out.extend(files if a == "FILES" else [a])
    return out


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@pytest.mark.parametrize("delay_s", [0.0, 0.05, 0.15, 0.3, 0.5])
@pytest.mark.parametrize("command", ["beats", "bpm"])
def test_ctrl_c_mid_decode_stops_at_once_and_prints_what_was_measured(
    tmp_path, cadence_cmd, subprocess_env, delay_s, command
):
    # Ctrl-C while libsndfile decodes lands in soundfile's callback into Python,
    # where the KeyboardInterrupt used to be dropped ("Exception ignored from
    # cffi callback", a traceback) and the command ran on to exit 0.
    code, out, err = _interrupted(
        cadence_cmd, subprocess_env, [command, "FILES"], tmp_path / "music", delay_s=delay_s
    )
    assert code == 130, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.endswith("Interrupted.\n")
    measured = out.count(".flac")
    if measured:
        assert f"Stopped after {measured} of 12 files." in err
    assert measured < 12


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [
        (signal.SIGINT, 130, "Interrupted"),
        (signal.SIGTERM, 143, "Stopped"),
        (signal.SIGHUP, 129, "Stopped"),
    ],
)
def test_a_scan_stopped_mid_decode_keeps_its_work_and_exits_as_the_signal_means(
    tmp_path, cadence_cmd, subprocess_env, signum, code, word
):
    # The scan catches the stop to print what it measured; a SIGTERM used to be
    # taken for a Ctrl-C there (exit 130, "Interrupted").
    args = ["scan", str(tmp_path / "music"), "--target", "150", "--jobs", "1"]
    args += ["--cache", str(tmp_path / "c.sqlite")]
    got, _, err = _interrupted(
        cadence_cmd, subprocess_env, args, tmp_path / "music", delay_s=0.1, signum=signum
    )
    assert got == code, err
    assert f"{word}: what was analysed is kept in the cache." in err and "Traceback" not in err


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@pytest.mark.parametrize("delay_s", [0.0, 0.3])
def test_ctrl_c_during_plays_folder_scan_stops_it_and_writes_nothing(
    tmp_path, cadence_cmd, subprocess_env, delay_s
):
    # The scan swallows Ctrl-C to keep what it measured; play used to go on and
    # render a session of the songs scanned so far.
    folder, out = tmp_path / "music", tmp_path / "run.flac"
    args = ["play", "165", str(folder), "-o", str(out), "--jobs", "1"]
    args += ["--cache", str(tmp_path / "c.sqlite")]
    code, _, err = _interrupted(cadence_cmd, subprocess_env, args, folder, delay_s=delay_s, bpm=165)
    assert code == 130, err
    assert err.endswith("Interrupted.\n") and "Traceback" not in err
    assert not out.exists() and not _temps(tmp_path)


# Each case sends SIGTERM to itself at the moment that once made a scan abort
# with "free(): double free detected": a C library has freed a handle, and the
# Python attribute that holds it is not reset yet (soundfile resets it through
# its own __setattr__, a Python call, where signal handlers run). It prints
# whether the stop came, and how many times each handle was freed.
_STOP_INSIDE_CLOSE = r"""
import gc, os, signal, sys, threading
import numpy as np
import soundfile as sf
from cadence.audio import mpg123
from cadence.audio.lame import LameWriter
from cadence.audio.readers import sound_file
from cadence.audio.write import write_audio
from cadence.cli import catch_stop_signals
from cadence.errors import Terminated
from cadence.playback import Player

folder = sys.argv[1]
sf.write(os.path.join(folder, "song.wav"), np.zeros(800, "float32"), 8000)
with LameWriter(os.path.join(folder, "song.mp3"), samplerate=44100, channels=1) as f:
    f.write(np.zeros((44100, 1), "float32"))
frees = []
plain_setattr = sf.SoundFile.__setattr__

def setattr_(self, name, value):
    if name == "_file" and value is None and self._file is not None:
        frees.append(id(self))
        os.kill(os.getpid(), signal.SIGTERM)
    plain_setattr(self, name, value)

sf.SoundFile.__setattr__ = setattr_

class Lib:  # LAME's library, whose lame_close stops the process as it returns
    def __init__(self, lib):
        self.lib = lib
    def __getattr__(self, name):
        return getattr(self.lib, name)
    def lame_close(self, gfp):
        frees.append(gfp)
        self.lib.lame_close(gfp)
        os.kill(os.getpid(), signal.SIGTERM)

class Mpg123(Lib):  # libmpg123, whose mpg123_delete stops the process as it returns
    def mpg123_delete(self, mh):
        frees.append(mh)
        self.lib.mpg123_delete(mh)
        os.kill(os.getpid(), signal.SIGTERM)

mpg123_lib = mpg123.mpg123_library()
mpg123.mpg123_library = lambda: Mpg123(mpg123_lib)

def mp3_read():
    for block in mpg123.blocks_mpg123(os.path.join(folder, "song.mp3"), 4096):
        pass

class Stream:  # PortAudio's stream, as sounddevice wraps it
    ptr = 1
    closed = property(lambda self: self.ptr is None)
    def stop(self): pass
    def abort(self): pass
    def close(self):
        frees.append(id(self))  # Pa_CloseStream
        os.kill(os.getpid(), signal.SIGTERM)
        self.ptr = None

def read():
    with sound_file(os.path.join(folder, "song.wav")) as f:
        f.read()

def write():
    write_audio(np.zeros((800, 1), "float32"), os.path.join(folder, "out.wav"), sr=8000)

plain_init = LameWriter.__init__

def init(self, *args, **kwargs):
    plain_init(self, *args, **kwargs)
    self._lib = Lib(self._lib)

LameWriter.__init__ = init

def mp3():
    write_audio(np.zeros((4410, 1), "float32"), os.path.join(folder, "out.mp3"), sr=44100)

def play():
    player = Player.__new__(Player)
    player._stream, player._done = Stream(), threading.Event()
    with player:
        player.close()  # a natural end, then the exit's stop()

for case in (read, write, mp3, mp3_read, play):
    catch_stop_signals()
    stopped = False
    fds = sorted(os.listdir("/proc/self/fd"))
    try:
        case()
    except Terminated:
        stopped = True
    gc.collect()  # and whatever a destructor frees
    closed = sorted(os.listdir("/proc/self/fd")) == fds
    print(case.__name__, "stopped:", stopped, "freed once:", len(frees) == len(set(frees)) > 0,
          "files closed:", closed)
    frees.clear()
"""


def test_a_stop_inside_a_c_librarys_close_is_raised_once_the_close_is_done(tmp_path, run_python):
    proc = run_python(_STOP_INSIDE_CLOSE, str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"{case} stopped: True freed once: True files closed: True"
        for case in ("read", "write", "mp3", "mp3_read", "play")
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mp3", "song.wav"]  # no temporary


def test_a_stop_noted_inside_stops_deferred_is_raised_at_the_outer_blocks_end():
    from cadence.errors import Terminated, raise_stop, stops_deferred

    done = []
    with pytest.raises(Terminated) as stopped, stops_deferred():
        with stops_deferred():
            raise_stop(Terminated(signal.SIGTERM))
            done.append("inner")
        done.append("outer")
    assert done == ["inner", "outer"] and stopped.value.signum == signal.SIGTERM
    with pytest.raises(KeyboardInterrupt):  # and outside a block, at once
        raise_stop(KeyboardInterrupt())
    with stops_deferred():  # nothing held over from before
        done.append("after")
