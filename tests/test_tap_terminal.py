"""`cadence tap` in a real pseudo-terminal, as a runner would use it."""

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX terminals only")


def _read_until(fd, needle, timeout_s=20.0):
    buf = b""
    deadline = time.monotonic() + timeout_s
    while needle not in buf:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {needle!r}; got {buf!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


@pytest.fixture
def tap_session(subprocess_env):
    """Start `cadence tap --json` on a pty; yield (send, finish)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cadence", "tap", "--json", "--seconds", "60"],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
        env=subprocess_env,
        close_fds=True,
    )
    os.close(follower)
    _read_until(leader, b"Tap any key")

    def finish(key=b"\n"):
        os.write(leader, key)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        return json.loads(out)

    yield (lambda data: os.write(leader, data)), finish, leader
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    os.close(leader)


def test_tap_with_a_missed_and_a_doubled_tap(tap_session):
    send, finish, leader = tap_session
    # About 150 spm (0.4 s per step); one step is skipped and one tap doubled.
    # Only the rhythm matters, and a loaded machine only blurs it a little.
    for i in range(16):
        if i == 8:
            time.sleep(0.4)
            continue
        send(b" ")
        if i == 12:  # a bounce: the same step tapped twice
            time.sleep(0.05)
            send(b" ")
            time.sleep(0.35)
        else:
            time.sleep(0.4)
    out = _read_until(leader, b"steps/min")
    assert b"taps" in out
    data = finish()
    assert data["source"]["taps"] == 16
    assert data["source"]["doubled_taps"] == 1
    assert data["source"]["missed_taps"] == 1
    assert 120 < data["cadence_spm"] < 180
    assert data["target_5_spm"] > data["cadence_spm"]


def test_tap_q_finishes_and_too_few_taps_is_an_error(subprocess_env):
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cadence", "tap"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=subprocess_env,
    )
    os.close(follower)
    _read_until(leader, b"Tap any key")
    os.write(leader, b" ")
    time.sleep(0.3)
    os.write(leader, b"q")
    out = _read_until(leader, b"Error:")
    proc.wait(timeout=30)
    os.close(leader)
    assert proc.returncode == 2
    assert b"Error: taps: need at least 4 taps, got 1" in out
