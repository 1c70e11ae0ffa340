"""Terminal edge: single key presses without Enter, for `tap` and live control.

Works in a real terminal and under tmux or screen: the terminal is put in
cbreak mode (no line buffering, no echo, Ctrl-C still interrupts) and always
restored, also on errors and Ctrl-C. Only POSIX terminals are supported.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import sys
from types import TracebackType

from cadence.errors import CadenceError, Terminated

#: Escape sequences of keys, by name (xterm, VT220 and rxvt spellings).
ESCAPE_KEYS = {
    "\x1b[A": "up",
    "\x1b[B": "down",
    "\x1b[C": "right",
    "\x1b[D": "left",
    "\x1bOA": "up",
    "\x1bOB": "down",
    "\x1bOC": "right",
    "\x1bOD": "left",
    "\x1b[5~": "pageup",
    "\x1b[6~": "pagedown",
    "\x1b[H": "home",
    "\x1b[F": "end",
    "\x1bOH": "home",
    "\x1bOF": "end",
    "\x1b[1~": "home",
    "\x1b[4~": "end",
    "\x1b[2~": "insert",
    "\x1b[3~": "delete",
}
PLAIN_KEYS = {" ": "space", "\n": "enter", "\r": "enter", "\x1b": "escape", "\x7f": "backspace"}
#: What any other escape sequence (F1, Shift-Up, Alt-x ...) is read as: not Escape.
UNKNOWN_KEY = "unknown"


def _sequence_end(data: str, i: int) -> int:
    """Index after the escape sequence that starts at `i` (ECMA-48: CSI and SS3)."""
    j = i + 1
    if data[j] == "[":  # CSI: parameter and intermediate bytes, then one final byte
        j += 1
        while j < len(data) and not ("\x40" <= data[j] <= "\x7e"):
            j += 1
        return j + 1
    if data[j] == "O":  # SS3: one more character (F1-F4 on many terminals)
        return j + 2
    return j + 1  # Alt plus a key


def parse_keys(data: str) -> list[str]:
    """Split raw terminal input into key names.

    Named keys come back as ``"up"``, ``"pageup"``, ``"space"``, ``"enter"``
    and so on; any other character as itself; an unknown escape sequence as
    ``"unknown"`` (only Escape alone is ``"escape"``).

    Examples
    --------
    >>> parse_keys("q \\x1b[A\\x1b[6~x")
    ['q', 'space', 'up', 'pagedown', 'x']
    """
    keys = []
    i = 0
    while i < len(data):
        if data[i] == "\x1b" and i + 1 < len(data):
            for seq, name in ESCAPE_KEYS.items():
                if data.startswith(seq, i):
                    keys.append(name)
                    i += len(seq)
                    break
            else:
                keys.append(UNKNOWN_KEY)
                i = _sequence_end(data, i)
            continue
        keys.append(PLAIN_KEYS.get(data[i], data[i]))
        i += 1
    return keys


class KeyReader:
    """Read key presses from a terminal in cbreak mode.

    Use as a context manager; the terminal settings are restored on exit.

    Parameters
    ----------
    fd : int, optional
        File descriptor of the terminal; default standard input.

    Raises
    ------
    CadenceError
        If `fd` is not a terminal.
    """

    def __init__(self, fd: int | None = None) -> None:
        if fd is None:
            try:
                fd = sys.stdin.fileno()
            except (OSError, ValueError):  # io.UnsupportedOperation is both
                fd = -1
        self.fd = fd
        if fd < 0 or not os.isatty(fd):
            raise CadenceError("standard input is not a terminal; run this in a terminal or tmux")
        self._saved: list | None = None

    def __enter__(self) -> KeyReader:
        import termios
        import tty

        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        import termios

        if self._saved is not None:
            saved, self._saved = self._saved, None
            # The terminal may be gone (closed): then there is nothing to restore.
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, saved)

    def read(self, timeout_s: float) -> list[str]:
        """Key names pressed within `timeout_s` seconds (empty list if none)."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout_s))
        if not ready:
            return []
        try:
            data = os.read(self.fd, 1024)
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            # The terminal was closed (its window, an ssh link): a hangup, as SIGHUP.
            raise Terminated(signal.SIGHUP) from None
        if not data:
            return ["eof"]
        return parse_keys(data.decode("utf-8", errors="replace"))


def stdin_is_terminal() -> bool:
    """Whether standard input is an interactive terminal."""
    try:
        return os.isatty(sys.stdin.fileno())
    except (ValueError, OSError):
        return False
