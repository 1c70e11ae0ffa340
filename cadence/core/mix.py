"""A session of songs on one step grid: where each song plays, its fades, its level.

Every song of a session is stretched so that its beats fall on the steps
(:mod:`cadence.core.songplan`); :func:`place_songs` then decides where in the
session each plays. The steps are the metronome's: step ``j`` at sample
``anchor + round(j * 60 * sr / spm)``. Each song is placed so that a downbeat
of it (its first, or its first beat when downbeats are unknown) lands on a
step that starts a bar (``j`` a multiple of `bar_steps`); the next song
fades in over `crossfade_steps` steps while the one before fades out, their
beats on the same steps, so the runner's step never changes. A song's intro
before its first downbeat is cut to the crossfade (or, for the first song,
to less than a bar), and it ends a step after its last beat (an outro's
silence is not played). Each song is brought to one loudness
(:func:`loudness_gain`), so the runner does not reach for the volume.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass

import numpy as np

from cadence.core.session import music_rates
from cadence.errors import ParameterError

#: Steps over which one song fades into the next.
CROSSFADE_STEPS = 8
#: Steps in a bar: downbeats of every song land on a multiple of it.
BAR_STEPS = 4
#: The fade-in where a song's intro is cut, and the fade-out where the session is (seconds).
EDGE_FADE_S = 0.05
#: Every song is brought to this level (dBFS RMS over its sounding parts) ...
TARGET_LEVEL_DB = -16.0
#: ... lifted by at most this much (a quiet recording's noise is not blown up),
MAX_LIFT_DB = 9.0
#: ... and never so far that its peaks pass this (dBFS).
PEAK_CEILING_DB = -1.0
#: Blocks (seconds) whose level is measured; those 20 dB under the loudest
#: tenth are silence or a fade and do not count (a gate, as loudness meters have).
LEVEL_BLOCK_S = 0.4
LEVEL_GATE_DB = 20.0


def loudness_gain(samples: np.ndarray, *, sr: int) -> float:
    """The gain that brings a song to :data:`TARGET_LEVEL_DB`, within the limits.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n_samples, n_channels)
    sr : int, keyword-only

    Returns
    -------
    float
        A linear gain; 1.0 for silence.

    Examples
    --------
    >>> t = np.arange(44100) / 44100
    >>> loud = 0.9 * np.sin(2 * np.pi * 440 * t)[:, None]  # -3.9 dBFS RMS
    >>> round(float(20 * np.log10(loudness_gain(loud, sr=44100))), 1)
    -12.1
    """
    x = np.asarray(samples, dtype=np.float32)
    n = max(1, round(LEVEL_BLOCK_S * sr))
    blocks = len(x) // n
    if blocks == 0:
        return 1.0
    power = np.mean(x[: blocks * n].reshape(blocks, -1).astype(np.float64) ** 2, axis=1)
    if not np.any(power > 1e-10):
        return 1.0
    loud = np.percentile(power, 90)
    gated = power[power >= loud * 10 ** (-LEVEL_GATE_DB / 10)]
    level_db = 10 * np.log10(np.mean(gated))
    gain_db = min(TARGET_LEVEL_DB - level_db, MAX_LIFT_DB)
    peak = float(np.max(np.abs(x)))
    if peak > 0:
        gain_db = min(gain_db, PEAK_CEILING_DB - 20 * np.log10(peak))
    return float(10 ** (gain_db / 20))


@dataclass(frozen=True)
class SongTiming:
    """What placing needs to know of a stretched song (samples of its own output).

    Attributes
    ----------
    length : int
        Samples of the stretched song.
    downbeat : int
        A beat of it to put on a bar's first step: its first downbeat, or its
        first beat.
    last_beat : int
        Its last beat.
    """

    length: int
    downbeat: int
    last_beat: int


@dataclass(frozen=True)
class Placement:
    """Where one song plays in the session.

    Attributes
    ----------
    song : int
        Index of the song in the list given.
    start : int
        Session sample where its playing starts.
    first, end : int
        The samples of the song's own output played: ``[first, end)``.
    fade_in, fade_out : int
        Samples of fade at the start and at the end.
    """

    song: int
    start: int
    first: int
    end: int
    fade_in: int
    fade_out: int

    @property
    def stop(self) -> int:
        """Session sample where its playing ends."""
        return self.start + self.end - self.first

    def to_session(self, own_sample: float) -> float:
        """The session sample of a sample of the song's own output."""
        return self.start + own_sample - self.first


def step_sample(j: int, *, anchor: int, spm: float, sr: int) -> int:
    """Session sample of step `j`: ``anchor + round(j * 60 * sr / spm)``.

    The metronome's closed form, computed as :class:`cadence.core.render.BeatRenderer`
    computes it (an integer numerator, one division), so the two agree to the sample.
    """
    return anchor + round(j * 60 * sr / spm)


def first_step_at(x: float, *, anchor: int, spm: float, sr: int) -> int:
    """The first step (:func:`step_sample`) of the grid from `anchor` at or after sample `x`."""
    j = max(0, math.floor((x - anchor) * spm / (60.0 * sr)) - 1)
    while step_sample(j, anchor=anchor, spm=spm, sr=sr) < x - 1e-9:
        j += 1
    return step_sample(j, anchor=anchor, spm=spm, sr=sr)


#: A ramp of the music's tempo goes in stairs of at most this much (spm): a
#: 0.3 % step of tempo is not heard, and each stair re-plans the playing song.
RAMP_STAIR_SPM = 0.5


def ramp_stairs(
    start_spm: float,
    end_spm: float,
    *,
    over_s: float,
    anchor: int,
    sr: int,
    most_spm: float = RAMP_STAIR_SPM,
) -> list[tuple[int, float]]:
    """A tempo ramp as stairs, each on a step of the grid before it.

    The grid starts at `anchor` at `start_spm`; stair ``k`` of ``n`` (the
    fewest of at most `most_spm` each) moves to
    ``start + (end - start) * k / n`` at the first step at or after
    ``anchor + over_s * k / n`` (and after the stair before: stairs due
    faster than the steps come go one a step, the ramp a little late), and
    starts a grid of its own there.

    Returns
    -------
    list of (int, float)
        Each stair's sample and tempo; the last is `end_spm`.

    Examples
    --------
    >>> [(at, spm) for at, spm in ramp_stairs(160, 161, over_s=10, anchor=0, sr=1000)]
    [(5250, 160.5), (10110, 161.0)]
    """
    if not (math.isfinite(over_s) and over_s > 0):
        raise ParameterError("ramp_over", f"must be positive, got {over_s!r}")
    n = max(1, math.ceil(abs(end_spm - start_spm) / most_spm - 1e-9))
    out = []
    grid_at, rate = anchor, float(start_spm)
    for k in range(1, n + 1):
        # Stairs due faster than the steps come go one a step (the ramp a little late).
        due = max(anchor + over_s * sr * k / n, grid_at + 1)
        at = first_step_at(due, anchor=grid_at, spm=rate, sr=sr)
        rate = start_spm + (end_spm - start_spm) * k / n
        out.append((at, float(rate)))
        grid_at = at
    return out


@dataclass(frozen=True)
class RampedProgramme:
    """A run/walk programme under a ramp, laid on the music's grid.

    Samples count from the end of the count-in (add the session's anchor).

    Attributes
    ----------
    part_ends : tuple of int
        Where each part played ends, in playing order (the rounds one after
        the other): a bar of the music in force there.
    part_rates : tuple of float
        The music's rate at each part's start.
    ramped : tuple of bool
        Whether each part follows the ramp (a run at the session's target).
    stairs : tuple of (int, float)
        The ramp's stairs inside the runs: a step of the grid before, and the new rate.
    ramp_end : int
        The first sample from which every run is at the target.
    """

    part_ends: tuple[int, ...]
    part_rates: tuple[float, ...]
    ramped: tuple[bool, ...]
    stairs: tuple[tuple[int, float], ...]
    ramp_end: int

    @property
    def part_starts(self) -> tuple[int, ...]:
        return (0, *self.part_ends[:-1])


def ramped_programme(
    intervals: tuple,
    *,
    spm: float,
    ramp_from_spm: float,
    ramp_over_s: float,
    sr: int,
    total: int | None = None,
    repeat: int | None = None,
    bar_steps: int = BAR_STEPS,
    most_spm: float = RAMP_STAIR_SPM,
) -> RampedProgramme:
    """A programme (:class:`cadence.core.session.Interval`) whose runs ramp to `spm`.

    The ramp is the metronome's, in stairs (:func:`ramp_stairs`): stair
    ``k`` of ``n`` (at most `most_spm` each) is due at ``ramp_over_s * k / n``
    of session time. A run at the target starts at the last stair due and
    moves to each next one at the first step of its grid at or after it is
    due; a walk without a beat holds the rate the part before it ended on
    (its music plays on); a part with its own rate keeps it. Each part lasts
    the whole bars nearest its duration, counted from its start through its
    stairs, so the next part's first click falls on a bar of the music.

    Parameters
    ----------
    intervals : tuple of Interval
    spm, ramp_from_spm : float, keyword-only
        The target, and the ramp's start.
    ramp_over_s : float, keyword-only
    sr : int, keyword-only
    total : int, optional, keyword-only
        The session's length (samples): the parts up to it.
    repeat : int, optional, keyword-only
        Rounds of the programme; None: until `total`.

    Raises
    ------
    ParameterError
        For neither `total` nor `repeat` (an endless programme), or a bad ramp.

    Examples
    --------
    >>> from cadence.core.session import parse_intervals
    >>> p = ramped_programme(parse_intervals("run:30s,walk:10s"), spm=170, ramp_from_spm=165,
    ...                      ramp_over_s=60, sr=1000, repeat=2)
    >>> p.part_rates, len(p.stairs), p.ramp_end
    ((165.0, 167.5, 168.0, 170.0), 9, 60284)
    """
    if total is None and repeat is None:
        raise ParameterError("total", "an endless programme: give `total` or `repeat`")
    if not (math.isfinite(ramp_over_s) and ramp_over_s > 0):
        raise ParameterError("ramp_over", f"must be positive, got {ramp_over_s!r}")
    n = max(1, math.ceil(abs(spm - ramp_from_spm) / most_spm - 1e-9))
    due = [ramp_over_s * sr * k / n for k in range(1, n + 1)]
    values = [float(ramp_from_spm + (spm - ramp_from_spm) * k / n) for k in range(n + 1)]
    values[-1] = float(spm)

    ends: list[int] = []
    rates: list[float] = []
    ramped: list[bool] = []
    stairs: list[tuple[int, float]] = []
    ramp_end = None
    start, rate_before = 0, None
    rounds = range(repeat) if repeat is not None else itertools.count()
    parts = (interval for _ in rounds for interval in intervals)
    for interval in parts:
        if total is not None and start >= total:
            break
        nominal = start + interval.duration_s * sr
        follows = interval.spm is None and not interval.silent
        if interval.spm is not None:
            rate = float(interval.spm)
        elif interval.silent:
            # A walk first: the rate of the part before it, a round back (a run: the ramp's start).
            first = music_rates(intervals, spm=values[0])[0]
            rate = rate_before if rate_before is not None else float(first)
        else:
            rate = values[bisect.bisect_right(due, start)]
        rates.append(rate)
        ramped.append(follows)
        if follows:
            if ramp_end is None and rate == values[-1]:
                ramp_end = start
            end, inside = _ramped_part(
                start, nominal, rate, due=due, values=values, sr=sr, bar_steps=bar_steps
            )
            for at, value in inside:
                stairs.append((at, value))
                if ramp_end is None and value == values[-1]:
                    ramp_end = at
            rate = inside[-1][1] if inside else rate  # the rate it ends on
        else:
            bars = max(1, round((nominal - start) * rate / (bar_steps * 60.0 * sr)))
            end = start + round(bars * bar_steps * 60.0 * sr / rate)
        ends.append(end)
        rate_before, start = rate, end
    return RampedProgramme(
        tuple(ends),
        tuple(rates),
        tuple(ramped),
        tuple(stairs),
        ends[-1] if ramp_end is None else ramp_end,
    )


def _ramped_part(start, nominal, rate, *, due, values, sr, bar_steps):
    """A run under the ramp from `start` (at `rate`): its end, and its stairs before it."""
    k = bisect.bisect_right(due, start)
    grid, j, count = start, 0, 0
    bar_before = None
    stairs: list[tuple[int, float]] = []
    while True:
        j += 1
        count += 1
        at = grid + round(j * 60.0 * sr / rate)
        if count % bar_steps == 0:
            if at >= nominal:
                if bar_before is not None and nominal - bar_before < at - nominal:
                    at = bar_before
                break
            bar_before = at
        if k < len(due) and at >= due[k]:
            k += 1  # one stair a step, however many are due (the ramp a little late)
            rate, grid, j = values[k], at, 0
            stairs.append((at, rate))
    return at, [s for s in stairs if s[0] < at]


def _bar_at_or_before(x: float, *, step: float, bar: int, phase: int) -> int:
    """The last step ``j <= x / step`` that starts a bar (``(j + phase) % bar == 0``)."""
    j = math.floor(x / step)
    return j - (j + phase) % bar


def place_songs(
    songs: list[SongTiming],
    *,
    sr: int,
    spm: float,
    anchor: int = 0,
    total: int | None = None,
    crossfade_steps: int = CROSSFADE_STEPS,
    bar_steps: int = BAR_STEPS,
    resume: int | None = None,
    first_end: int | None = None,
    bar_phase: int = 0,
) -> list[Placement]:
    """Place `songs` one after the other on the step grid, each fading into the next.

    Parameters
    ----------
    songs : list of SongTiming
        In playing order. With `total`, the list is played again from the
        start while the session lasts.
    sr : int, keyword-only
        Sample rate (Hz).
    spm : float, keyword-only
        The cadence: steps a minute.
    anchor : int, keyword-only
        Session sample of step 0 (where the music starts: after a count-in).
    total : int, optional, keyword-only
        Session length (samples); the music fades out at its end. None: the
        songs once, and the session ends with the last one.
    crossfade_steps, bar_steps : int, keyword-only
    resume : int, optional, keyword-only
        The first song is already playing: sample `resume` of its own output
        is heard at `anchor` (a step), with no fade-in (a live change of
        tempo or of song continues it from there).
    first_end : int, optional, keyword-only
        The first song ends here (a sample of its own output) instead of a
        step after its last beat: the next song fades in at the first bar it
        can (a live "next song").
    bar_phase : int, keyword-only
        The step at `anchor` is step `bar_phase` of a bar: bars start where
        ``(j + bar_phase) % bar_steps == 0``.

    Returns
    -------
    list of Placement
        In playing order; each song's chosen downbeat on a step that starts a bar.

    Raises
    ------
    ParameterError
        For no songs, a bad cadence, sample rate or lengths.

    Examples
    --------
    >>> a = SongTiming(length=441000, downbeat=22050, last_beat=430000)
    >>> p = place_songs([a, a], sr=44100, spm=180.0)
    >>> p[1].start < p[0].stop, p[1].fade_in == p[0].fade_out
    (True, True)
    """
    if not songs:
        raise ParameterError("songs", "no song to place")
    if not (math.isfinite(spm) and spm > 0):
        raise ParameterError("spm", f"must be positive, got {spm!r}")
    if sr <= 0:
        raise ParameterError("sr", f"must be positive, got {sr!r}")
    for s in songs:
        if not 0 <= s.downbeat <= s.last_beat < s.length:
            raise ParameterError("songs", f"a song's beats must lie inside it, got {s}")
    step = 60.0 * sr / spm
    xfade = round(crossfade_steps * step)
    edge = round(EDGE_FADE_S * sr)
    bar = bar_steps
    phase = bar_phase % bar

    s0 = songs[0]
    if resume is not None:
        if not 0 <= resume < s0.length:
            raise ParameterError("resume", f"must lie inside the first song, got {resume}")
        placed = [_Open(0, anchor, resume, 0)]
    else:
        # The first song: its downbeat on the first bar step it can reach from
        # its own start, so that less than a bar of its intro is cut.
        j = _bar_at_or_before(s0.downbeat, step=step, bar=bar, phase=phase)
        if j < 0:  # (a bar phase) the first bar comes after the downbeat: start later
            j += bar
        at = step_sample(j, anchor=anchor, spm=spm, sr=sr)
        first = max(0, s0.downbeat - (at - anchor))
        start = at - s0.downbeat + first
        placed = [_Open(0, start, first, edge if first > 0 else 0)]
    i = 1
    while True:
        prev = placed[-1]
        p_song = songs[prev.song]
        natural_end = min(p_song.length, p_song.last_beat + round(step))
        if i == 1 and first_end is not None:
            natural_end = max(prev.first + 1, min(natural_end, first_end))
        if total is not None and prev.start + natural_end - prev.first >= total:
            break
        if total is None and i >= len(songs):
            break
        nxt_index = i % len(songs)
        nxt = songs[nxt_index]
        lead = min(nxt.downbeat, xfade)  # the next song plays from `lead` before its downbeat
        fade_start = prev.start + natural_end - prev.first - xfade
        if not (i == 1 and (resume is not None or first_end is not None)):
            fade_start = max(fade_start, prev.start + (p_song.downbeat - prev.first))
        # The bar at or before: the fade ends before this song's own end.
        j = _bar_at_or_before(fade_start + lead - anchor, step=step, bar=bar, phase=phase)
        start = step_sample(j, anchor=anchor, spm=spm, sr=sr) - lead
        while start <= prev.start:  # a song shorter than the crossfade: the next after it
            j += bar
            start = step_sample(j, anchor=anchor, spm=spm, sr=sr) - lead
        placed.append(_Open(nxt_index, start, nxt.downbeat - lead, xfade))
        i += 1
        if i > 100_000:  # a day of one-second songs: never reached by a real session
            raise ParameterError("songs", "too many songs for one session")

    out = []
    for k, p in enumerate(placed):
        song = songs[p.song]
        if k + 1 < len(placed):
            nxt = placed[k + 1]
            end = min(song.length, nxt.start + nxt.fade_in - p.start + p.first)
            fade_out = max(0, min(nxt.fade_in, end - (nxt.start - p.start + p.first)))
        else:
            end = song.length
            fade_out = 0
            if total is not None and p.start + end - p.first > total:
                end = total - p.start + p.first
                fade_out = min(xfade // 2, end - p.first)
        out.append(Placement(p.song, p.start, p.first, end, p.fade_in, fade_out))
    return out


@dataclass(frozen=True)
class _Open:
    song: int
    start: int
    first: int
    fade_in: int
