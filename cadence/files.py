"""The user's files: paths shown in messages, and writing whole or not at all."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

#: C0 and C1 control characters: never printed raw (a newline or an escape
#: sequence in a file name must not split a line or drive the terminal).
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def display_path(path: str | os.PathLike) -> str:
    """A path as text for messages, JSON and CSV: bytes that are not UTF-8 become U+FFFD.

    Examples
    --------
    >>> display_path(os.fsdecode(b"caf\\xe9.mp3"))
    'caf\ufffd.mp3'
    """
    return os.fsencode(path).decode("utf-8", errors="replace")


def not_a_file_reason(path: str) -> str:
    """Why `path`, which is not a regular file, cannot be read as one."""
    if os.path.isdir(path):
        return "a folder, not a file (cadence scan reads folders)"
    if os.path.islink(path) and not os.path.exists(path):
        return "broken symlink"
    if not os.path.lexists(path):
        return "no such file"
    return "not a regular file (a pipe, device or socket)"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success it replaces `path` atomically.

    On any error or interruption the temporary file is removed and `path` is
    left as it was.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private (0600); give it the mode a new file gets.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
