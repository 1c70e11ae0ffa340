"""Cadence from tap times: one tap per step, robust to missed and doubled taps.

The estimate does not trust any single interval. It takes the median interval
as a first guess of the step period, lays every tap on a step grid (a tap
within a fraction of a period after the last kept one is a doubled tap and is
dropped; a gap of about k periods is k steps with k-1 missed taps), then fits
the period by least squares over all kept taps and rejects taps that sit far
off the fitted line. A pause of more than a few periods starts a new segment;
segments share the period but not the phase.
"""

from __future__ import annotations

import itertools
import math
import reprlib
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from cadence.errors import ParameterError

#: Fewest taps for an estimate (three intervals).
MIN_TAPS = 4
#: A gap longer than this many periods is a pause, not missed taps.
PAUSE_PERIODS = 3.5
#: A tap further than this fraction of a period from the fitted grid is an outlier.
OUTLIER_FRACTION = 0.3
#: More corrected taps (doubled, missed, off-beat) than this share: no rhythm.
MAX_CORRECTED_SHARE = 0.25


@dataclass(frozen=True)
class TapEstimate:
    """Cadence estimated from taps.

    Attributes
    ----------
    spm : float
        Steps per minute (unrounded).
    taps : int
        Taps received.
    steps : int
        Steps the kept taps span (missed taps counted in).
    doubled : int
        Taps dropped as doubled.
    missed : int
        Steps with no tap, filled in.
    outliers : int
        Taps rejected as off the beat.
    """

    spm: float
    taps: int
    steps: int
    doubled: int
    missed: int
    outliers: int

    def source(self) -> dict[str, int]:
        """How the cadence was measured, for a report's ``source``."""
        return {
            "taps": self.taps,
            "steps": self.steps,
            "doubled_taps": self.doubled,
            "missed_taps": self.missed,
            "outlier_taps": self.outliers,
        }

    def describe(self) -> str:
        """What was counted and what was corrected, in words.

        Examples
        --------
        >>> TapEstimate(170.0, taps=40, steps=41, doubled=0, missed=1, outliers=0).describe()
        '40 taps over 41 steps, 1 missed tap(s) filled in'
        """
        notes = [f"{self.taps} taps over {self.steps} steps"]
        if self.doubled:
            notes.append(f"{self.doubled} doubled tap(s) ignored")
        if self.missed:
            notes.append(f"{self.missed} missed tap(s) filled in")
        if self.outliers:
            notes.append(f"{self.outliers} off-beat tap(s) left out")
        return ", ".join(notes)


def _fit_period(segments: list[list[tuple[int, float]]]) -> tuple[float, list[list[float]]]:
    """Least-squares period shared by all segments, each with its own offset."""
    sxy = sxx = 0.0
    for seg in segments:
        mk = statistics.fmean(k for k, _ in seg)
        mt = statistics.fmean(t for _, t in seg)
        sxy += sum((k - mk) * (t - mt) for k, t in seg)
        sxx += sum((k - mk) ** 2 for k, _ in seg)
    period = sxy / sxx
    residuals = []
    for seg in segments:
        mk = statistics.fmean(k for k, _ in seg)
        mt = statistics.fmean(t for _, t in seg)
        residuals.append([t - (mt + (k - mk) * period) for k, t in seg])
    return period, residuals


def spm_from_tap_times(times_s: Sequence[float]) -> TapEstimate:
    """Estimate cadence from the times of taps, one tap per step.

    Parameters
    ----------
    times_s : sequence of float
        Tap times in seconds, increasing (any origin).

    Returns
    -------
    TapEstimate
        The cadence and how many taps were doubled, missed or rejected.

    Raises
    ------
    ParameterError
        With fewer than 4 taps, times that are not numbers, not finite or not
        increasing, or no usable rhythm.

    Examples
    --------
    >>> # 170 spm with one doubled tap (at 1.07 s) and one missed step (2.47 s)
    >>> t = [i * 60 / 170 for i in range(12) if i != 7] + [1.07]
    >>> round(spm_from_tap_times(sorted(t)).spm, 1)
    170.0
    """
    if isinstance(times_s, (str, bytes)):
        raise ParameterError(
            "taps", f"must be a sequence of tap times in seconds, got {reprlib.repr(times_s)}"
        )
    try:
        times = [float(t) for t in times_s]
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(
            "taps", f"must be a sequence of tap times in seconds, got {reprlib.repr(times_s)}"
        ) from None
    if len(times) < MIN_TAPS:
        raise ParameterError("taps", f"need at least {MIN_TAPS} taps, got {len(times)}")
    if any(not math.isfinite(t) for t in times) or any(b < a for a, b in itertools.pairwise(times)):
        raise ParameterError("taps", "tap times must be finite and increasing")
    intervals = [b - a for a, b in itertools.pairwise(times)]
    guess = statistics.median(intervals)
    if guess <= 0:
        raise ParameterError("taps", "too many taps at the same instant to find a rhythm")

    # Lay the taps on a step grid.
    segments: list[list[tuple[int, float]]] = [[(0, times[0])]]
    doubled = missed = 0
    for t in times[1:]:
        k_last, t_last = segments[-1][-1]
        steps = (t - t_last) / guess
        if steps < 0.5:
            doubled += 1
            continue
        if steps > PAUSE_PERIODS:
            segments.append([(0, t)])
            continue
        k = round(steps)
        missed += k - 1
        segments[-1].append((k_last + k, t))

    outliers = 0
    for _ in range(3):
        usable = [seg for seg in segments if len(seg) >= 2]
        if sum(len(seg) - 1 for seg in usable) < MIN_TAPS - 1:
            raise ParameterError("taps", "too few regular taps to find a rhythm; tap every step")
        period, residuals = _fit_period(usable)
        if period <= 0:
            raise ParameterError("taps", "no steady rhythm in the taps")
        kept = [
            [p for p, r in zip(seg, res) if abs(r) <= OUTLIER_FRACTION * period]
            for seg, res in zip(usable, residuals)
        ]
        dropped = sum(len(a) - len(b) for a, b in zip(usable, kept))
        if dropped == 0:
            break
        outliers += dropped
        segments = kept

    # Corrections are for slips: when they are a good part of the taps, there
    # was no rhythm to correct (random tapping lays on some grid too).
    corrected = doubled + missed + outliers
    if corrected > max(2, MAX_CORRECTED_SHARE * len(times)):
        raise ParameterError(
            "taps",
            f"no steady rhythm: {corrected} of {len(times)} taps were doubled, missed or off "
            "the beat; tap once on each step",
        )
    usable = [seg for seg in segments if len(seg) >= 2]
    steps_spanned = sum(seg[-1][0] - seg[0][0] for seg in usable)
    return TapEstimate(
        spm=60.0 / period,
        taps=len(times),
        steps=steps_spanned,
        doubled=doubled,
        missed=missed,
        outliers=outliers,
    )
