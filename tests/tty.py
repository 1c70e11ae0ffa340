"""Running the real command in a pseudo-terminal of a given width."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

from tests.conftest import REPO


def lines_at_width(args: list[str], columns: int) -> list[str]:
    """The lines a command prints on a terminal `columns` wide, without colours."""
    command = " ".join(shlex.quote(str(a)) for a in args)
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": str(columns), "LINES": "50"}
    done = subprocess.run(
        ["script", "-qec", f"stty cols {columns}; {command}", "/dev/null"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip("\r") for line in done.stdout.splitlines()]


def start_on_terminal(args: list[str], env: dict) -> tuple[subprocess.Popen, int]:
    """Start `args` with a new pseudo-terminal as its controlling terminal (as a
    terminal window gives it: closing it sends SIGHUP); return (process, leader fd)."""
    import fcntl
    import pty
    import termios

    leader, follower = pty.openpty()

    def take_the_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        args,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        preexec_fn=take_the_terminal,
    )
    os.close(follower)
    return proc, leader


def read_until(leader: int, marker: bytes, timeout_s: float = 60.0) -> bytes:
    """What the terminal `leader` shows until `marker`, or until the other side
    closes; fails after `timeout_s` (generous: only a stuck command takes it)."""
    import select
    import time

    buf = b""
    deadline = time.monotonic() + timeout_s
    while marker not in buf:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {marker!r}; got {buf!r}"
        ready, _, _ = select.select([leader], [], [], left)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            buf += chunk
    return buf
