"""Beat positions from onset envelopes (pure numpy).

Given the tempo (:mod:`cadence.core.tempo`) and two onset functions of a
track, a coarse one (86 frames a second) and a fine one (172 frames a
second), :func:`track_beats` finds where every beat falls:

The beat level (the tempo, its half or its double) is chosen first, by
:mod:`cadence.core.beat_level`.

1. Dynamic programming on the coarse envelope (Ellis, "Beat tracking by
   dynamic programming", 2007): the chain of beats that lands on the
   strongest onsets while keeping each gap near the beat period, so the
   chain follows a tempo that changes or a drummer who drifts.
2. Each beat is then placed on the fine onset function: the beats around it
   (four each side) are fitted with a line, and that local grid is shifted to
   where the fine onsets line up best. One beat's own onset is not trusted
   alone (a fill, a syncopated note); its neighbours' agree on where the beat is.
3. The beats at the start and end that land on silence or on nothing are
   dropped (an intro before the music, a fade); those the programme leaves
   out at the edges are added, and an intro's put back on the grid
   (:mod:`cadence.core.beat_edges`).
4. A steady grid (``first_beat_s + k * period_s``) is fitted to all beats by
   least squares, and the beats' distance from it measured: a programmed
   track strays by a millisecond or two, a live band by tens.
5. Downbeats: in 4/4, the beat phase (of four) where the low band (kick, bass)
   is strongest, when it stands out; otherwise none are claimed.

Everything here is general: no parameter depends on a file, a style or a name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cadence.core.beat_edges import (
    MID_FILE_START_S,
    START_SLACK_S,
    _smooth,
    extend_ends,
    mend_start,
)
from cadence.errors import ParameterError

#: How strongly the dynamic programme holds the beat period: the penalty of a
#: gap of ``r`` periods is ``TIGHTNESS * log(r) ** 2`` (librosa's default).
TIGHTNESS = 100.0
#: Beats each side of a beat that make its local grid.
LOCAL_BEATS = 4
#: How far (seconds) the fine placement may move a local grid, each way.
FINE_SEARCH_S = 0.06
#: A leading or trailing beat whose onset is under this share of the median
#: beat's is dropped (silence, a fade).
WEAK_BEAT_SHARE = 0.15
#: Beats per bar assumed for downbeats.
BEATS_PER_BAR = 4
#: The loudest bar phase (low band, dB) must beat the next by this much to be called the downbeat.
DOWNBEAT_CONTRAST_DB = 1.0
#: Beats that stray from the steady grid by more than this (95th percentile,
#: ms) drift: a live band, a rubato passage. A click on a steady grid would
#: walk away from such a song.
DRIFT_P95_MS = 30.0
#: Fewer beats than this: no grid is fitted, no beats are reported.
MIN_BEATS = 8


@dataclass(frozen=True)
class BeatGrid:
    """A track's beats and the steady grid fitted to them.

    Attributes
    ----------
    beats_s : numpy.ndarray, shape (n_beats,)
        Beat times (seconds from the start of the file), increasing.
    first_beat_s : float
        Time of the first beat on the fitted grid (seconds).
    period_s : float
        The fitted grid's beat period (seconds); ``60 / period_s`` is the tempo.
    residual_median_ms, residual_p95_ms : float
        Median and 95th percentile of ``|beat - grid|`` (milliseconds).
    downbeats_s : numpy.ndarray
        The beats that start a bar, where the bar phase could be told; empty otherwise.
    """

    beats_s: np.ndarray
    first_beat_s: float
    period_s: float
    residual_median_ms: float
    residual_p95_ms: float
    downbeats_s: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def bpm(self) -> float:
        """Tempo of the fitted grid (BPM)."""
        return 60.0 / self.period_s


def dp_beats(
    onset: np.ndarray, *, period_frames: float, tightness: float = TIGHTNESS
) -> np.ndarray:
    """The chain of frames that best fits `onset` at a beat period of `period_frames`.

    Parameters
    ----------
    onset : numpy.ndarray, shape (n_frames,)
        Onset strength, non-negative.
    period_frames : float, keyword-only
        Beat period in frames (> 2).
    tightness : float, keyword-only
        Penalty weight of a gap that strays from the period.

    Returns
    -------
    numpy.ndarray of int
        Frame indices of the beats, increasing (empty for an all-zero onset).

    Examples
    --------
    >>> x = np.zeros(400)
    >>> x[5::20] = 1.0
    >>> dp_beats(x, period_frames=20.0)[:3].tolist()
    [5, 25, 45]
    """
    if not (math.isfinite(period_frames) and period_frames > 2):
        raise ParameterError("period_frames", f"must be more than 2, got {period_frames!r}")
    x = np.asarray(onset, dtype=np.float64)
    n = len(x)
    sd = float(x.std())
    if n == 0 or sd <= 0:
        return np.zeros(0, dtype=int)
    x = x / sd
    lo = max(1, round(period_frames / 2))
    hi = round(2 * period_frames)
    taus = np.arange(lo, hi + 1)
    penalty = -tightness * np.log(taus / period_frames) ** 2
    # score[hi + t] is frame t's; the `hi` places before the track are -inf.
    score = np.concatenate([np.full(hi, -np.inf), x])
    # Each frame's best predecessor (as an index into `taus`) and its score
    # (a frame whose best predecessor scores <= 0 starts a chain); the links
    # are followed back only from the chain's end, a few hundred of them.
    pick = np.empty(n, dtype=np.intp)
    best_before = np.empty(n)
    rows = np.arange(lo)
    # A view that follows the score as it fills: windows[t, j] is the score of
    # frame t - taus[j] (the columns run backwards over score[t : t + width]).
    width = hi - lo + 1
    windows = np.lib.stride_tricks.as_strided(
        score, shape=(n, width), strides=(score.strides[0],) * 2, writeable=False
    )[:, ::-1]
    # Every gap is at least `lo` frames, so a block of `lo` frames depends
    # only on the frames before it: one numpy step per block, not per frame.
    cand = np.empty((lo, width))
    for t0 in range(0, n, lo):
        m = min(lo, n - t0)
        block = np.add(windows[t0 : t0 + m], penalty, out=cand[:m])
        j = pick[t0 : t0 + m] = block.argmax(axis=1)
        best = best_before[t0 : t0 + m] = block[rows if m == lo else rows[:m], j]
        np.add(x[t0 : t0 + m], np.maximum(best, 0.0, out=best), out=score[hi + t0 : hi + t0 + m])
    score = score[hi:]
    # End on the best-scoring frame of the last period (a chain always grows).
    tail = max(0, n - round(period_frames))
    t = tail + int(np.argmax(score[tail:]))
    beats = []
    while t >= 0:
        beats.append(t)
        t = t - int(taus[pick[t]]) if best_before[t] > 0 else -1
    return np.array(beats[::-1], dtype=int)


def place_beats(
    beats_s: np.ndarray,
    fine: np.ndarray,
    *,
    fine_rate_hz: float,
    fine_start_s: float,
    local_beats: int = LOCAL_BEATS,
    search_s: float = FINE_SEARCH_S,
) -> np.ndarray:
    """Move rough beat times onto the fine onset function, a local grid at a time.

    Parameters
    ----------
    beats_s : numpy.ndarray
        Rough beat times (seconds), increasing.
    fine : numpy.ndarray
        Fine onset function.
    fine_rate_hz, fine_start_s : float, keyword-only
        Its frames per second, and the time of its frame 0 (seconds).
    local_beats : int, keyword-only
        Beats each side that make a beat's local grid.
    search_s : float, keyword-only
        How far a local grid may move, each way (seconds).

    Returns
    -------
    numpy.ndarray
        The placed beat times (seconds), same length.
    """
    beats_s = np.asarray(beats_s, dtype=np.float64)
    n = len(beats_s)
    if n < 2 or len(fine) == 0:
        return beats_s.copy()
    f = _smooth(np.asarray(fine, dtype=np.float64), 3)
    step_s = 0.25 / fine_rate_hz
    shifts = np.arange(-search_s, search_s + step_s / 2, step_s)
    # Each beat's local line, from running sums over its window of beats.
    k = np.arange(n, dtype=np.float64)
    lo = np.maximum(0, np.arange(n) - local_beats)
    hi = np.minimum(n, np.arange(n) + local_beats + 1)

    def window_sum(v: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(v)])
        return c[hi] - c[lo]

    m = (hi - lo).astype(np.float64)
    sk, st, skk, skt = (
        window_sum(k),
        window_sum(beats_s),
        window_sum(k * k),
        window_sum(k * beats_s),
    )
    slope = (m * skt - sk * st) / np.maximum(m * skk - sk * sk, 1e-12)
    intercept = (st - slope * sk) / m
    offsets = np.arange(-local_beats, local_beats + 1)
    out = np.empty(n)
    for a in range(0, n, 256):  # in chunks: memory stays small on a long track
        i = np.arange(a, min(n, a + 256))
        kk = i[:, None] + offsets[None, :]
        inside = (kk >= 0) & (kk < n)
        grid = intercept[i, None] + slope[i, None] * kk  # (beats, window)
        frames = (grid[:, :, None] + shifts[None, None, :] - fine_start_s) * fine_rate_hz
        value = np.interp(frames, np.arange(len(f)), f, left=0.0, right=0.0)
        score = (value * inside[:, :, None]).sum(axis=1)  # (beats, shifts)
        j = np.argmax(score, axis=1)
        jc = np.clip(j, 1, len(shifts) - 2)
        rows = np.arange(len(i))
        y0, y1, y2 = score[rows, jc - 1], score[rows, jc], score[rows, jc + 1]
        denom = y0 - 2 * y1 + y2
        frac = np.where(
            (denom < 0) & (j == jc), 0.5 * (y0 - y2) / np.where(denom < 0, denom, -1.0), 0.0
        )
        out[i] = intercept[i] + slope[i] * i + shifts[j] + frac * step_s
    return np.maximum.accumulate(out)


def fit_grid(beats_s: np.ndarray) -> tuple[float, float, np.ndarray]:
    """The steady grid through beat times: a least-squares line, beat index against time.

    Returns
    -------
    first_beat_s : float
        The grid beat nearest the first beat found (the next one when that
        is before the start of the file): beat k of the grid is at
        ``first_beat_s + k * period_s``.
    period_s : float
        The grid's period (seconds).
    residual_s : numpy.ndarray
        Each beat's distance from the grid (seconds).

    Examples
    --------
    >>> first, period, res = fit_grid(np.array([0.5, 1.0, 1.5, 2.0]))
    >>> round(first, 3), round(period, 3), float(abs(res).max()) < 1e-9
    (0.5, 0.5, True)
    """
    beats_s = np.asarray(beats_s, dtype=np.float64)
    k = np.arange(len(beats_s), dtype=np.float64)
    period, origin = np.polyfit(k, beats_s, 1)
    residual = beats_s - (origin + period * k)
    first = origin + period * round((beats_s[0] - origin) / period)
    if first < 0:
        first += period * math.ceil(-first / period)
    return float(first), float(period), residual


def _strength_at(x: np.ndarray, frames: np.ndarray, reach: int = 2) -> np.ndarray:
    """Largest value of `x` within `reach` frames of each frame."""
    idx = np.clip(np.round(frames).astype(int), 0, len(x) - 1)
    offsets = np.arange(-reach, reach + 1)
    return x[np.clip(idx[:, None] + offsets[None, :], 0, len(x) - 1)].max(axis=1)


def _trim_weak_ends(strength: np.ndarray) -> slice:
    """The span of beats without the weak ones at either end."""
    if len(strength) == 0:
        return slice(0, 0)
    floor = WEAK_BEAT_SHARE * float(np.median(strength))
    strong = np.flatnonzero(strength > floor)
    if len(strong) == 0:
        return slice(0, 0)
    return slice(int(strong[0]), int(strong[-1]) + 1)


def downbeat_phase(low_level_db: np.ndarray, *, beats_per_bar: int = BEATS_PER_BAR) -> int | None:
    """Which beat (0 … beats_per_bar-1) starts the bars, from the low band's level at each beat.

    The downbeat carries the bass note and the strongest kick. None when no
    phase is louder than the next by :data:`DOWNBEAT_CONTRAST_DB`, or there
    are fewer than two bars.

    Examples
    --------
    >>> downbeat_phase(np.array([30.0, 36.0, 30.0, 33.0] * 8))
    1
    """
    s = np.asarray(low_level_db, dtype=np.float64)
    if len(s) < 2 * beats_per_bar:
        return None
    means = np.array([np.median(s[p::beats_per_bar]) for p in range(beats_per_bar)])
    order = np.argsort(means)[::-1]
    if means[order[0]] - means[order[1]] >= DOWNBEAT_CONTRAST_DB:
        return int(order[0])
    return None


def track_beats(
    bands: np.ndarray,
    fine: np.ndarray,
    *,
    bpm: float,
    frame_rate_hz: float,
    frame_start_s: float,
    fine_rate_hz: float,
    fine_start_s: float,
    onset: np.ndarray | None = None,
    frames: np.ndarray | None = None,
) -> BeatGrid | None:
    """Beat times of a track at a known tempo.

    Parameters
    ----------
    bands : numpy.ndarray, shape (2 or 3, n_frames)
        Coarse onset envelope: full-band flux, low-band flux and, for
        downbeats, the low band's level (dB).
    fine : numpy.ndarray, shape (n_fine,)
        Fine onset function.
    bpm : float, keyword-only
        The tempo (BPM) the beats are tracked at.
    frame_rate_hz, frame_start_s : float, keyword-only
        Frames per second of `bands`, and the second of frame 0.
    fine_rate_hz, fine_start_s : float, keyword-only
        The same for `fine`.
    onset : numpy.ndarray, optional, keyword-only
        The combined onset envelope the tempo was measured on (derived from
        `bands` when not given).
    frames : numpy.ndarray of int, optional, keyword-only
        The beat chain :func:`dp_beats` finds on `onset` at `bpm`, when it is
        already known (the beat-level choice finds it); found here otherwise.

    Returns
    -------
    BeatGrid or None
        None when fewer than :data:`MIN_BEATS` beats stand on onsets.

    Raises
    ------
    ParameterError
        For a tempo or frame rate that is not a positive number.
    """
    for name, value in (
        ("bpm", bpm),
        ("frame_rate_hz", frame_rate_hz),
        ("fine_rate_hz", fine_rate_hz),
    ):
        if not (math.isfinite(value) and value > 0):
            raise ParameterError(name, f"must be a positive number, got {value!r}")
    from cadence.core.tempo import _combined_envelope

    bands = np.atleast_2d(np.asarray(bands, dtype=np.float64))
    x = onset if onset is not None else _combined_envelope(bands, frame_rate_hz=frame_rate_hz)
    period_frames = 60.0 * frame_rate_hz / bpm
    if len(x) < 2 * period_frames or period_frames <= 2:
        return None
    if frames is None:
        frames = dp_beats(x, period_frames=period_frames)
    strength = _strength_at(x, frames)
    keep = _trim_weak_ends(strength)
    frames = frames[keep]
    if len(frames) < MIN_BEATS:
        return None
    rough_s = frame_start_s + frames / frame_rate_hz
    beats_s = place_beats(rough_s, fine, fine_rate_hz=fine_rate_hz, fine_start_s=fine_start_s)
    beats_s = mend_start(beats_s, fine, fine_rate_hz=fine_rate_hz, fine_start_s=fine_start_s)
    # A local grid may slide the first beat of a track before its start.
    inside = beats_s >= frame_start_s - 0.5 / frame_rate_hz
    beats_s, frames = np.maximum(beats_s[inside], 0.0), frames[inside]
    if len(beats_s) < MIN_BEATS:
        return None
    found_s = beats_s
    # A window from the middle of a file starts from silence: its first
    # onset is that, not the music's.
    earliest_s = -START_SLACK_S if frame_start_s <= 0 else frame_start_s + MID_FILE_START_S
    beats_s = extend_ends(
        beats_s, fine, fine_rate_hz=fine_rate_hz, fine_start_s=fine_start_s, earliest_s=earliest_s
    )
    if len(beats_s) > len(found_s):
        # Coarse frames for the added beats (before and after the found ones),
        # as far from them as the others stand.
        lag = float(np.median(frames - (found_s - frame_start_s) * frame_rate_hz))
        before = int(np.searchsorted(beats_s, found_s[0]))
        all_frames = (beats_s - frame_start_s) * frame_rate_hz + lag
        all_frames[before : before + len(found_s)] = frames
        frames = all_frames
    first, period, residual = fit_grid(beats_s)
    abs_ms = np.abs(residual) * 1000.0
    phase = None
    if bands.shape[0] > 2:
        # The level just after each beat (the attack's first 35 ms).
        reach = max(1, round(0.035 * frame_rate_hz))
        phase = downbeat_phase(_strength_at(bands[2], frames + reach / 2, reach=reach // 2 + 1))
    downbeats = beats_s[phase::BEATS_PER_BAR] if phase is not None else np.zeros(0)
    return BeatGrid(
        beats_s=beats_s,
        first_beat_s=first,
        period_s=period,
        residual_median_ms=float(np.median(abs_ms)),
        residual_p95_ms=float(np.percentile(abs_ms, 95)),
        downbeats_s=downbeats,
    )


def drifts(residual_p95_ms: float) -> bool:
    """Whether beats that stray this far (95th percentile, ms) from their grid drift."""
    return residual_p95_ms > DRIFT_P95_MS
