"""Durations as runners write them: ``90s``, ``20m``, ``1h``, ``1h30m``, ``1:30:00``."""

from __future__ import annotations

import math
import numbers
import re

from cadence.errors import ParameterError

_UNIT_S = {"h": 3600.0, "m": 60.0, "min": 60.0, "s": 1.0, "sec": 1.0}
_UNITS_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(h|min|m|sec|s)", re.IGNORECASE)


def parse_duration_s(text: str, *, parameter: str = "duration") -> float:
    """Parse a duration into seconds.

    Accepted forms: a plain number of seconds (``"45"``), numbers with units
    (``"90s"``, ``"20m"``, ``"1h"``, ``"1h30m"``, ``"2.5min"``), and clock
    forms ``M:SS`` and ``H:MM:SS`` (``"1:30"`` is 90 s, ``"1:30:00"`` 90 min).

    Parameters
    ----------
    text : str
        The duration as typed.
    parameter : str, keyword-only
        The option to name in an error.

    Returns
    -------
    float
        Seconds, positive.

    Raises
    ------
    ParameterError
        If the text is not a duration or is not positive.

    Examples
    --------
    >>> [parse_duration_s(t) for t in ("90s", "20m", "1h", "1:30:00", "1h30m", "2:05")]
    [90.0, 1200.0, 3600.0, 5400.0, 5400.0, 125.0]
    """
    raw = str(text).strip()
    seconds: float | None = None
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        seconds = float(raw)
    elif re.fullmatch(r"\d+(:[0-5]\d){1,2}(\.\d+)?", raw):  # 1:05, not 1:5
        parts = [float(p) for p in raw.split(":")]
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + part
    else:
        compact = raw.replace(" ", "")
        matches = list(_UNITS_RE.finditer(compact))
        if matches and "".join(m.group(0) for m in matches) == compact:
            units = [m.group(2).lower() for m in matches]
            if len(set(_UNIT_S[u] for u in units)) == len(units):
                seconds = sum(float(m.group(1)) * _UNIT_S[m.group(2).lower()] for m in matches)
    if seconds is None:
        raise ParameterError(
            parameter, f"{text!r} is not a duration; write e.g. 90s, 20m, 1h, 1h30m or 1:30:00"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise ParameterError(parameter, f"{text!r} must be longer than zero")
    return seconds


def format_clock(seconds: float) -> str:
    """``M:SS`` or ``H:MM:SS`` for a duration in seconds (rounded down; a
    negative one is 0:00).

    Raises
    ------
    ParameterError
        If `seconds` is not a finite number.

    Examples
    --------
    >>> format_clock(83.9), format_clock(5400)
    ('1:23', '1:30:00')
    """
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
        raise ParameterError("seconds", f"must be a number, got {seconds!r}")
    if not isinstance(seconds, numbers.Integral) and not math.isfinite(seconds):
        raise ParameterError("seconds", f"must be a finite number of seconds, got {seconds!r}")
    total = int(max(0, seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
