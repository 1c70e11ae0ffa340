"""The beats at a track's edges (pure numpy): its first beats put back on the
grid, and the beats the dynamic programme leaves out at the start and end.

:func:`cadence.core.beats.track_beats` calls both after placing the beats:
:func:`mend_start` for an intro the programme ran ahead in, :func:`extend_ends`
for a beat on the first samples and the last one or two before the end.
"""

from __future__ import annotations

import numpy as np

from cadence.core.tempo import sub_frame_peak


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    kernel = np.hanning(width + 2)[1:-1]
    return np.convolve(x, kernel / kernel.sum(), mode="same")


def _peak(f: np.ndarray, lo: int, hi: int) -> tuple[float, float]:
    """The strongest frame of ``f[lo:hi]``: its position (frames, to a fraction
    of one by the parabola through it and its neighbours) and its value.

    Whole frames would put an edge beat up to half a frame (2.9 ms) off.
    """
    k = lo + int(np.argmax(f[lo:hi]))
    return sub_frame_peak(f, k), float(f[k])


#: Beats whose line makes a track's start: a leading beat further than
#: :data:`START_TOLERANCE_S` from it is put back on it.
START_WINDOW_BEATS = 8
START_TOLERANCE_S = 0.025


def _line_through(times: np.ndarray, at: float) -> tuple[float, float]:
    """The least-squares line through `times` (index 0, 1, ...), evaluated at index `at`,
    and the largest distance of `times` from it."""
    k = np.arange(len(times), dtype=np.float64)
    slope, intercept = np.polyfit(k, times, 1)
    return intercept + slope * at, float(np.abs(times - (intercept + slope * k)).max())


def mend_start(
    beats_s: np.ndarray,
    fine: np.ndarray,
    *,
    fine_rate_hz: float,
    fine_start_s: float,
    window: int = START_WINDOW_BEATS,
    tolerance_s: float = START_TOLERANCE_S,
) -> np.ndarray:
    """Put a track's first beats back on the grid the beats after them keep.

    At the start the dynamic programme has no beats before to hold it, and in
    a soft intro it can run ahead of the beat for a few bars (up to 98 ms on
    a music-dev song). From the first `window` beats that keep a steady local
    line, each earlier beat is predicted from the `window` beats after it;
    one off by more than `tolerance_s` is moved to the prediction and then
    to the strongest fine onset within `tolerance_s` of it. (The same at the
    end did not help: the beats that stray there belong to whole sections
    tracked off the beat, and one song lost 7 points of F.)
    """
    beats = np.asarray(beats_s, dtype=np.float64).copy()
    n = len(beats)
    if n < 2 * window:
        return beats
    f = _smooth(np.asarray(fine, dtype=np.float64), 3)

    def snap(t: float) -> float:
        lo = max(0, int(np.floor((t - tolerance_s - fine_start_s) * fine_rate_hz)))
        hi = min(len(f), int(np.ceil((t + tolerance_s - fine_start_s) * fine_rate_hz)) + 1)
        if hi - lo < 3:
            return t
        at, value = _peak(f, lo, hi)
        return fine_start_s + at / fine_rate_hz if value > np.median(f) else t

    steady = next(
        (
            i
            for i in range(n - window)
            if _line_through(beats[i : i + window], 0)[1] <= tolerance_s / 2
        ),
        None,
    )
    for i in range(steady - 1, -1, -1) if steady else ():
        predicted, _ = _line_through(beats[i + 1 : i + 1 + window], -1)
        if abs(beats[i] - predicted) > tolerance_s:
            beats[i] = snap(predicted)
    return np.maximum.accumulate(beats)


#: A beat the grid predicts beyond the first or last found is added when an
#: onset stands there at least this share of the median beat's. (0.5 with
#: the fine function at 345 frames a second; at 172, whose peaks stand less
#: far above the rest, 0.45 finds the same edge beats of the development
#: sets: 288 of music-dev's 319 in their first and last 3 s, 310 added or kept,
#: as before.)
END_ONSET_SHARE = 0.45
#: How far before the first sample an added beat's onset may peak (its own
#: precision: an attack on sample 0 peaks 1.4 ms before it), seconds.
START_SLACK_S = 0.005
#: In a window read from the middle of a file, how long after its start the
#: onsets are the music's (the fine window, 23 ms, and as much again), seconds.
MID_FILE_START_S = 0.05


def _strengths_near(frames: np.ndarray, f: np.ndarray, *, reach: int) -> np.ndarray:
    """The strongest value of `f` within `reach` of each of `frames` whose window
    lies inside `f` (as ``peak_near`` finds them, for all beats at once: one
    call a beat took 0.6 ms of a 60 s song)."""
    js = np.asarray(frames, dtype=np.intp)
    js = js[(js >= 0) & (js + reach < len(f))]
    # -inf before the start, so a window cut there keeps only the frames inside.
    padded = np.concatenate([np.full(reach, -np.inf), f])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1)
    return windows[js].max(axis=1)


def extend_ends(
    beats_s: np.ndarray,
    fine: np.ndarray,
    *,
    fine_rate_hz: float,
    fine_start_s: float,
    earliest_s: float = -START_SLACK_S,
    window: int = START_WINDOW_BEATS,
    tolerance_s: float = START_TOLERANCE_S,
    share: float = END_ONSET_SHARE,
) -> np.ndarray:
    """Add the beats the grid predicts before the first and after the last, where onsets stand.

    The dynamic programme loses beats at the edges of a track: one on its
    first samples (the coarse flux cannot peak before the first frame), and
    the last one or two, which the backtracking's final beat ends before.
    Each beat one period beyond the ends (from the line through the `window`
    nearest beats) is kept while it falls inside the fine onset function and
    the strongest fine onset within `tolerance_s` of it is at least `share`
    of the median beat's; it is put on that onset, if that is not before
    `earliest_s` (the track's start, less the onset's own precision; in a
    window read from the middle of a file, where the audio starts
    from the silence before it, a little after the window's start).

    Examples
    --------
    >>> fine = np.zeros(400)
    >>> fine[[50, 150, 250, 350]] = 1.0  # onsets every 100 frames
    >>> extend_ends(np.array([1.5, 2.5]), fine, fine_rate_hz=100.0, fine_start_s=0.0, window=2)
    array([0.5, 1.5, 2.5, 3.5])
    """
    beats = [float(t) for t in np.asarray(beats_s, dtype=np.float64)]
    f = _smooth(np.asarray(fine, dtype=np.float64), 3)
    if len(beats) < window or len(f) < 3:
        return np.asarray(beats)
    reach = max(1, round(tolerance_s * fine_rate_hz))

    def frame_of(t: float) -> int:
        return round((t - fine_start_s) * fine_rate_hz)

    def peak_near(t: float) -> tuple[float, float] | None:
        """The strongest fine onset within `tolerance_s` of `t` (time, value), if inside."""
        j = frame_of(t)
        if j < 0 or j + reach >= len(f):
            return None  # beyond the onset function's ends
        lo, hi = max(0, j - reach), min(len(f), j + reach + 1)
        at, value = _peak(f, lo, hi)
        return fine_start_s + at / fine_rate_hz, value

    strengths = _strengths_near([frame_of(t) for t in beats], f, reach=reach)
    if not len(strengths):
        return np.asarray(beats)
    floor = max(share * float(np.median(strengths)), float(np.median(f)))
    for at_end in (False, True):
        for _ in range(4):  # a few beats at most: a longer gap is the music's
            near = beats[-window:] if at_end else beats[:window]
            predicted, _ = _line_through(np.asarray(near), len(near) if at_end else -1)
            found = peak_near(predicted)
            if found is None or found[1] < floor or found[1] <= 0 or found[0] < earliest_s:
                break  # no onset there, or one before the audio (its tail shows)
            t = max(0.0, found[0])
            if at_end and t > beats[-1]:
                beats.append(t)
            elif not at_end and t < beats[0]:
                beats.insert(0, t)
            else:
                break
    return np.asarray(beats)
