"""How the command line prints: JSON, tables, warnings, notes and the progress display.

With :mod:`.reports` (what each command prints), the only place in
:mod:`cadence` that formats for a terminal. Tables and JSON go to standard
output; warnings, notes and progress to standard error (standard output may be
a file: ``scan --format json > f``). rich is imported inside the functions:
``cadence calc`` starts without it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

import click

from cadence.files import CONTROL_CHARS

#: Where a value is missing in a table.
MISSING = "—"


def console() -> Any:
    """A rich console for tables; when piped, wide enough never to cut a file name."""
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 250)


#: Spaces at the end of a line, before any closing style codes.
_TRAILING_SPACES = re.compile(r" +((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)


def print_rich(renderable: Any, out: Any = None, **options: Any) -> None:
    """Print a rich table or text (``out.print`` `options`) without the spaces
    rich pads each line with (they wrap a line when a terminal is narrowed,
    and trail in a pasted table)."""
    out = out or console()
    with out.capture() as captured:
        out.print(renderable, **options)
    out.file.write(_TRAILING_SPACES.sub(r"\1", captured.get()))
    out.file.flush()


def print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def one_line(text: str) -> str:
    """`text` safe to print on one terminal line: control characters (a newline
    or an escape sequence in a file name or tag) are shown as escapes, and bytes
    that are not UTF-8 as U+FFFD.

    Examples
    --------
    >>> one_line("new\\nline.wav")
    'new\\\\nline.wav'
    """
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return CONTROL_CHARS.sub(lambda m: repr(m.group())[1:-1], text)


def for_stderr(text: str) -> str:
    """`text` as printed on standard error: each line wrapped between words at
    the terminal's width when standard error is a terminal (a narrow one
    otherwise folds a summary mid-word); left one line when it is piped or
    redirected, for scripts and logs. A word wider than the terminal (a long
    path) is not broken.

    Examples
    --------
    >>> for_stderr("Scanned 3 tracks.")  # not a terminal here: unchanged
    'Scanned 3 tracks.'
    """
    columns = _stderr_columns()
    if columns is None:
        return text
    width = columns - 1  # no line ending exactly at the edge
    if width < 20:
        return text
    return "\n".join(wrap_words(line, width=width, indent="  ") for line in text.split("\n"))


def cells(text: str) -> int:
    """The screen columns `text` takes on a terminal: two for a wide character
    (CJK, most emoji), none for a combining mark or a format character.

    Examples
    --------
    >>> cells("Neon Stride"), cells("東京"), cells("e\u0301")
    (11, 4, 1)
    """
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(
        0
        if unicodedata.combining(c) or unicodedata.category(c) in ("Me", "Cf")
        else 2
        if unicodedata.east_asian_width(c) in ("W", "F")
        else 1
        for c in text
    )


def wrap_words(line: str, *, width: int, indent: str, first: str = "") -> str:
    """`line` broken between words into lines of at most `width` screen columns
    (:func:`cells`, so a CJK name is measured as it shows), the first prefixed
    with `first`, the others with `indent`. Runs of spaces between words become
    one; a word wider than the line (a long path) is kept whole on a line of its
    own; a percent sign stays with its figure. A line that fits is returned as it is.

    Examples
    --------
    >>> print(wrap_words("one two three", width=8, indent="  "))
    one two
      three
    >>> print(wrap_words("up by 14.7 % in all", width=10, indent=""))
    up by
    14.7 % in
    all
    """
    if cells(first + line) <= width:
        return first + line
    lead = line[: len(line) - len(line.lstrip(" "))]
    lines: list[str] = []
    current, filled = first + lead, False
    words: list[str] = []
    for word in line.split():
        if words and word.startswith("%"):  # "14.7 %" is one word to the eye
            words[-1] += " " + word
        else:
            words.append(word)
    for word in words:
        if filled and cells(current) + 1 + cells(word) > width:
            lines.append(current)
            current, filled = indent + word, True
        else:
            current, filled = (f"{current} {word}" if filled else current + word), True
    lines.append(current)
    return "\n".join(lines)


def _stderr_columns() -> int | None:
    """The width of the terminal standard error goes to, or None when it goes
    elsewhere. Standard output's terminal is not asked: it may be a file
    (``scan --format json > f``) while stderr is on the screen."""
    return _terminal_columns(sys.stderr)


def _terminal_columns(stream: Any) -> int | None:
    """The width of the terminal `stream` is on (``COLUMNS`` if set), or None
    when it is not a terminal."""
    try:
        if not stream.isatty():
            return None
        columns = os.environ.get("COLUMNS", "")
        if columns.isascii() and columns.isdigit() and int(columns) > 0:
            return int(columns)
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):  # replaced, closed, or no size
        return None


def warn(text: str) -> None:
    """A ``warning: …`` line on standard error (shown with -q too); a control
    character in it (from a file name) is shown as an escape. Wrapped on a
    terminal (:func:`for_stderr`)."""
    click.echo(for_stderr(f"warning: {one_line(text)}"), err=True)


def note(text: str) -> None:
    """A line about what was done (a file written), on standard error, safe and
    wrapped as :func:`warn`."""
    click.echo(for_stderr(one_line(text)), err=True)


def count(n: int, noun: str) -> str:
    """``1 track``, ``2 tracks``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def fmt(value: Any, spec: str = "g", missing: str = MISSING) -> str:
    return missing if value is None else format(value, spec)


def confidence_cell(track: Any) -> str:
    """A track's confidence for a table: none where it has no tempo (an error,
    silence), not a measured 0.00."""
    return fmt(track.confidence if track.bpm is not None else None, ".2f")


def wrapped(text: str, *, indent: str, first: str | None = None) -> str:
    """`text` wrapped with a hanging indent at 78 columns, or at the terminal's
    width when standard output is a narrower terminal."""
    columns = terminal_columns()
    width = 78 if columns is None else max(40, min(78, columns - 1))
    return wrap_words(text, width=width, indent=indent, first=indent if first is None else first)


def terminal_columns() -> int | None:
    """The width of the terminal standard output is on, or None when it is not one."""
    return _terminal_columns(sys.stdout)


def table(*columns: tuple[str, str], title: str | None = None, plain: bool = True) -> Any:
    """A rich table with (name, justify) columns; the last column wraps instead of being cut."""
    from rich.table import Table

    options: dict[str, Any] = {"box": None, "pad_edge": False} if plain else {}
    if title is not None:
        options.update(title=title, title_justify="left")
    t = Table(**options)
    for i, (name, justify) in enumerate(columns):
        # A long path wraps rather than losing the part that tells files apart.
        last = i == len(columns) - 1 and justify == "left"
        t.add_column(name, justify=justify, overflow="fold" if last else "ellipsis")
    return t


#: Terminal width under which the progress display keeps only the bar, the count and the time left.
NARROW_COLUMNS = 72


class ProgressDisplay:
    """A progress bar on standard error: ``start``, ``update``, ``stop``.

    With ``enabled=False`` (not a terminal, or ``-q``) every call does nothing,
    so the caller never asks whether it is shown.

    Parameters
    ----------
    label : str
        What is being done ("Analysing", "Rendering out.wav").
    enabled : bool, keyword-only
    rate_unit : str, keyword-only
        With a unit ("files"), the rate and the time left count only the
        units done after the first update (cache hits come all at once, first).
    """

    def __init__(self, label: str, *, enabled: bool, rate_unit: str | None = None) -> None:
        self.label = label
        self.enabled = enabled
        self.rate_unit = rate_unit
        self._progress: Any = None
        self._task: Any = None
        self._first_done: int | None = None
        self._t0 = 0.0

    def start(self) -> None:
        if not self.enabled:
            return
        import time

        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(stderr=True)
        columns = [TextColumn(self.label), BarColumn()]
        if self.rate_unit:
            columns.append(MofNCompleteColumn())
            # Under 72 columns the rate and the time so far went first: rich
            # cut the line to "0:00... ETA 0:00:..." at 50.
            if console.width >= NARROW_COLUMNS:
                columns += [TextColumn("{task.fields[rate]}"), TimeElapsedColumn()]
                columns.append(TextColumn("ETA"))
        columns.append(TimeRemainingColumn())
        self._progress = Progress(*columns, transient=True, console=console)
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=None, rate="")
        self._t0 = time.perf_counter()

    def update(self, done: int, total: int) -> None:
        if self._progress is None:
            return
        import time

        if self.rate_unit and self._first_done is None:
            self._first_done = done
            self._progress.reset(self._task, total=total, completed=done, rate="")
            return
        rate = ""
        elapsed = time.perf_counter() - self._t0
        if self.rate_unit and elapsed > 1:
            rate = f"{(done - self._first_done) / elapsed:.1f} {self.rate_unit}/s"
        self._progress.update(self._task, completed=done, total=total, rate=rate)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> ProgressDisplay:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def common_folder(paths: list[str]) -> tuple[str, list[str]]:
    """The folder all `paths` share (or ""), and each path within it: a narrow
    table shows the names, with the folder once in its title."""
    folders = [os.path.dirname(p) for p in paths]
    if not paths or not all(folders):
        return "", paths
    try:
        common = os.path.commonpath(folders)
    except ValueError:  # absolute and relative paths mixed
        return "", paths
    return common, [os.path.relpath(p, common) for p in paths]
