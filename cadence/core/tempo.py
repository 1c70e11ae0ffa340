"""Tempo estimation from an onset-strength envelope (pure numpy).

The audio edge (:mod:`cadence.audio.decode`) turns a file into an onset envelope:
spectral flux of a log-mel spectrogram, frame by frame, for the whole band and
for the low band (kick drum, bass). This module finds the tempo in it:

1. Autocorrelate the (locally detrended) envelope over the whole track.
2. Score every tempo on a fine log grid by the autocorrelation at 1, 2, 3
   and 4 beats and at 2, 3 and 4 bars of 4/4 (8, 12, 16 beats): a comb over
   the beats of a bar and whole bars. Each lag reads the highest
   autocorrelation within 0.4 % of it, so a peak between two grid points
   still counts. Weight the scores by a prior that is flat over the range
   most music lives in (80-160 BPM) and falls off outside it, and take the
   best: the *metrical level*. The bar-level lags tell the beat from a pulse
   of three eighths or three sixteenths, which fills the short lags just as
   well; the lag of 3 beats puts a pulse of one and a half beats on an
   offbeat; the flat prior leaves the choice inside the range to the comb.
   A reading that halves a pulse dividing in three (twice the dotted quarter
   of 6/8: no correlation at one or three of its periods, some at two thirds
   of one) is not a level of the metre; the division the music shows, a third
   or two thirds of that pulse, is read instead.
   A tempo range asked for that leaves out part of that octave moves the
   flat octave inside it (a range narrower than an octave is flat all over),
   so a beat outside the range is read at its octave inside it, not at a
   pulse of 3/4 or 3/2 beat.
3. Refine the beat period on the autocorrelation at 1, 2, 4, 8, ... beats:
   a peak at 32 beats pins the period to 1/32 of a frame, which is what gives
   a precision well under 1 BPM on a steady performance.
4. Measure the tempo in windows through the track for its stability, and
   derive a confidence from how clearly the beat stands out and how long the
   track is.

Everything here is general: no parameter depends on a file, a style or a name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cadence.errors import ParameterError

MIN_BPM = 40.0
MAX_BPM = 250.0
#: Tempo range (BPM) where the prior on the beat level is flat: one octave, so
#: every octave family has exactly one member in it.
TYPICAL_BPM_RANGE = (80.0, 160.0)
#: Width (octaves) of the Gaussian fall-off of the prior outside that range.
PRIOR_TAIL_OCTAVES = 0.2
#: Weight of the low band in the combined envelope.
LOW_BAND_WEIGHT = 0.25
#: Lags, in beats, at which the comb score reads the autocorrelation: the
#: beats of a 4/4 bar, then two, three and four bars.
COMB_BEAT_MULTIPLES = (1, 2, 3, 4, 8, 12, 16)
#: Each comb lag reads the highest autocorrelation within this fraction of it
#: (wider than the tempo grid's step, so long lags do not fall between peaks).
COMB_LAG_TOLERANCE = 0.004
#: Autocorrelation under this at one beat period means no periodicity there.
PERIOD_PRESENCE = 0.05
#: A reading with no autocorrelation above this at one and at three of its
#: periods, but some at two thirds of one, halves a pulse that divides in
#: three (see :func:`_divides_in_three`).
ODD_LAG_PRESENCE = 0.0
#: Windows for the stability measure.
STABILITY_WINDOW_S = 16.0
STABILITY_HOP_S = 8.0
#: A window agrees with the track's tempo within this fraction.
STABILITY_TOLERANCE = 0.02
#: Below this much audio the estimate is only a hint (confidence scaled down).
FULL_CONFIDENCE_S = 20.0
MIN_ANALYSIS_S = 3.0
#: Below this confidence (before the scaling for length) there is no beat:
#: a minute of white, pink or brown noise, rain or crackle reads 0.02-0.05 at
#: some tempo (40 s: up to 0.099), the least clear of the 334 development
#: tracks 0.14, real music 0.37. Under half a minute noise scores as high as
#: real music by chance (0.11-0.37 at 16 s), and keeps a low-confidence tempo.
NO_BEAT_CONFIDENCE = 0.1


@dataclass(frozen=True, eq=False)  # it holds arrays: no == or hash
class Periodicity:
    """A track's combined onset envelope and its autocorrelation, as the
    tempo estimate found them (the beat level reads them again).

    Attributes
    ----------
    onset : numpy.ndarray, shape (n_frames,)
        The combined onset envelope: full band, plus the low band weighted.
    acf : numpy.ndarray, shape (n_frames,)
        Its autocorrelation, by lag in frames.
    wide : numpy.ndarray, shape (n_frames,)
        The autocorrelation with each lag the highest within
        :data:`COMB_LAG_TOLERANCE` of it: what the comb reads.
    """

    onset: np.ndarray
    acf: np.ndarray
    wide: np.ndarray


@dataclass(frozen=True)
class TempoEstimate:
    """A track's tempo.

    Attributes
    ----------
    bpm : float or None
        Beats per minute, one decimal; None when there is no beat (silence,
        noise, too short).
    confidence : float
        0 (a guess) to 1 (a clear, steady beat over a long track).
    stability : float or None
        Share of windows through the track whose tempo agrees with `bpm`
        within 2 %; None for a track too short to tell.
    candidates : list of (float, float)
        Other tempo readings with their relative scores, best first.
    periodicity : Periodicity or None
        The onset envelope and autocorrelation the tempo was read from
        (None with no beat).
    """

    bpm: float | None
    confidence: float
    stability: float | None
    candidates: list[tuple[float, float]] = field(default_factory=list)
    periodicity: Periodicity | None = field(default=None, repr=False, compare=False)


NO_BEAT = TempoEstimate(bpm=None, confidence=0.0, stability=None)


def tempo_prior(
    bpms: np.ndarray, *, flat_bpm_range: tuple[float, float] = TYPICAL_BPM_RANGE
) -> np.ndarray:
    """Prior weight of each tempo as the beat level: 1 in the typical range.

    Parameters
    ----------
    bpms : numpy.ndarray
        Tempi (BPM), positive.
    flat_bpm_range : (float, float), keyword-only
        Where the prior is 1 (BPM); :data:`TYPICAL_BPM_RANGE` unless a tempo
        range asked for moves it (:func:`flat_octave`).

    Returns
    -------
    numpy.ndarray
        Same shape, in (0, 1]: 1 inside `flat_bpm_range`, falling off as a
        Gaussian in octaves (width :data:`PRIOR_TAIL_OCTAVES`) outside.

    Examples
    --------
    >>> tempo_prior(np.array([100.0, 160.0, 200.0])).round(3).tolist()
    [1.0, 1.0, 0.274]
    """
    lo, hi = flat_bpm_range
    bpms = np.asarray(bpms, dtype=np.float64)
    outside = np.where(bpms < lo, np.log2(lo / bpms), np.maximum(0.0, np.log2(bpms / hi)))
    return np.exp(-0.5 * (outside / PRIOR_TAIL_OCTAVES) ** 2)


def flat_octave(*, min_bpm: float, max_bpm: float) -> tuple[float, float]:
    """The octave where the prior is flat when tempi from `min_bpm` to `max_bpm` are searched.

    :data:`TYPICAL_BPM_RANGE` when the range holds it; else that octave moved,
    no further than needed, to lie inside the range; for a range narrower
    than an octave, one that holds the whole range (every octave family has at
    most one member there, and the comb alone chooses).

    Examples
    --------
    >>> flat_octave(min_bpm=40.0, max_bpm=250.0)
    (80.0, 160.0)
    >>> flat_octave(min_bpm=100.0, max_bpm=250.0)
    (100.0, 200.0)
    >>> flat_octave(min_bpm=130.0, max_bpm=250.0)
    (125.0, 250.0)
    """
    lo = min(max(TYPICAL_BPM_RANGE[0], min_bpm), max_bpm / 2)
    return lo, 2 * lo


def _detrend(x: np.ndarray, *, frame_rate_hz: float) -> np.ndarray:
    """Half-wave rectified difference from a 1-second moving average."""
    win = max(1, round(frame_rate_hz))
    kernel = np.ones(win) / win
    return np.maximum(0.0, x - np.convolve(x, kernel, mode="same"))


def _fast_length(n: int) -> int:
    """The smallest 2^a * 3^b * 5^c >= n: an FFT size pocketfft does 2-3 times faster
    than one with larger prime factors (twice a minute of frames, 10336, is 2^5 * 17 * 19)."""
    best = 1 << max(0, (n - 1).bit_length())
    five = 1
    while five < best:
        three = five
        while three < best:
            size = three << max(0, (-(-n // three) - 1).bit_length())
            best = min(best, size)
            three *= 3
        five *= 5
    return best


def _autocorrelation(x: np.ndarray) -> np.ndarray:
    """Normalized, overlap-corrected autocorrelation (lag 0 is 1)."""
    x = x - x.mean()
    n = len(x)
    size = _fast_length(2 * n - 1)  # zero padding past 2n - 1 leaves the lags below n alone
    spec = np.fft.rfft(x, size)
    acf = np.fft.irfft(spec * np.conj(spec), size)[:n]
    if acf[0] <= 0:
        return np.zeros(n)
    acf /= acf[0]
    return acf * n / (n - np.arange(n))


def _at(acf: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Linear interpolation of `acf` at fractional `lags` (0 beyond the end)."""
    i = np.floor(lags).astype(int)
    frac = lags - i
    ok = i + 1 < len(acf)
    i = np.where(ok, i, 0)
    return np.where(ok, acf[i] * (1 - frac) + acf[np.minimum(i + 1, len(acf) - 1)] * frac, 0.0)


def _widen(acf: np.ndarray, *, tolerance: float) -> np.ndarray:
    """Running maximum of `acf` over lags within ``tolerance * lag`` (at least 1 frame)."""
    n = len(acf)
    reach = np.maximum(1, np.round(tolerance * np.arange(n))).astype(int)
    widest = int(reach.max())
    padded = np.concatenate([np.full(widest, -np.inf), acf, np.full(widest, -np.inf)])
    out = acf.copy()
    for d in range(1, widest + 1):
        near = np.maximum(padded[widest + d : widest + d + n], padded[widest - d : widest - d + n])
        np.maximum(out, np.where(reach >= d, near, -np.inf), out=out)
    return out


def _comb_scores(wide: np.ndarray, bpms: np.ndarray, *, frame_rate_hz: float) -> np.ndarray:
    """The comb's score of each tempo, on an autocorrelation widened by :func:`_widen`."""
    periods = 60.0 * frame_rate_hz / bpms
    usable = len(wide) * 0.75
    total = np.zeros(len(bpms))
    count = np.zeros(len(bpms))
    for k in COMB_BEAT_MULTIPLES:
        lags = k * periods
        inside = lags < usable
        total += np.where(inside, _at(wide, lags), 0.0)
        count += inside
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def _divides_in_three(wide: np.ndarray, period: float) -> bool:
    """Whether a beat `period` (frames) halves a pulse that divides in three (the
    dotted quarter of 6/8 or 12/8): no correlation at one or three periods, but
    some at two thirds of one. Every other beat of such a reading falls between
    the onsets, yet it fills the comb's even lags as well as the right one.
    """
    odd = max(_at(wide, np.array([period, 3 * period])))
    return bool(
        odd <= ODD_LAG_PRESENCE and _at(wide, np.array([2 * period / 3]))[0] > PERIOD_PRESENCE
    )


def _peak_near(acf: np.ndarray, lag: float, half_width: float) -> float | None:
    """Sub-frame position of the highest autocorrelation peak within lag ± half_width."""
    lo = max(1, math.floor(lag - half_width))
    hi = min(len(acf) - 1, math.ceil(lag + half_width) + 1)
    if hi - lo < 3:
        return None
    seg = acf[lo:hi]
    return lo + sub_frame_peak(seg, int(np.argmax(seg)))


def sub_frame_peak(x: np.ndarray, k: int) -> float:
    """Where the peak at frame `k` of `x` is, to a fraction of a frame.

    The vertex of the parabola through ``x[k - 1 : k + 2]``, at most half a
    frame from `k`; `k` itself at either end of `x` or where the three do not
    curve down.
    """
    if not 0 < k < len(x) - 1:
        return float(k)
    before, peak, after = float(x[k - 1]), float(x[k]), float(x[k + 1])
    curve = before - 2.0 * peak + after
    shift = 0.5 * (before - after) / curve if curve < 0 else 0.0
    return k + min(0.5, max(-0.5, shift))


def refine_period(acf: np.ndarray, period: float, *, max_lag: float) -> float:
    """Refine a beat period (frames) on the autocorrelation peaks at 1, 2, 4, ... beats.

    Where the autocorrelation has nothing at one period (a pulse whose comb
    score comes from its even multiples only), refinement starts at two
    periods, so it locks on a real peak rather than on noise.
    """
    m = 1
    if _at(acf, np.array([period]))[0] < PERIOD_PRESENCE and 2 * period < max_lag:
        m = 2
    first = m
    while True:
        half = 0.03 * m * period if m == first else 2.0
        pos = _peak_near(acf, m * period, half)
        if pos is None:
            break
        period = pos / m
        m *= 2
        if m * period > max_lag:
            break
    return period


def _combined_envelope(envelope: np.ndarray, *, frame_rate_hz: float) -> np.ndarray:
    env = np.atleast_2d(np.asarray(envelope, dtype=np.float64))
    x = _detrend(env[0], frame_rate_hz=frame_rate_hz)
    if env.shape[0] > 1:
        x = x + LOW_BAND_WEIGHT * _detrend(env[1], frame_rate_hz=frame_rate_hz)
    return x


def estimate_tempo(
    envelope: np.ndarray,
    *,
    frame_rate_hz: float,
    min_bpm: float = MIN_BPM,
    max_bpm: float = MAX_BPM,
) -> TempoEstimate:
    """Estimate the tempo of an onset-strength envelope.

    Parameters
    ----------
    envelope : numpy.ndarray, shape (n_frames,) or (n_bands, n_frames)
        Onset strength per frame; with bands, row 0 is the full band and
        row 1 the low band.
    frame_rate_hz : float, keyword-only
        Envelope frames per second.
    min_bpm, max_bpm : float, keyword-only
        Range of tempi considered, ``0 < min_bpm < max_bpm``. A beat outside
        it is read at its octave inside it (twice or half as fast), if any.

    Returns
    -------
    TempoEstimate
        ``bpm`` is None when the envelope has no beat (silence, too short).

    Raises
    ------
    ParameterError
        For a bad frame rate or tempo range.

    Examples
    --------
    >>> fr = 100.0
    >>> env = np.zeros(3000)
    >>> env[:: int(fr * 60 / 120)] = 1.0  # a pulse at 120 BPM for 30 s
    >>> estimate_tempo(env, frame_rate_hz=fr).bpm
    120.0
    """
    if not (math.isfinite(frame_rate_hz) and frame_rate_hz > 0):
        raise ParameterError("frame_rate_hz", f"must be positive, got {frame_rate_hz!r}")
    for name, value in (("min_bpm", min_bpm), ("max_bpm", max_bpm)):
        if not (math.isfinite(value) and value > 0):
            raise ParameterError(name, f"must be a positive number of BPM, got {value!r}")
    if min_bpm >= max_bpm:
        raise ParameterError(
            "min_bpm", f"must be less than max_bpm, got {min_bpm!r} and {max_bpm!r}"
        )
    if np.asarray(envelope).shape[-1] < MIN_ANALYSIS_S * frame_rate_hz:
        return NO_BEAT
    x = _combined_envelope(envelope, frame_rate_hz=frame_rate_hz)
    duration_s = len(x) / frame_rate_hz
    if not np.any(x > 1e-9):
        return NO_BEAT
    acf = _autocorrelation(x)

    # A grid of 240 tempi an octave, from the range's own lower bound.
    bpms = min_bpm * 2 ** np.arange(0, math.log2(max_bpm / min_bpm) + 1e-9, 1 / 240)
    wide = _widen(acf, tolerance=COMB_LAG_TOLERANCE)
    scores = _comb_scores(wide, bpms, frame_rate_hz=frame_rate_hz)
    if not np.any(scores > 0):
        return NO_BEAT
    prior = tempo_prior(bpms, flat_bpm_range=flat_octave(min_bpm=min_bpm, max_bpm=max_bpm))
    weighted = np.maximum(scores, 0.0) * prior
    best = int(np.argmax(weighted))
    if _divides_in_three(wide, 60.0 * frame_rate_hz / bpms[best]):
        # Not a level of the metre: read the division the music shows instead,
        # a third or two thirds of the pulse it halves, whichever the comb prefers.
        near = [
            int(np.argmin(np.abs(bpms - bpms[best] * f)))
            for f in (1.5, 0.75)
            if min_bpm <= bpms[best] * f <= max_bpm
        ]
        best = max(near, key=lambda j: weighted[j], default=best)

    period = 60.0 * frame_rate_hz / bpms[best]
    period = refine_period(acf, period, max_lag=0.5 * len(acf))
    bpm = 60.0 * frame_rate_hz / period

    # Confidence: how far the beat's comb score stands above the typical score.
    top = float(scores[best])
    typical = float(np.median(np.maximum(scores, 0.0)))
    clarity = max(0.0, min(1.0, (top - typical) / (abs(top) + 1e-9)))
    clarity *= max(0.0, min(1.0, top / 0.3))
    length = min(1.0, duration_s / FULL_CONFIDENCE_S)
    stability = _stability(x, bpm=bpm, frame_rate_hz=frame_rate_hz)
    steady_clarity = clarity * (1.0 if stability is None else 0.5 + 0.5 * stability)
    if steady_clarity < NO_BEAT_CONFIDENCE:
        return NO_BEAT  # noise: some tempo always scores best, by chance
    confidence = steady_clarity * length

    candidates = []
    for factor in (0.5, 2.0, 2.0 / 3.0, 1.5):
        alt = bpm * factor
        if min_bpm <= alt <= max_bpm:
            j = int(np.argmin(np.abs(bpms - alt)))
            candidates.append((round(float(alt), 1), round(float(weighted[j] / weighted[best]), 3)))
    candidates.sort(key=lambda c: -c[1])
    return TempoEstimate(
        bpm=round(float(bpm), 1),
        confidence=round(confidence, 3),
        stability=stability,
        candidates=candidates,
        periodicity=Periodicity(onset=x, acf=acf, wide=wide),
    )


def _stability(x: np.ndarray, *, bpm: float, frame_rate_hz: float) -> float | None:
    """Share of windows whose local tempo agrees with `bpm` within 2 %."""
    win = int(STABILITY_WINDOW_S * frame_rate_hz)
    hop = int(STABILITY_HOP_S * frame_rate_hz)
    if len(x) < win + hop:
        return None
    period = 60.0 * frame_rate_hz / bpm
    agree = total = 0
    for start in range(0, len(x) - win + 1, hop):
        seg = x[start : start + win]
        if not np.any(seg > 1e-9):
            continue  # a silent stretch says nothing about the tempo
        acf = _autocorrelation(seg)
        total += 1
        # Search a wider range than the tolerance, so a drifting tempo shows.
        local = _peak_near(acf, period, 0.08 * period)
        if local is None:
            continue
        local = refine_period(acf, local, max_lag=0.5 * len(acf))
        if abs(local / period - 1) <= STABILITY_TOLERANCE:
            agree += 1
    return round(agree / total, 3) if total else None
