"""The beat level: which of the tempo estimate, its half and its double listeners tap (numpy).

The tempo estimate (:mod:`cadence.core.tempo`) finds the pulse; the beat
level is a separate choice, and the hardest one: a 170 BPM song and an 85
BPM groove can have the same pattern. Each candidate level is described by
six features of the onset envelope (:data:`LEVEL_FEATURES`) and scored by a
logistic model (:data:`LEVEL_WEIGHTS`), fitted and judged with one source
left out at a time by ``benchmarks/train_beat_level.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cadence.core.beats import _strength_at, dp_beats
from cadence.core.tempo import (
    COMB_LAG_TOLERANCE,
    Periodicity,
    _at,
    _autocorrelation,
    _comb_scores,
    _widen,
)

#: The beat level is chosen among the estimate, its half and its double, in this range (BPM).
LEVEL_BPM_RANGE = (55.0, 215.0)
#: Weights of the beat-level model over :func:`level_features` (and the
#: intercept last): a logistic regression fitted by
#: ``benchmarks/train_beat_level.py`` on both development sets, which also
#: reports its accuracy with one source (music) or drummer (drums) left out
#: at a time. The first two make a log-Gaussian preference over tempo; the
#: rest read how the onsets fall on that level's beats.
LEVEL_WEIGHTS = (3.237, -10.151, -3.531, 0.953, 8.627, 0.731, -4.276)
LEVEL_FEATURES = (
    "log2(bpm/120)",
    "log2(bpm/120)^2",
    "even/odd balance (all bands)",
    "even/odd balance (low band)",
    "comb score / best candidate's",
    "autocorrelation at one beat",
)


def level_features(
    bands: np.ndarray,
    candidates_bpm: list[float],
    *,
    frame_rate_hz: float,
    onset: np.ndarray,
    chains: list | None = None,
    periodicity: Periodicity | None = None,
) -> np.ndarray:
    """Features of each candidate beat level, shape (n_candidates, 6) (see :data:`LEVEL_FEATURES`).

    Parameters
    ----------
    bands : numpy.ndarray, shape (2, n_frames)
        Coarse onset envelope: full band, low band.
    candidates_bpm : list of float
        Tempi (BPM) of the candidate levels.
    frame_rate_hz : float, keyword-only
        Envelope frames per second.
    onset : numpy.ndarray
        The combined onset envelope.
    chains : list, optional, keyword-only
        When given, each candidate's beat chain (:func:`dp_beats` frames) is
        appended to it, so the chosen level's need not be found again.
    periodicity : cadence.core.tempo.Periodicity, optional, keyword-only
        The autocorrelation of `onset`, when the tempo estimate found it
        (``TempoEstimate.periodicity``); read only if its ``onset`` is this
        very array, computed here otherwise.
    """
    bands = np.atleast_2d(np.asarray(bands, dtype=np.float64))
    low = bands[1] if bands.shape[0] > 1 else bands[0]
    if periodicity is not None and periodicity.onset is onset:
        acf, wide = periodicity.acf, periodicity.wide
    else:
        acf = _autocorrelation(onset)
        wide = _widen(acf, tolerance=COMB_LAG_TOLERANCE)  # once for every candidate's comb
    rows = []
    for bpm in candidates_bpm:
        period = 60.0 * frame_rate_hz / bpm
        frames = dp_beats(onset, period_frames=period)
        if chains is not None:
            chains.append(frames)
        row = [math.log2(bpm / 120.0), math.log2(bpm / 120.0) ** 2]
        for x in (onset, low):
            s = _strength_at(x, frames) if len(frames) >= 2 else np.ones(2)
            even, odd = s[0::2].mean(), s[1::2].mean()
            row.append(min(even, odd) / max(even, odd, 1e-9))
        row.append(float(_comb_scores(wide, np.array([bpm]), frame_rate_hz=frame_rate_hz)[0]))
        row.append(float(_at(acf, np.array([period]))[0]))
        rows.append(row)
    features = np.array(rows, dtype=np.float64).reshape(len(candidates_bpm), len(LEVEL_FEATURES))
    best_comb = features[:, 4].max() if len(features) else 0.0
    features[:, 4] = features[:, 4] / best_comb if best_comb > 0 else 0.0
    return features


def level_candidates(bpm: float) -> list[float]:
    """The estimate, its half and its double, those inside :data:`LEVEL_BPM_RANGE`."""
    lo, hi = LEVEL_BPM_RANGE
    found = [c for c in (bpm / 2, bpm, bpm * 2) if lo <= c <= hi]
    return found or [bpm]


@dataclass(frozen=True, eq=False)  # it holds an array: no == or hash
class BeatLevel:
    """The chosen beat level.

    Attributes
    ----------
    bpm : float
        Its tempo (BPM).
    frames : numpy.ndarray or None
        Its beat chain (:func:`cadence.core.beats.dp_beats` frames), when the
        choice found it; None when there was nothing to choose.
    """

    bpm: float
    frames: np.ndarray | None = None


def choose_beat_level(
    bands: np.ndarray,
    bpm: float,
    *,
    frame_rate_hz: float,
    onset: np.ndarray,
    weights: tuple[float, ...] = LEVEL_WEIGHTS,
) -> float:
    """The tempo listeners tap: `bpm`, its half or its double, by the beat-level model.

    The tempo of :func:`beat_level`, which takes the same parameters.

    Parameters
    ----------
    bands : numpy.ndarray, shape (2, n_frames)
        Coarse onset envelope: full band, low band.
    bpm : float
        The tempo estimate (BPM).
    frame_rate_hz : float, keyword-only
        Envelope frames per second.
    onset : numpy.ndarray, keyword-only
        The combined onset envelope.
    weights : tuple of float, keyword-only
        The model (:data:`LEVEL_WEIGHTS`).

    Returns
    -------
    float
        The chosen tempo (BPM).
    """
    return beat_level(bands, bpm, frame_rate_hz=frame_rate_hz, onset=onset, weights=weights).bpm


def beat_level(
    bands: np.ndarray,
    bpm: float,
    *,
    frame_rate_hz: float,
    onset: np.ndarray,
    weights: tuple[float, ...] = LEVEL_WEIGHTS,
    periodicity: Periodicity | None = None,
) -> BeatLevel:
    """The beat level listeners tap, `bpm`, its half or its double, and its beat chain.

    Parameters are those of :func:`choose_beat_level`, and `periodicity`
    (``TempoEstimate.periodicity``: the autocorrelation of `onset`, which
    need not then be computed again).

    Returns
    -------
    BeatLevel
        The chosen tempo, and the beat chain found at it while choosing
        (:func:`cadence.core.beats.track_beats` takes it as ``frames``).
    """
    candidates = level_candidates(bpm)
    if len(candidates) == 1:
        return BeatLevel(candidates[0])
    chains: list[np.ndarray] = []
    features = level_features(
        bands,
        candidates,
        frame_rate_hz=frame_rate_hz,
        onset=onset,
        chains=chains,
        periodicity=periodicity,
    )
    w = np.asarray(weights, dtype=np.float64)
    best = int(np.argmax(features @ w[:-1] + w[-1]))
    return BeatLevel(float(candidates[best]), chains[best])
