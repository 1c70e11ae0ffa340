"""Time maps: where each moment of a song goes when it is played at a cadence (numpy).

A song at 167 BPM played to a runner at 170 steps per minute is sped up by
1.8 %; one at 88 BPM is played at half time (two steps a beat), slowed to 85.
The beats of the stretched song must fall on the metronome's grid. A
:class:`TimeMap` says, for every second of the source, the second of the
output it is heard at:

* a steady song (its beats stray from a steady grid by a few milliseconds)
  gets one ratio: a straight line through its fitted grid;
* a song whose beat drifts (a live band) gets a line through its beats, each
  beat to its grid slot, simplified so that no beat strays from its slot by
  more than :data:`MAP_TOLERANCE_S` (each bend costs a join in the stretched
  audio, so tracker noise is not chased).

:func:`plan_pieces` cuts a map into the pieces the stretcher renders one at a
time (one ratio each, joined by a short crossfade ending on a beat's attack,
where it is masked). Everything is in seconds; the edges turn it into samples.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from cadence.errors import ParameterError

#: A beat may stray from its grid slot by this much in a drifting song's map (seconds).
MAP_TOLERANCE_S = 0.005
#: A drifting song's beats are smoothed over this many beats (a running
#: median of their distance from the steady grid): a drummer's drift is
#: followed, one misplaced beat is not.
DRIFT_SMOOTHING_BEATS = 9
#: A drift is followed only if it is smooth: the smoothed distance from the
#: grid moves by less than this share of a beat from one beat to the next (a
#: drummer's tempo wanders; a tracker that slips to another phase jumps) ...
MAX_DRIFT_STEP_BEATS = 0.08
#: ... and the beats stray from the smoothed line by less than this (95th
#: percentile, seconds). Otherwise the beats are irregular: one ratio it is.
MAX_DRIFT_JITTER_S = 0.020
#: Longest piece the stretcher renders in one go (seconds of output).
MAX_PIECE_S = 20.0


def grid_indices(beats_s: np.ndarray, *, period_s: float) -> np.ndarray:
    """The grid slot of every beat: 0 for the first, and one more a period on.

    A gap of two periods (a beat the tracker did not report) skips a slot, so
    the beats after it keep their place on the grid.

    Examples
    --------
    >>> grid_indices(np.array([1.0, 1.5, 2.5, 3.0]), period_s=0.5).tolist()
    [0, 1, 3, 4]
    """
    beats_s = np.asarray(beats_s, dtype=np.float64)
    if not (math.isfinite(period_s) and period_s > 0):
        raise ParameterError("period_s", f"must be positive, got {period_s!r}")
    if len(beats_s) == 0:
        return np.zeros(0, dtype=np.int64)
    steps = np.maximum(1, np.round(np.diff(beats_s) / period_s)).astype(np.int64)
    return np.concatenate([[0], np.cumsum(steps)])


@dataclass(frozen=True)
class TimeMap:
    """An increasing piecewise-linear map from source seconds to output seconds.

    Before the first knot and after the last the map goes on with the slope of
    its first and last piece. A map of two knots is one ratio.

    Attributes
    ----------
    source_s, output_s : numpy.ndarray, shape (n_knots,)
        The knots (n_knots >= 2), both strictly increasing.
    """

    source_s: np.ndarray
    output_s: np.ndarray

    def __post_init__(self) -> None:
        src = np.asarray(self.source_s, dtype=np.float64)
        out = np.asarray(self.output_s, dtype=np.float64)
        if src.ndim != 1 or src.shape != out.shape or len(src) < 2:
            raise ParameterError("source_s", "a time map needs two or more knots in both arrays")
        if np.any(np.diff(src) <= 0) or np.any(np.diff(out) <= 0):
            raise ParameterError("source_s", "a time map's knots must increase")
        object.__setattr__(self, "source_s", src)
        object.__setattr__(self, "output_s", out)

    @property
    def slopes(self) -> np.ndarray:
        """Output seconds per source second of each piece, shape (n_knots - 1,)."""
        return np.diff(self.output_s) / np.diff(self.source_s)

    def to_output(self, t_s: np.ndarray | float) -> np.ndarray:
        """Output seconds of source seconds `t_s`."""
        return _piecewise(np.asarray(t_s, dtype=np.float64), self.source_s, self.output_s)

    def to_source(self, t_s: np.ndarray | float) -> np.ndarray:
        """Source seconds heard at output seconds `t_s` (the inverse map)."""
        return _piecewise(np.asarray(t_s, dtype=np.float64), self.output_s, self.source_s)


def _piecewise(t: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    y = np.interp(t, xs, ys)
    first = (ys[1] - ys[0]) / (xs[1] - xs[0])
    last = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    y = np.where(t < xs[0], ys[0] + (t - xs[0]) * first, y)
    return np.where(t > xs[-1], ys[-1] + (t - xs[-1]) * last, y)


def beat_time_map(
    beats_s: np.ndarray,
    *,
    first_beat_s: float,
    period_s: float,
    target_period_s: float,
    steady: bool,
    tolerance_s: float = MAP_TOLERANCE_S,
) -> TimeMap:
    """The map that puts a song's beats on a grid of `target_period_s`, source 0 at output 0.

    Parameters
    ----------
    beats_s : numpy.ndarray, shape (n_beats,)
        The song's beats (seconds), increasing; at least two.
    first_beat_s, period_s : float, keyword-only
        The steady grid fitted to them (:class:`cadence.core.beats.BeatGrid`).
    target_period_s : float, keyword-only
        The output's beat period (seconds): ``60 / target_bpm``.
    steady : bool, keyword-only
        One ratio through the fitted grid (True), or a line through the beats
        themselves, each to its grid slot within `tolerance_s` (False).
    tolerance_s : float, keyword-only
        How far a beat may stray from its slot in a drifting song's map.

    Returns
    -------
    TimeMap
        Grid slot ``k`` of the output is at ``map(first_beat_s) + k * target_period_s``
        (steady), or at ``map(beats_s[0]) + k * target_period_s`` (drifting).

    Examples
    --------
    >>> beats = 0.5 + np.arange(8) * 0.4  # 150 BPM
    >>> m = beat_time_map(beats, first_beat_s=0.5, period_s=0.4, target_period_s=0.375, steady=True)
    >>> [round(float(x), 4) for x in m.to_output(beats[:3])]
    [0.4688, 0.8438, 1.2188]
    """
    beats_s = np.asarray(beats_s, dtype=np.float64)
    for name, value in (("period_s", period_s), ("target_period_s", target_period_s)):
        if not (math.isfinite(value) and value > 0):
            raise ParameterError(name, f"must be positive, got {value!r}")
    ratio = target_period_s / period_s
    if steady or len(beats_s) < 3:
        # A line through the origin: beat first_beat_s + k * period_s goes to
        # first_beat_s * ratio + k * target_period_s.
        return TimeMap(np.array([0.0, 1.0]), np.array([0.0, ratio]))
    if len(beats_s) < 2 or np.any(np.diff(beats_s) <= 0):
        raise ParameterError("beats_s", "must hold two or more increasing beat times")
    index = grid_indices(beats_s, period_s=period_s)
    src = smoothed_beats(beats_s, first_beat_s=first_beat_s, period_s=period_s)
    slots = src[0] * ratio + index * target_period_s
    keep = _simplify(src, slots, tolerance_s=tolerance_s)
    src, out = src[keep], slots[keep]
    if src[0] > 0:  # the intro, at the nominal ratio, from output 0
        src, out = np.concatenate([[0.0], src]), np.concatenate([[0.0], out])
    return TimeMap(src, out)


def smoothed_beats(beats_s: np.ndarray, *, first_beat_s: float, period_s: float) -> np.ndarray:
    """The beats on their steady grid plus a running median of their distance from it."""
    beats_s = np.asarray(beats_s, dtype=np.float64)
    index = grid_indices(beats_s, period_s=period_s)
    grid = first_beat_s + (index + round((beats_s[0] - first_beat_s) / period_s)) * period_s
    smooth = grid + _running_median(beats_s - grid, DRIFT_SMOOTHING_BEATS)
    return smooth if np.all(np.diff(smooth) > 0) else beats_s


def drift_is_smooth(beats_s: np.ndarray, *, first_beat_s: float, period_s: float) -> bool:
    """Whether beats that stray from their grid do so as a tempo that wanders.

    True when the smoothed beats (:func:`smoothed_beats`) move from the grid
    by less than :data:`MAX_DRIFT_STEP_BEATS` of a beat from one beat to the
    next and the beats keep within :data:`MAX_DRIFT_JITTER_S` of them: a
    band's drift. A tracker that slips to the off-beat and back, or beats
    that scatter, make it False.
    """
    beats_s = np.asarray(beats_s, dtype=np.float64)
    if len(beats_s) < DRIFT_SMOOTHING_BEATS:
        return False
    smooth = smoothed_beats(beats_s, first_beat_s=first_beat_s, period_s=period_s)
    index = grid_indices(beats_s, period_s=period_s)
    offset = smooth - (first_beat_s + index * period_s)
    step = np.max(np.abs(np.diff(offset)) / np.diff(index))
    jitter = np.percentile(np.abs(beats_s - smooth), 95)
    return bool(step < MAX_DRIFT_STEP_BEATS * period_s and jitter < MAX_DRIFT_JITTER_S)


def _running_median(x: np.ndarray, width: int) -> np.ndarray:
    """The median of each `width` neighbours (fewer at the ends)."""
    half = width // 2
    padded = np.pad(x, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return np.median(windows, axis=1)


def _simplify(x: np.ndarray, y: np.ndarray, *, tolerance_s: float) -> np.ndarray:
    """Indices of the knots a greedy walk keeps so that every point lies within tolerance."""
    keep = [0]
    a = 0
    while a < len(x) - 1:
        b = a + 1
        while b + 1 < len(x):
            cand = b + 1
            inner = slice(a + 1, cand)
            line = y[a] + (x[inner] - x[a]) * (y[cand] - y[a]) / (x[cand] - x[a])
            if np.any(np.abs(line - y[inner]) > tolerance_s):
                break
            b = cand
        keep.append(b)
        a = b
    return np.array(keep, dtype=np.int64)


@dataclass(frozen=True)
class Piece:
    """A stretch of a song rendered at one ratio.

    Attributes
    ----------
    source_start_s, source_end_s : float
        The source it plays (seconds).
    output_start_s, output_end_s : float
        Where it is heard (seconds of the output).
    """

    source_start_s: float
    source_end_s: float
    output_start_s: float
    output_end_s: float

    @property
    def speed(self) -> float:
        """Source seconds per output second (> 1: faster)."""
        return (self.source_end_s - self.source_start_s) / (self.output_end_s - self.output_start_s)


def plan_pieces(
    time_map: TimeMap,
    *,
    duration_s: float,
    beats_s: np.ndarray,
    max_piece_s: float = MAX_PIECE_S,
    first_piece_s: float | None = None,
    start_s: float = 0.0,
) -> list[Piece]:
    """Cut the source ``[start_s, duration_s]`` into pieces of one ratio each.

    Pieces end where the map bends and, so that none is longer than
    `max_piece_s` (of output), on the beat closest before that length (a join
    ending on a beat's attack is masked by it).

    Parameters
    ----------
    time_map : TimeMap
    duration_s : float, keyword-only
        The source's length (seconds).
    beats_s : numpy.ndarray, keyword-only
        The source's beats, where a long piece may be cut.
    max_piece_s : float, keyword-only
        Longest piece (seconds of output).
    first_piece_s : float, optional, keyword-only
        A shorter first piece (seconds of output), so that playback can start
        before the whole of a long piece is rendered.
    start_s : float, keyword-only
        Where the first piece starts (source seconds): a song resumed mid-way.

    Returns
    -------
    list of Piece
        Contiguous, covering the source from `start_s` to `duration_s`.
    """
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ParameterError("duration_s", f"must be positive, got {duration_s!r}")
    if not max_piece_s > 0:
        raise ParameterError("max_piece_s", f"must be positive, got {max_piece_s!r}")
    beats_s = np.asarray(beats_s, dtype=np.float64)
    if not 0 <= start_s < duration_s:
        raise ParameterError("start_s", f"must lie in [0, {duration_s:g}), got {start_s!r}")
    bends = [float(k) for k in time_map.source_s[1:-1] if start_s < k < duration_s]
    cuts = [float(start_s), *bends, duration_s]
    bounds = [float(start_s)]
    for a, b in itertools.pairwise(cuts):
        start = a
        while True:
            limit = first_piece_s if (first_piece_s and len(bounds) == 1) else max_piece_s
            end_out = float(time_map.to_output(start)) + limit
            if float(time_map.to_output(b)) <= end_out:
                break
            cut_at = float(time_map.to_source(end_out))
            inside = beats_s[(beats_s > start + 1e-3) & (beats_s <= cut_at)]
            start = float(inside[-1]) if len(inside) else cut_at
            bounds.append(start)
        bounds.append(b)
    src = np.array(bounds)
    out = time_map.to_output(src)
    return [
        Piece(float(src[i]), float(src[i + 1]), float(out[i]), float(out[i + 1]))
        for i in range(len(src) - 1)
        if src[i + 1] > src[i]
    ]


def crossfade_gains(n: int, *, correlation: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Fade-out and fade-in gains over `n` samples that keep the level, float32.

    For two signals of equal power and the given `correlation`, the sum
    ``out * a + in * b`` keeps their power at every sample:
    ``out**2 + in**2 + 2 * correlation * out * in == 1``. Unrelated signals
    (0) get an equal-power fade, identical ones (1) a linear one; signals
    partly out of phase (< 0) are lifted, up to twice, not to dip.

    Parameters
    ----------
    n : int
        Samples.
    correlation : float, keyword-only
        Normalised correlation of the two signals over the fade, -1 to 1.

    Examples
    --------
    >>> fade_out, fade_in = crossfade_gains(4)
    >>> bool(np.allclose(fade_out**2 + fade_in**2, 1.0))
    True
    >>> fade_out, fade_in = crossfade_gains(4, correlation=1.0)
    >>> bool(np.allclose(fade_out + fade_in, 1.0))
    True
    """
    if n < 0:
        raise ParameterError("n", f"must be >= 0, got {n}")
    rho = min(1.0, max(-0.6, float(correlation)))
    x = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    u, v = np.sin(0.5 * np.pi * x) ** 2, np.cos(0.5 * np.pi * x) ** 2
    k = np.minimum(2.0, 1.0 / np.sqrt(u * u + v * v + 2 * rho * u * v))
    return (v * k).astype(np.float32), (u * k).astype(np.float32)


def join_correlated(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """`old` fading into `new` (frames, channels), keeping the level whatever their correlation.

    The gains are :func:`crossfade_gains` for the two signals' measured
    correlation: two renders of the same music meet without a bump, two
    unrelated songs without a dip.
    """
    a, b = old.ravel().astype(np.float64), new.ravel().astype(np.float64)
    power = np.sqrt((a @ a) * (b @ b))
    rho = float(a @ b / power) if power > 0 else 0.0
    fade_out, fade_in = crossfade_gains(len(old), correlation=rho)
    return (old * fade_out[:, None] + new * fade_in[:, None]).astype(np.float32)


def click_samples(
    first_sample: int, *, spm: float, sr: int, n_samples: int, every: int = 1
) -> np.ndarray:
    """The samples of the steps of a grid through `first_sample`, in ``[0, n_samples)``.

    Step ``j`` is at ``first_sample + round(j * 60 * sr / spm)`` (closed form,
    as the metronome's, so no drift builds up); `j` may be negative (steps
    before the grid's anchor). Every `every`-th step from the anchor is kept.

    Examples
    --------
    >>> click_samples(100, spm=180.0, sr=1000, n_samples=1200).tolist()
    [100, 433, 767, 1100]
    """
    if not (math.isfinite(spm) and spm > 0):
        raise ParameterError("spm", f"must be positive, got {spm!r}")
    if every < 1:
        raise ParameterError("every", f"must be 1 or more, got {every}")
    step = 60.0 * sr / spm
    j0 = -math.floor(first_sample / step)
    j1 = math.ceil((n_samples - first_sample) / step) + 1
    j = np.arange(j0, j1, dtype=np.int64)
    j = j[j % every == 0]
    s = first_sample + np.round(j * step).astype(np.int64)
    return s[(s >= 0) & (s < n_samples)]
