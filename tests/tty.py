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


class TerminalSession:
    """A command on a terminal of its own (:func:`start_on_terminal`), stopped
    from outside with :meth:`stop`; a context manager that never leaves it running."""

    def __init__(self, args: list[str], env: dict) -> None:
        self.proc, self.leader = start_on_terminal(args, env)

    def __enter__(self) -> TerminalSession:
        return self

    def stop(self, how: str) -> tuple[int, bytes]:
        """``"SIGTERM"``, or ``"terminal closed"`` (SIGHUP, and the terminal gone):
        the exit status, and what the terminal showed until then."""
        import signal

        shown = b""
        if how == "SIGTERM":
            self.proc.send_signal(signal.SIGTERM)
            shown = read_until(self.leader, b"Stopped.")
        else:
            self._close()
        return self.proc.wait(timeout=60), shown

    def _close(self) -> None:
        if self.leader is not None:
            os.close(self.leader)
            self.leader = None

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()
