"""The user's files: paths shown in messages, and writing whole or not at all."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from cadence.errors import ParameterError

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


def not_a_file_reason(path: str, *, missing: str = "no such file") -> str:
    """Why `path`, which is not a regular file, cannot be read as one; `missing`
    when nothing is there (a caller that also takes folders says so)."""
    try:
        os.lstat(path)
    except PermissionError:  # a folder on the way that may not be searched
        return "cannot read (permission denied: a folder on its path cannot be entered)"
    except OSError:
        return missing
    if os.path.isdir(path):
        return "a folder, not a file (cadence scan reads folders)"
    if os.path.islink(path):
        try:
            os.stat(path)
        except PermissionError:  # the target is there, behind a folder that may not be searched
            return "cannot read (permission denied: a folder on its link's path cannot be entered)"
        except OSError as exc:
            import errno

            return "symlink loop" if exc.errno == errno.ELOOP else "broken symlink"
    return "not a regular file (a pipe, device or socket)"


def write_failure(exc: BaseException, *, folder: str | os.PathLike | None = None) -> str:
    """Why a write failed, in words, for the user's file (never the temporary's name).

    Libraries that hide the errno (libsndfile says "System error.") are
    helped by `folder`: where it has no room left, the disk is full.

    Examples
    --------
    >>> import errno
    >>> write_failure(OSError(errno.ENOSPC, "No space left on device"))
    'the disk is full'
    """
    import errno

    code = getattr(exc, "errno", None)
    # SQLite says "database or disk is full", others "No space left on device".
    if code == errno.ENOSPC or re.search(r"no space left|disk (is )?full", str(exc), re.I):
        return "the disk is full"
    if folder is not None and code is None:
        try:
            st = os.statvfs(folder)
            if st.f_bavail * st.f_frsize < 256 * 1024:
                return "the disk is full"
        except (OSError, AttributeError):  # no statvfs (Windows)
            pass
    if code == errno.EDQUOT:
        return "the disk quota is used up"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if code == errno.EROFS:
        return "the file system is read-only"
    strerror = getattr(exc, "strerror", None)
    return (strerror or str(exc) or type(exc).__name__).lower()


def check_output_folder(path: str | os.PathLike, *, parameter: str) -> None:
    """Refuse, before long work, an output file whose folder is missing or not writable.

    Raises
    ------
    ParameterError
        Naming `parameter` and the user's path.
    """
    folder = os.path.dirname(os.path.abspath(path))
    shown = display_path(path)
    if os.fspath(path).endswith(("/", os.sep)):  # "out.wav/" names a folder, not a file
        raise ParameterError(parameter, f"{shown} ends with a slash; give a file name")
    if not os.path.isdir(folder):
        what = "is a file, not a folder" if os.path.exists(folder) else "does not exist"
        raise ParameterError(parameter, f"{shown}: folder {display_path(folder)} {what}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ParameterError(parameter, f"{shown}: folder {display_path(folder)} is not writable")
    if os.path.isdir(path):
        raise ParameterError(parameter, f"{shown} is a folder; give a file name")


def check_replaceable(
    path: str | os.PathLike,
    *,
    parameter: str,
    kind: str,
    is_own_kind: Callable[[Path], bool],
    force: bool = False,
) -> None:
    """Refuse to write where the folder is missing or read-only, or over an existing
    file that is not of cadence's own `kind`.

    A playlist only replaces a playlist, a picture a picture, a rendered
    session a rendered session: never a song or any other file the user
    named by mistake, nor one its owner made read-only. An empty file holds
    nothing to lose.

    Parameters
    ----------
    path : path-like
        The file about to be written.
    parameter : str
        The parameter to name in the error.
    kind : str
        What cadence writes there, for the message ("a playlist").
    is_own_kind : callable
        ``is_own_kind(path)``: whether an existing file is of that kind.
    force : bool, keyword-only
        Replace whatever is there.

    Raises
    ------
    ParameterError
        For a missing or read-only folder, a folder given as the file, or an
        existing file not of `kind` (without `force`).
    """
    check_output_folder(path, parameter=parameter)  # before Path() drops a trailing slash
    p = Path(path)
    if p.is_symlink() and not p.exists():
        # A write follows the link: where it points must be a folder that exists.
        target = Path(os.path.realpath(p))
        if not target.parent.is_dir():
            raise ParameterError(
                parameter,
                f"{display_path(p)} is a broken symbolic link to {display_path(os.readlink(p))}, "
                f"in a folder that does not exist ({display_path(str(target.parent))}); "
                "give another name",
            )
    if force or not os.path.lexists(p):
        return
    try:
        empty = p.is_file() and p.stat().st_size == 0
    except OSError:
        empty = False
    if empty:
        return
    if not p.is_file() or not is_own_kind(p):
        if p.is_symlink() and not p.exists():
            what = f"is a broken symbolic link (to {display_path(os.readlink(p))})"
        else:
            what = f"exists and is not {kind}"
        raise ParameterError(
            parameter,
            f"{display_path(p)} {what}; it is left as it is. Give another "
            "name, or --force to replace it",
        )
    # Made read-only by its owner (a file kept on purpose): by its mode bits too,
    # which root's access() ignores.
    if not os.access(p, os.W_OK) or not p.stat().st_mode & 0o222:
        raise ParameterError(
            parameter,
            f"{display_path(p)} is read-only; it is left as it is. Give another name, or "
            "--force to replace it",
        )


def starts_with(path: Path, *magics: bytes, within: int = 0) -> bool:
    """Whether the file begins with one of `magics` (or holds one in its first `within` bytes)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(max(within, 64))
    except OSError:
        return False
    if within:
        return any(m in head for m in magics)
    return any(head.startswith(m) for m in magics)


#: In the name of every temporary file cadence makes beside a user's file:
#: ``.NAME.cadence-XXXXXXXX.SUFFIX``, so a leftover is known for what it is.
TEMP_MARK = ".cadence-"


def _lock(fd: int, *, wait: bool) -> bool:
    """Take the lock on an open file; False if another process holds it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locks, so no file is ever taken for abandoned
        return wait
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


def remove_if_abandoned(path: str | os.PathLike) -> bool:
    """Remove a temporary file of cadence's that no running cadence holds.

    A cadence that writes holds a lock on its temporary file until it is done;
    a file left after ``kill -9`` (or a power cut) holds none. Returns whether
    `path` was removed.
    """
    try:
        fd = os.open(
            path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        )
    except OSError:
        return False
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode) or not _lock(fd, wait=False):
            return False
        os.unlink(path)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


#: A temporary's name: ``.NAME.cadence-``, :func:`tempfile.mkstemp`'s 8
#: random characters, then a suffix: NAME's own, or ``.tagging``.
_TEMP_NAME = re.compile(r"\.(.+)" + re.escape(TEMP_MARK) + r"[a-z0-9_]{8}(\.[^.]+)")


def is_cadence_temp(name: str, *, suffix: str = "") -> bool:
    """Whether a file name is one of cadence's temporaries
    (``.NAME.cadence-XXXXXXXX`` and NAME's own suffix, or ``.tagging``).

    Examples
    --------
    >>> is_cadence_temp(".run.wav.cadence-k2v9x0qa.wav")
    True
    >>> is_cadence_temp(".a.mp3.cadence-x1y2z3w4.tagging")
    True
    >>> is_cadence_temp(".my.cadence-settings"), is_cadence_temp(".notes.cadence-20240101.txt")
    (False, False)
    """
    match = _TEMP_NAME.fullmatch(name)
    if not match or not name.endswith(suffix):
        return False
    own, ending = match.groups()
    return ending == ".tagging" or ending.lower() == Path(own).suffix.lower()


#: A temporary of another file's write is taken for abandoned (if no process
#: holds it) only once it is this old: a write's temporary exists, unlocked, for
#: the instant between its creation and its lock, and a write in progress keeps
#: its temporary's time fresh (a lock on a network folder may not be seen).
STALE_AFTER_S = 600.0


def remove_leftovers(target: str | os.PathLike) -> list[Path]:
    """Remove the abandoned temporaries in `target`'s folder; returns them.

    Those of earlier writes of `target` itself, and those of other files that
    no process holds and that are over :data:`STALE_AFTER_S` old (a ``kill -9``
    during a render to another name leaves one nobody would write again).
    """
    import time

    target = Path(target)
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return []
    prefix = f".{target.name}{TEMP_MARK}"
    now = time.time()

    def stale(entry: os.DirEntry) -> bool:
        try:
            return now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_S
        except OSError:
            return False

    return [
        Path(e.path)
        for e in entries
        if is_cadence_temp(e.name)
        and (e.name.startswith(prefix) or stale(e))
        and remove_if_abandoned(e.path)
    ]


@contextlib.contextmanager
def locked_temp(target: str | os.PathLike, *, suffix: str) -> Iterator[Path]:
    """A new, private temporary file beside `target`, locked while in use.

    Leftovers of earlier writes of `target` that no process holds are removed
    first. The temporary is removed on leaving, on any error, interruption or
    signal that Python sees, unless it was moved away (renamed over `target`).
    """
    target = Path(target)
    remove_leftovers(target)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}{TEMP_MARK}", suffix=suffix, dir=target.parent
    )
    try:
        _lock(fd, wait=True)
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.close(fd)


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to the disk, where the system allows."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # a folder on some file systems, a pipe: nothing more to do
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` atomically.

    On any error or interruption the temporary file is removed and `path` is
    left as it was; a temporary left by a killed process is removed by the
    next write of the same `path`. The file replaced keeps its mode; through a
    symlink, the file it names is replaced.
    """
    # Through a symlink, the file it names is replaced (the link stays a link).
    target = Path(os.path.realpath(path))
    with locked_temp(target, suffix=target.suffix) as tmp:
        yield tmp
        # mkstemp makes the file private (0600): give it the mode of the file it
        # replaces, or the mode a new file gets.
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        _fsync(tmp)  # on disk before it takes the name: a power cut leaves old or new
        os.replace(tmp, target)
        _fsync(target.parent)
