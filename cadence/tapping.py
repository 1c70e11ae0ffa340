"""The tap loop: read a key per step from the terminal, time it, show the rate so far.

The maths (which taps count, the rate) is :func:`cadence.core.tap.spm_from_tap_times`;
this module owns the keys and the clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cadence.core.tap import MIN_TAPS, spm_from_tap_times
from cadence.errors import ParameterError
from cadence.terminal import KeyReader

#: Keys that finish tapping early.
FINISH_KEYS = frozenset({"enter", "q", "eof"})
#: Keys that are not taps (an escape sequence that was not a known key).
IGNORED_KEYS = frozenset({"escape"})
#: How often the loop looks at the keyboard and the clock, in seconds.
POLL_S = 0.1


def tap_status(times_s: list[float]) -> str:
    """The live line: taps so far and, once there are enough, the rate.

    Examples
    --------
    >>> tap_status([0.0])
    '  1 tap'
    >>> tap_status([0.0, 0.35, 0.7, 1.05, 1.4])
    '  5 taps    171.4 steps/min'
    """
    taps = f"{len(times_s):3d} tap" + ("" if len(times_s) == 1 else "s")
    if len(times_s) < MIN_TAPS:
        return taps
    try:
        live = spm_from_tap_times(times_s)
    except ParameterError:
        return f"{taps}   (finding the rhythm)"
    return f"{taps}   {live.spm:6.1f} steps/min"


def collect_tap_times(
    keys: KeyReader,
    *,
    seconds: float,
    on_status: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    width: int = 80,
) -> list[float]:
    """Tap times (seconds, on `clock`) until a finish key or `seconds` after the first tap.

    Parameters
    ----------
    keys : KeyReader
        An open key reader.
    seconds : float, keyword-only
        Stop this long after the first tap.
    on_status : callable
        Called with the live status line (taps, rate, seconds left; it starts
        with a carriage return and covers the line before it) whenever it changes.
    clock : callable, keyword-only
        Monotonic clock in seconds.
    width : int, keyword-only
        The terminal's width: the line stays shorter, so it never wraps.

    Returns
    -------
    list of float
        One time per key press that counts as a tap (several keys read at
        once count as one tap: a held key repeats).
    """
    times: list[float] = []
    shown = ""
    while True:
        pressed = keys.read(POLL_S)
        now = clock()
        if any(k in FINISH_KEYS for k in pressed):
            return times
        if any(k not in IGNORED_KEYS for k in pressed):
            times.append(now)
        if times and now - times[0] >= seconds:
            return times
        left = seconds - (now - times[0]) if times else seconds
        line = f"  {tap_status(times)}   {left:4.0f} s left "[: width - 1]
        if line != shown:  # the countdown runs on between taps, too
            on_status("\r" + line.ljust(len(shown)))
            shown = line
