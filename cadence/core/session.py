"""A metronome session: its tempo over time, as sample-exact segments.

A session is the target cadence plus options: a duration, a run/walk interval
programme repeated N times, a ramp from a starting cadence, a count-in. It
compiles into a stream of :class:`Segment` objects, each a stretch of session
time (in samples, from 0 at the end of the count-in) with a tempo that is
constant or changes linearly, so the beat times are the exact running
integral of the tempo.

Interval programmes are written ``[LABEL:]DURATION[@SPM|@off]`` joined by
commas, e.g. ``run:2m,walk:1m`` (run at the target, walk in silence),
``2m,1m@120`` (labels alternate run/walk; walk with a beat at 120), or
``run:4m,walk:1m@off``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from cadence.core.durations import parse_duration_s
from cadence.errors import ParameterError

MIN_SPM = 40.0
MAX_SPM = 240.0
#: The longest session, interval or ramp: a day (longer is a typing mistake).
MAX_SESSION_S = 24 * 3600.0
#: The most times a programme is repeated.
MAX_REPEAT = 1000
#: Beat voices (synthesized in :mod:`cadence.core.synth`), in the order the CLI lists them.
VOICES = ("click", "beep", "woodblock")


def check_metronome_spm(spm: float, *, parameter: str = "spm") -> float:
    """`spm` as a float if it is a metronome rate in [40, 240]; else ParameterError."""
    if isinstance(spm, bool) or not isinstance(spm, (int, float)) or not math.isfinite(spm):
        raise ParameterError(parameter, f"must be a number of steps/min, got {spm!r}")
    if not MIN_SPM <= spm <= MAX_SPM:
        raise ParameterError(
            # .10g: 240.0001 is not shown as the 240 it is refused for
            parameter,
            f"{spm:.10g} steps/min is outside the metronome's {MIN_SPM:g}-{MAX_SPM:g}",
        )
    return float(spm)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h"


@dataclass(frozen=True)
class Interval:
    """One part of a run/walk programme.

    Attributes
    ----------
    label : str
        What the runner does ("run", "walk", ...).
    duration_s : float
        Length in seconds.
    spm : float or None
        Own beat rate; None for the session target (runs) or silence (walks),
        see `silent`.
    silent : bool
        No beat during this part.
    """

    label: str
    duration_s: float
    spm: float | None = None
    silent: bool = False


_INTERVAL_RE = re.compile(r"^(?:(?P<label>[A-Za-z][\w-]*):)?(?P<dur>[^@]+)(?:@(?P<rate>.+))?$")


def parse_intervals(spec: str) -> tuple[Interval, ...]:
    """Parse an interval programme such as ``run:2m,walk:1m``.

    A part without a label is "run" in odd and "walk" in even positions. A run
    (and a part of any other label: "jog", "hill") beats at the session's
    target, a walk is silent, unless ``@SPM`` or ``@off`` says otherwise.

    Raises
    ------
    ParameterError
        If a part is malformed; the message names the part.

    Examples
    --------
    >>> [(i.label, i.duration_s, i.spm, i.silent) for i in parse_intervals("2m,1m@120")]
    [('run', 120.0, None, False), ('walk', 60.0, 120.0, False)]
    >>> parse_intervals("run:4m,walk:90s")[1].silent
    True
    """
    parts = [p.strip() for p in str(spec).split(",")]
    if not parts or any(not p for p in parts):
        raise ParameterError("intervals", f"{spec!r}: expected parts like run:2m,walk:1m")
    out = []
    for i, part in enumerate(parts):
        m = _INTERVAL_RE.match(part)
        if not m:
            raise ParameterError(
                "intervals", f"cannot read part {part!r}; write e.g. run:2m or 1m@120"
            )
        label = (m.group("label") or ("run" if i % 2 == 0 else "walk")).lower()
        duration_s = parse_duration_s(m.group("dur"), parameter="intervals")
        rate = m.group("rate")
        if rate is None:
            spm, silent = None, label == "walk"
        elif rate.strip().lower() in ("off", "silent", "0"):
            spm, silent = None, True
        else:
            try:
                value = float(rate)
            except ValueError:
                raise ParameterError(
                    "intervals", f"part {part!r}: {rate!r} is not a rate; write @SPM or @off"
                ) from None
            spm, silent = check_metronome_spm(value, parameter="intervals"), False
        out.append(Interval(label=label, duration_s=duration_s, spm=spm, silent=silent))
    return tuple(out)


@dataclass(frozen=True)
class Session:
    """Everything that decides when a beat sounds.

    Attributes
    ----------
    spm : float
        Target cadence, steps per minute (40-240, fractional allowed).
    duration_s : float or None
        Session length after the count-in; None plays until stopped (or until
        the interval programme ends).
    intervals : tuple of Interval
        Run/walk programme; empty for one continuous run.
    repeat : int or None
        How often the programme runs; None repeats until `duration_s`.
    ramp_from_spm, ramp_over_s : float or None
        Glide the run tempo linearly from `ramp_from_spm` at the start to
        `spm` over the first `ramp_over_s` seconds. Both or neither.
    count_in : int
        Beats before the session (and its timer) starts.
    accent : int
        Accent the first of every `accent` steps (0 or 1: no accents).
    every : int
        Sound only every `every`-th step (1: every step).
    cues : bool
        Sound the change cue and countdown pips at interval changes.
    part_ends_s : tuple of float
        Where the parts end (seconds after the count-in, in playing order,
        the rounds one after the other), in place of their durations: music
        sessions put them on bars of their music. The session ends with the
        last. Empty: from the durations.
    count_in_spm : float or None
        The count-in's tempo, if not the first tempo of the programme (music
        that ramps in stairs while the click holds its offsets).
    """

    spm: float
    duration_s: float | None = None
    intervals: tuple[Interval, ...] = ()
    repeat: int | None = None
    ramp_from_spm: float | None = None
    ramp_over_s: float | None = None
    count_in: int = 0
    accent: int = 0
    every: int = 1
    cues: bool = True
    part_ends_s: tuple[float, ...] = ()
    count_in_spm: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "spm", check_metronome_spm(self.spm))
        if self.duration_s is not None and not (
            math.isfinite(self.duration_s) and self.duration_s > 0
        ):
            raise ParameterError("duration_s", f"must be positive, got {self.duration_s!r}")
        for name in ("duration_s", "ramp_over_s"):
            value = getattr(self, name)
            if value is not None and value > MAX_SESSION_S:
                raise ParameterError(name, f"at most 24 h (a day), got {_hours(value)}")
        for interval in self.intervals:
            if interval.duration_s > MAX_SESSION_S:
                raise ParameterError(
                    "intervals",
                    f"a part lasts at most 24 h (a day); {interval.label} is "
                    f"{_hours(interval.duration_s)}",
                )
        if (self.ramp_from_spm is None) != (self.ramp_over_s is None):
            raise ParameterError("ramp_from_spm", "`ramp_from_spm` and `ramp_over_s` go together")
        if self.ramp_from_spm is not None:
            object.__setattr__(
                self,
                "ramp_from_spm",
                check_metronome_spm(self.ramp_from_spm, parameter="ramp_from_spm"),
            )
            if not (math.isfinite(self.ramp_over_s) and self.ramp_over_s > 0):
                raise ParameterError("ramp_over_s", f"must be positive, got {self.ramp_over_s!r}")
        if self.part_ends_s:
            ends = self.part_ends_s
            if not self.intervals or any(b <= a for a, b in itertools.pairwise((0.0, *ends))):
                raise ParameterError("part_ends_s", "needs `intervals`, and rising ends after 0")
        if self.count_in_spm is not None:
            check_metronome_spm(self.count_in_spm, parameter="count_in_spm")
        if self.intervals and all(i.silent for i in self.intervals):
            # Nothing would ever sound: a renderer would look for a first beat forever.
            raise ParameterError(
                "intervals",
                "every part is silent, so there is no beat to play; "
                "give a run part, or a walk with its own rate (walk:1m@120)",
            )
        if self.repeat is not None:
            if not self.intervals:
                raise ParameterError("repeat", "needs `intervals`")
            if not (isinstance(self.repeat, int) and 1 <= self.repeat <= MAX_REPEAT):
                raise ParameterError(
                    "repeat", f"must be a whole number from 1 to {MAX_REPEAT}, got {self.repeat!r}"
                )
        for name in ("count_in", "accent"):
            value = getattr(self, name)
            if not (isinstance(value, int) and 0 <= value <= 64):
                raise ParameterError(name, f"must be 0-64, got {value!r}")
        if not (isinstance(self.every, int) and 1 <= self.every <= 16):
            raise ParameterError("every", f"must be 1-16, got {self.every!r}")

    @classmethod
    def for_beats(cls, spm: float, beats: int, **options) -> Session:
        """A session of exactly `beats` beats after the count-in.

        It ends half a beat after the last beat, so that beat sounds in full.
        `options` are the other fields, except those that set the length or
        the tempo over time.

        Raises
        ------
        ParameterError
            If `beats` is not a whole number >= 1, or `options` holds
            `duration_s`, `intervals` or `ramp_from_spm`.

        Examples
        --------
        >>> Session.for_beats(120, 8).duration_s
        3.75
        """
        if any(
            options.get(k) not in (None, ()) for k in ("duration_s", "intervals", "ramp_from_spm")
        ):
            raise ParameterError(
                "beats", "give `beats` alone, without `duration_s`, `intervals` or `ramp_from_spm`"
            )
        if isinstance(beats, bool) or not isinstance(beats, int) or beats < 1:
            raise ParameterError("beats", f"must be a whole number >= 1, got {beats!r}")
        spm = check_metronome_spm(spm)
        return cls(spm, duration_s=(beats - 0.5) * 60 / spm, **options)

    @property
    def start_spm(self) -> float:
        """The first tempo heard (the count-in's)."""
        if self.count_in_spm is not None:
            return self.count_in_spm
        if self.intervals and self.intervals[0].spm is not None:
            return self.intervals[0].spm
        return self.ramp_from_spm if self.ramp_from_spm is not None else self.spm

    def rate_range_spm(self) -> tuple[float, float]:
        """Lowest and highest beat rate the session plays (live changes aside)."""
        rates = [self.spm, self.start_spm]
        rates += [i.spm for i in self.intervals if i.spm is not None]
        return min(rates), max(rates)

    @property
    def length_s(self) -> float | None:
        """Session length after the count-in, or None if it runs until stopped."""
        candidates = []
        if self.duration_s is not None:
            candidates.append(self.duration_s)
        if self.part_ends_s:
            candidates.append(self.part_ends_s[-1])
        elif self.intervals and self.repeat is not None:
            candidates.append(self.repeat * sum(i.duration_s for i in self.intervals))
        return min(candidates) if candidates else None


@dataclass(frozen=True)
class Segment:
    """A stretch of session time with a linear tempo.

    Samples count from 0 at the end of the count-in. Tempo is `spm_start` at
    `start` and moves linearly to `spm_end` at `end` (equal for a constant
    tempo). A segment with `new_phrase` starts a new beat grid (a beat falls
    on its first sample); otherwise the beat grid runs on from the segment
    before (a ramp that ends mid-interval).

    Attributes
    ----------
    start, end : int
        First sample, and the sample after the last (None: never ends).
    spm_start, spm_end : float
        Tempo at `start` and at `end`.
    silent : bool
        No beats in this segment.
    new_phrase : bool
        The beat grid restarts here.
    label : str
        The interval's label ("run" without intervals).
    part : int
        Index of the interval within the programme (0 without intervals).
    cycle : int
        Repetition of the programme, from 0.
    interval_end : int or None
        Sample at which this interval ends (countdown cues aim there).
    """

    start: int
    end: int | None
    spm_start: float
    spm_end: float
    silent: bool
    new_phrase: bool
    label: str
    part: int
    cycle: int
    interval_end: int | None


def music_rates(intervals: tuple[Interval, ...], *, spm: float) -> list[float]:
    """The step rate of music in each part of a programme.

    A part with its own rate has it, a run the target `spm`, and a walk
    without a beat the rate of the part before it (the one before the first,
    for the first: the programme repeats), so the music plays on through it.

    Examples
    --------
    >>> music_rates(parse_intervals("run:2m,walk:1m,run:1m@175,walk:1m"), spm=170)
    [170, 170, 175.0, 175.0]
    """
    own = [i.spm if i.spm is not None else (None if i.silent else spm) for i in intervals]
    if intervals and all(r is None for r in own):
        raise ParameterError("intervals", "every part is silent, so there is no beat to play")
    out = []
    for k in range(len(intervals)):
        j = k
        while own[j % len(own)] is None:
            j -= 1
        out.append(own[j % len(own)])
    return out


def bar_aligned_intervals(
    intervals: tuple[Interval, ...], *, spm: float, bar_steps: int = 4
) -> tuple[Interval, ...]:
    """The programme with each part a whole number of bars of its music's rate.

    Music played through a programme keeps one step grid across a walk
    without a beat; a part that lasts whole bars ends on a bar of that grid,
    so the next part's first click (and its accent) falls on the music's
    downbeat. Each part moves by less than half a bar (under a second at
    running rates).

    Examples
    --------
    >>> [i.duration_s for i in bar_aligned_intervals(parse_intervals("1m,30s"), spm=170)]
    [59.294117647058826, 29.647058823529413]
    """
    rates = music_rates(intervals, spm=spm)
    out = []
    for interval, rate in zip(intervals, rates, strict=True):
        bar_s = bar_steps * 60.0 / rate
        bars = max(1, round(interval.duration_s / bar_s))
        out.append(dataclasses.replace(interval, duration_s=bars * bar_s))
    return tuple(out)


def seconds_to_samples(seconds: float, *, sr: int) -> int:
    """Nearest whole sample of a time in seconds."""
    return round(seconds * sr)


def count_in_samples(session: Session, *, sr: int) -> int:
    """Length of the count-in, in samples: `count_in` beats at the first tempo."""
    return round(session.count_in * 60 * sr / session.start_spm)


def iter_segments(session: Session, *, sr: int) -> Iterator[Segment]:
    """The session's segments in order (endless if the session is).

    Parameters
    ----------
    session : Session
    sr : int, keyword-only
        Sample rate in Hz.

    Yields
    ------
    Segment
        Contiguous: each starts where the one before ended.
    """
    total = None if session.length_s is None else seconds_to_samples(session.length_s, sr=sr)
    ramp_end = 0
    if session.ramp_from_spm is not None:
        ramp_end = seconds_to_samples(session.ramp_over_s, sr=sr)

    def run_tempo(n: int) -> float:
        if n >= ramp_end:
            return session.spm
        return session.ramp_from_spm + (session.spm - session.ramp_from_spm) * n / ramp_end

    intervals = session.intervals or (Interval(label="run", duration_s=math.inf),)
    cycles = range(session.repeat) if session.repeat is not None else itertools.count()
    part_ends = iter(session.part_ends_s) if session.part_ends_s else None
    elapsed_s = 0.0
    for cycle in cycles:
        for part, interval in enumerate(intervals):
            start = seconds_to_samples(elapsed_s, sr=sr)
            if part_ends is None:
                elapsed_s += interval.duration_s
            else:
                elapsed_s = next(part_ends, None)
                if elapsed_s is None:
                    return
            end = None if math.isinf(elapsed_s) else seconds_to_samples(elapsed_s, sr=sr)
            if total is not None and (end is None or end > total):
                end = total
            if end is not None and end <= start:
                return
            ramped = interval.spm is None and not interval.silent
            # Split a ramped run where the ramp ends, so each piece is linear.
            cuts = [start]
            if ramped and start < ramp_end and (end is None or ramp_end < end):
                cuts.append(ramp_end)
            cuts.append(end)
            for a, b in itertools.pairwise(cuts):
                if ramped:
                    s0 = run_tempo(a)
                    s1 = run_tempo(b) if (b is not None and a < ramp_end) else s0
                else:
                    s0 = s1 = interval.spm if interval.spm is not None else session.spm
                yield Segment(
                    start=a,
                    end=b,
                    spm_start=s0,
                    spm_end=s1,
                    silent=interval.silent,
                    new_phrase=a == start,
                    label=interval.label,
                    part=part,
                    cycle=cycle,
                    interval_end=end,
                )
            if end is None or (total is not None and end >= total):
                return
