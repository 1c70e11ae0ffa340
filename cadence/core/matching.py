"""Matching music tempo to a runner's cadence.

One step per beat is the natural fit: a 172 spm runner can use a 172 BPM
song, or an 86 BPM song at half time (two steps per beat). A track fits when
its BPM times 1 or 2 lies within the tolerance of the target cadence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cadence.errors import ParameterError

#: Steps per beat tried, in order of preference.
MATCH_FACTORS = (1, 2)
DEFAULT_TOLERANCE_SPM = 3.0


@dataclass(frozen=True)
class TempoMatch:
    """How a track's tempo fits a target cadence.

    Attributes
    ----------
    match_factor : int or None
        Steps per beat (1, or 2 for half time); None if the track does not fit.
    step_bpm : float or None
        The track's tempo in steps per minute (bpm × factor) for the best factor.
    off_spm : float or None
        `step_bpm` minus the target: positive when the track is faster.
    stretch_pct : float or None
        How much to speed the track up (positive) or slow it down (negative),
        in %, for it to fit exactly.
    """

    match_factor: int | None
    step_bpm: float | None
    off_spm: float | None
    stretch_pct: float | None


NO_TEMPO = TempoMatch(None, None, None, None)


def check_tolerance_spm(tolerance_spm: float) -> float:
    """`tolerance_spm` if it is in (0, 20]; else ParameterError naming --tolerance."""
    if not (isinstance(tolerance_spm, (int, float)) and 0 < tolerance_spm <= 20):
        raise ParameterError(
            "tolerance", f"must be more than 0 and at most 20 spm, got {tolerance_spm!r}"
        )
    return float(tolerance_spm)


def match_tempo(
    bpm: float | None, *, target_spm: float, tolerance_spm: float = DEFAULT_TOLERANCE_SPM
) -> TempoMatch:
    """How a track of `bpm` fits a runner at `target_spm`.

    The factor whose step tempo is closest to the target is taken; the track
    fits if that is within `tolerance_spm`. For a track that does not fit,
    `step_bpm`, `off_spm` and `stretch_pct` still describe the closest factor
    and `match_factor` is None.

    Parameters
    ----------
    bpm : float or None
        Track tempo in beats per minute (None: no tempo found).
    target_spm : float, keyword-only
        Runner's target cadence.
    tolerance_spm : float, keyword-only
        Largest distance, in steps per minute, that still fits (default 3).

    Examples
    --------
    >>> match_tempo(86.0, target_spm=172)
    TempoMatch(match_factor=2, step_bpm=172.0, off_spm=0.0, stretch_pct=0.0)
    >>> match_tempo(175.0, target_spm=172).match_factor
    1
    >>> match_tempo(120.0, target_spm=172).match_factor is None
    True
    """
    tolerance_spm = check_tolerance_spm(tolerance_spm)
    if bpm is None or not math.isfinite(bpm) or bpm <= 0:
        return NO_TEMPO
    factor = min(MATCH_FACTORS, key=lambda f: abs(bpm * f - target_spm))
    step = bpm * factor
    off = step - target_spm
    fits = abs(off) <= tolerance_spm + 1e-9
    return TempoMatch(
        match_factor=factor if fits else None,
        step_bpm=round(step, 1),
        off_spm=round(off, 1),
        stretch_pct=round((target_spm / step - 1) * 100, 1),
    )


def fold_bpm(bpm: float, *, low: float = 70.0) -> float:
    """Fold a tempo by octaves into [low, 2·low) (e.g. 172 -> 86 for low=70).

    Examples
    --------
    >>> fold_bpm(172.0), fold_bpm(43.0), fold_bpm(100.0)
    (86.0, 86.0, 100.0)
    """
    if not (math.isfinite(bpm) and bpm > 0):
        raise ParameterError("bpm", f"must be a positive number, got {bpm!r}")
    while bpm >= 2 * low:
        bpm /= 2
    while bpm < low:
        bpm *= 2
    return bpm


def tempo_alternatives(bpm: float) -> dict[str, float]:
    """The half- and double-time readings of a tempo, one decimal.

    Examples
    --------
    >>> tempo_alternatives(172.0)
    {'half': 86.0, 'double': 344.0}
    """
    return {"half": round(bpm / 2, 1), "double": round(bpm * 2, 1)}
