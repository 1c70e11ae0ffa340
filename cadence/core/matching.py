"""Matching music tempo to a runner's cadence.

One step per beat is the natural fit: a 172 spm runner can use a 172 BPM
song, or an 86 BPM song at half time (two steps per beat). A track fits when
its BPM times 1 or 2 lies within the tolerance of the target cadence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cadence.core.tracks import TrackResult
from cadence.errors import ParameterError

#: Steps per beat tried, in order of preference.
MATCH_FACTORS = (1, 2)
DEFAULT_TOLERANCE_SPM = 3.0
MAX_TOLERANCE_SPM = 20.0


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
    """`tolerance_spm` if it is in (0, 20]; else ParameterError naming it."""
    if not (isinstance(tolerance_spm, (int, float)) and 0 < tolerance_spm <= MAX_TOLERANCE_SPM):
        raise ParameterError(
            "tolerance_spm",
            f"must be more than 0 and at most {MAX_TOLERANCE_SPM:g} spm, got {tolerance_spm!r}",
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
        off_spm=round(off, 1) + 0.0,  # no "-0.0"
        stretch_pct=round((target_spm / step - 1) * 100, 1) + 0.0,  # no "-0.0"
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


@dataclass(frozen=True)
class TrackFit:
    """A track and how it fits the target cadence.

    Attributes
    ----------
    track : TrackResult
    match : TempoMatch
        Its fit (:data:`NO_TEMPO` for a track without a tempo).
    unsure : bool
        The tempo fits but its confidence is under the minimum asked for, so
        the track is not counted as fitting.
    """

    track: TrackResult
    match: TempoMatch
    unsure: bool = False

    @property
    def fits(self) -> bool:
        return self.match.match_factor is not None and not self.unsure

    def to_dict(self) -> dict[str, Any]:
        """The track's fields with the match's, in the order of ``scan --format json``."""
        t, m = self.track, self.match
        return {
            "path": t.path,
            "bpm": t.bpm,
            "confidence": t.confidence,
            "stability": t.stability,
            "alternatives": t.alternatives,
            "match_factor": m.match_factor if not self.unsure else None,
            "step_bpm": m.step_bpm,
            "off_spm": m.off_spm,
            "stretch_pct": m.stretch_pct,
            "tag_bpm": t.tag_bpm,
            "title": t.title,
            "artist": t.artist,
            "duration_s": t.duration_s,
            "analysed_s": t.analysed_s,
            "first_beat_s": t.first_beat_s,
            "period_s": t.period_s,
            "grid_residual_ms": t.grid_residual_ms,
            "error": t.error,
            "note": t.note,
        }


def fit_tracks(
    tracks: Iterable[TrackResult],
    *,
    target_spm: float,
    tolerance_spm: float,
    min_confidence: float = 0.0,
) -> list[TrackFit]:
    """Each track with its fit to `target_spm`, in the order given.

    A track whose tempo fits but whose confidence is under `min_confidence`
    is ``unsure`` and does not count as fitting.
    """
    fits = []
    for t in tracks:
        m = match_tempo(t.bpm, target_spm=target_spm, tolerance_spm=tolerance_spm)
        unsure = m.match_factor is not None and t.confidence < min_confidence
        fits.append(TrackFit(t, m, unsure=unsure))
    return fits


def check_min_confidence(min_confidence: float) -> float:
    """`min_confidence` if it is in [0, 1]; else ParameterError naming it."""
    if isinstance(min_confidence, bool) or not (
        isinstance(min_confidence, (int, float)) and 0 <= min_confidence <= 1
    ):
        raise ParameterError("min_confidence", f"must be from 0 to 1, got {min_confidence!r}")
    return float(min_confidence)


def _closeness(fit: TrackFit) -> tuple[float, float]:
    # Ties (equal distance) go to the clearer beat.
    off = fit.match.off_spm
    return (abs(off) if off is not None else math.inf, -(fit.track.confidence or 0))


def best_fit_first(fits: Iterable[TrackFit]) -> list[TrackFit]:
    """The tracks that fit, closest to the target first, ties by confidence."""
    return sorted((f for f in fits if f.fits), key=_closeness)


def all_by_fit(fits: Iterable[TrackFit]) -> list[TrackFit]:
    """Every track: those that fit first (closest first), then the others by closeness."""
    return sorted(fits, key=lambda f: (not f.fits, *_closeness(f)))


def by_step_tempo(fits: Iterable[TrackFit]) -> list[TrackFit]:
    """The order of a playlist: slowest step tempo first, then by BPM."""
    return sorted(fits, key=lambda f: (f.match.step_bpm, f.track.bpm))


@dataclass
class ScanTally:
    """What a folder scan did, in counts.

    Attributes
    ----------
    analysed, cached : int
        Tracks analysed now, and tracks taken from the cache.
    problems : list of (str, str)
        ``(path, reason)`` for every file or folder that could not be used
        fully, in the order they were met.
    interrupted : bool
        The scan was stopped (Ctrl-C or a signal) before every file was analysed.
    stop_signal : int or None
        The signal that stopped it, SIGTERM or SIGHUP (None: Ctrl-C, or not stopped).
    elapsed_s : float
    cached_kept : bool
        Whether what was analysed is kept in a cache.
    known_problems : int
        Files whose problem (or note) is known from an earlier scan and was
        not reported again: the file has not changed.
    """

    analysed: int = 0
    cached: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    stop_signal: int | None = None
    elapsed_s: float = 0.0
    cached_kept: bool = False
    #: Problems and notes of unchanged files, from the cache: reported when first met.
    known_problems: int = 0


@dataclass(frozen=True)
class ScanReport:
    """A folder's tracks against a target cadence, and what the scan did.

    Attributes
    ----------
    fits : list of TrackFit
        Every track found, in path order.
    target_spm, tolerance_spm : float
    tally : ScanTally
    """

    fits: list[TrackFit]
    target_spm: float
    tolerance_spm: float
    tally: ScanTally = field(default_factory=ScanTally)
    min_confidence: float = 0.0

    @property
    def unsure(self) -> int:
        """Tracks whose tempo fits but whose confidence is under the minimum."""
        return sum(1 for f in self.fits if f.unsure)

    @property
    def fitting(self) -> list[TrackFit]:
        """The tracks that fit, best first."""
        return best_fit_first(self.fits)

    @property
    def half_time(self) -> int:
        """How many of the fitting tracks fit at two steps per beat."""
        return sum(1 for f in self.fits if f.fits and f.match.match_factor == 2)

    @property
    def exit_code(self) -> int:
        """0; 130 when Ctrl-C interrupted the scan, 128 + the signal's number when
        SIGTERM or SIGHUP stopped it (as the signal alone would have)."""
        if self.tally.stop_signal:
            return 128 + self.tally.stop_signal
        return 130 if self.tally.interrupted else 0
