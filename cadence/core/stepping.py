"""What a recording's cadence counts: one foot's strides or both feet's steps,
and whether it counts steps at all (a ride's pedal revolutions look like
running strides).

Pure (numpy). The evidence is the cadence values themselves and, where the
file has it, the speed: at a given speed the two readings of a value differ by
a factor of two in step length (metres per step), and only one of them is a
length people walk or run with.
"""

from __future__ import annotations

import numpy as np

from cadence.core.recording import NEUTRAL_SPORTS, NON_STEP_CADENCE, STEP_SPORTS, Recording
from cadence.errors import ActivityFileError, ParameterError

CADENCE_UNITS = ("strides", "steps", "auto")
#: "auto" units: a moving median of raw values above this cannot be one foot's
#: strides (120 strides/min is 240 steps/min), so the file holds steps.
AUTO_STEPS_ABOVE = 120.0
#: "auto" units: raw values from 70 to 120 are a run as strides (140-240 steps/min)
#: or a walk as steps (70-120); the speed decides between the two.
AMBIGUOUS_RAW = (70.0, 120.0)
#: The usual lower edge of running cadence; slower steps are walking.
RUN_MIN_SPM = 140.0
#: A median moving speed under this (9 km/h) is a walk's or a slow jog's, not
#: a ride's: a recording that slow is not judged for one.
WALKING_PACE_MPS = 2.5
#: Faster than anyone runs for long, as a median over the moving time (200 m
#: repeats with standing rests at 22 km/h are run): a recording without a
#: sport that moves faster is a ride.
MAX_RUN_SPEED_MPS = 7.0
#: Longer median steps than anyone runs with (an elite 5 km at 6.3 m/s takes
#: 2.0-2.1 m; an overstrider at 150 steps/min and 16 km/h, 1.75 m); a ride's
#: 70 rpm at 20 km/h, read as strides, makes 2.4 m "steps".
LONGEST_RUN_STEP_M = 2.2
#: Freewheeling: a cadence of 0 while moving faster than this, ...
COASTING_SPEED_MPS = 3.0
#: ... in stretches at least this long between pedalling (a runner's stop, GPS
#: speed lagging behind it, is not; nor a repeat's start),
COASTING_STRETCH_S = 3.0
#: ... at least this many an hour of that speed (a real ride, 18-25 that end in
#: pedalling on; a track session's stops, none; a foot pod that drops out now
#: and then, a few), and at least this many in all,
COASTING_STRETCHES_PER_H = 15.0
COASTING_STRETCHES = 4
#: ... for this share of the time that fast.
COASTING_SHARE = 0.02


def shortest_run_step_m(spm: float) -> float:
    """The shortest steps (m) a run at `spm` takes: 0.42 m at 160 steps/min and
    under (a jog up a steep climb at 4.3 km/h), longer the quicker the steps
    (nobody runs 230 steps/min at walking speed).

    Examples
    --------
    >>> shortest_run_step_m(160), round(shortest_run_step_m(230), 2)
    (0.42, 0.98)
    """
    return 0.42 + 0.008 * max(0.0, spm - 160.0)


def walk_step_range_m(spm: float) -> tuple[float, float]:
    """The steps (m) a walk at `spm` takes: from 0.4 m (a steep hike) up to 110
    steps/min, longer above (a race walk's 190 steps/min take 1.0-1.4 m), to a
    length that grows with the cadence (0.82 m at 85 steps/min, 1.01 m at 120).

    Examples
    --------
    >>> [round(x, 2) for x in walk_step_range_m(120)], [round(x, 2) for x in walk_step_range_m(190)]
    ([0.48, 1.01], [1.04, 1.4])
    """
    return 0.4 + 0.008 * max(0.0, spm - 110.0), 0.35 + 0.0055 * spm


def _outside(value: float, low: float, high: float = float("inf")) -> float:
    """How far `value` is outside [low, high], as a ratio (0 inside)."""
    return max(0.0, low / value - 1.0, value / high - 1.0)


#: A cadence value at or above this is stepping in either unit (30 strides/min
#: is 60 steps/min, the slowest plausible).
STEPPING_RAW = 30.0
#: When the speed says "standing" for this share of the stepping time, the
#: speed is not measured (a treadmill, a phone lying still indoors).
INDOOR_STANDING_SHARE = 0.9


def stepping_records(raw: np.ndarray) -> np.ndarray:
    """Which records' cadence values say "stepping", in either unit (boolean mask)."""
    raw = np.asarray(raw, dtype=float)
    return np.isfinite(raw) & (raw >= STEPPING_RAW)


def speed_unmeasured(raw: np.ndarray, standing: np.ndarray, weights_s: np.ndarray) -> bool:
    """Whether the speed says "standing" for nearly all the time the cadence
    says "stepping": a treadmill or indoor run, whose stops the speed cannot tell.

    Examples
    --------
    >>> stepping = np.full(600, 85.0)
    >>> speed_unmeasured(stepping, np.ones(600, bool), np.ones(600))
    True
    >>> speed_unmeasured(stepping, np.arange(600) < 100, np.ones(600))
    False
    """
    stepping = stepping_records(raw)
    stepping_s = float(weights_s[stepping].sum())
    return (
        stepping_s > 0
        and float(weights_s[stepping & standing].sum()) >= INDOOR_STANDING_SHARE * stepping_s
    )


def median_step_m(raw: np.ndarray, speed_mps: np.ndarray) -> float | None:
    """Median metres moved per raw cadence count, or None without enough speed.

    With a file in strides the step is half of it; in steps, all of it.

    Examples
    --------
    >>> round(median_step_m(np.array([110.0, 110.0]), np.array([1.3, 1.3])), 2)
    0.71
    """
    raw = np.asarray(raw, dtype=float)
    speed = np.asarray(speed_mps, dtype=float)
    ok = np.isfinite(raw) & (raw > 0) & np.isfinite(speed) & (speed > 0)
    if ok.sum() < max(1, raw.size // 2):  # speed for at least half the records
        return None
    return float(np.median(speed[ok] * 60.0 / raw[ok]))


def resolve_cadence_units(
    raw_moving: np.ndarray,
    units: str,
    *,
    speed_mps: np.ndarray | None = None,
    walk: bool = False,
) -> str:
    """``"strides"`` or ``"steps"``: `units`, or for ``"auto"`` what the values say.

    Parameters
    ----------
    raw_moving : np.ndarray, shape (n,)
        The file's cadence values of the moving records.
    units : {"strides", "steps", "auto"}
        What the file declares; ``"auto"`` decides from the data.
    speed_mps : np.ndarray, shape (n,), keyword-only, optional
        The same records' speed (NaN where unknown); give it only for a
        recording that is not declared a run (a run's file holds strides, by
        Garmin's and Strava's convention). Values from 70 to 120 are a run in
        strides or a walk in steps: each reading's median step is held against
        what that gait takes at its cadence (:func:`shortest_run_step_m`,
        :func:`walk_step_range_m`), and the reading further off loses.
    walk : bool, keyword-only
        The recording is a walk (its sport, or the runner's word): the strides
        reading is held against a walk at the doubled cadence, not a run (a
        brisk walk's 73 strides/min at 4.7 km/h, a race walk's 95 at 13 km/h).

    Raises
    ------
    ParameterError
        If `units` is not one of the choices.

    Examples
    --------
    >>> resolve_cadence_units(np.array([84.0, 86, 88]), "auto")
    'strides'
    >>> resolve_cadence_units(np.array([168.0, 172, 176]), "auto")
    'steps'
    >>> resolve_cadence_units(np.array([110.0, 112]), "auto", speed_mps=np.array([1.3, 1.3]))
    'steps'
    """
    if units not in CADENCE_UNITS:
        raise ParameterError("cadence_units", f"must be one of {', '.join(CADENCE_UNITS)}")
    if units != "auto":
        return units
    positive = np.isfinite(raw_moving) & (raw_moving > 0)
    if not positive.any():
        return "strides"
    median = float(np.median(raw_moving[positive]))
    if median > AUTO_STEPS_ABOVE:
        return "steps"
    if speed_mps is not None and AMBIGUOUS_RAW[0] <= median <= AMBIGUOUS_RAW[1]:
        per_value = median_step_m(raw_moving[positive], np.asarray(speed_mps)[positive])
        if per_value is not None:
            # Each reading's steps against what that gait takes at that cadence:
            # the one further off loses; a tie stays with the convention (strides).
            if walk:  # a walk, in strides or steps: a walk at either cadence
                as_strides = _outside(per_value / 2, *walk_step_range_m(2 * median))
            else:
                as_strides = _outside(per_value / 2, shortest_run_step_m(2 * median))
            as_steps = _outside(per_value, *walk_step_range_m(median))
            if as_steps < as_strides:
                return "steps"
    return "strides"


def conversion_text(
    file_format: str,
    declared: str,
    resolved: str,
    raw_median: float | None,
    *,
    step_m: float | None = None,
) -> str:
    """How the file's values became steps per minute, in words (`step_m`: the
    median metres per raw value, said when the speed decided)."""
    if file_format == "FIT" and declared == "strides":
        return (
            "FIT stores running and walking cadence as strides per minute of one foot "
            "(cadence + fractional_cadence); doubled to steps per minute."
        )
    seen = f" (median {raw_median:.0f})" if raw_median is not None else ""
    if declared == "auto":
        if resolved == "strides":
            return (
                f"The file's cadence values{seen} are one foot's strides per minute, as "
                "Garmin and Strava export them; doubled to steps per minute."
            )
        if raw_median is not None and raw_median <= AUTO_STEPS_ABOVE and step_m is not None:
            return (
                f"The file's cadence values{seen} are steps per minute of both feet: "
                f"at the recorded speed they make {step_m:.2f} m steps, a walk's "
                f"(doubled, the steps of a run would be {step_m / 2:.2f} m); not doubled."
            )
        return (
            f"The file's cadence values{seen} are too high for one foot, so they are "
            "already steps per minute of both feet; not doubled."
        )
    if resolved == "strides":
        return "Cadence values taken as one foot's strides per minute (as asked); doubled."
    return "Cadence values taken as steps per minute of both feet (as asked); not doubled."


def taken_for(rec: Recording, sport: str) -> Recording:
    """`rec` as the `sport` ("run" or "walk") the runner says it is: a file
    filed under another sport gets a warning (not one under "other" or
    "generic"); a trail run stays a trail run.

    Raises
    ------
    ParameterError
        If `sport` is not ``"run"`` or ``"walk"``.
    """
    import dataclasses

    if sport not in ("run", "walk"):
        raise ParameterError("sport", f"must be run or walk, got {sport!r}")
    said, told = rec.sport, list(rec.warnings)
    if said is not None and said not in NEUTRAL_SPORTS and STEP_SPORTS.get(said) != sport:
        told.append(f"the file says {said.replace('_', ' ')}; taken for a {sport}, as --sport says")
    if STEP_SPORTS.get(said or "") != sport:
        said = {"run": "running", "walk": "walking"}[sport]
    return dataclasses.replace(rec, sport=said, warnings=told)


def refuse_sport(rec: Recording) -> None:
    """Raise :class:`ActivityFileError` if `rec`'s sport counts something other than steps."""
    sport = rec.sport
    if sport is None or sport in STEP_SPORTS or sport in NEUTRAL_SPORTS:
        return
    counts = NON_STEP_CADENCE.get(sport)
    what = f"its cadence is {counts}, not steps" if counts else "its cadence is not steps"
    raise ActivityFileError(
        f"{rec.name} is a {sport.replace('_', ' ')} activity: {what}. "
        "Use the recording of a run (or a walk); if it is one, filed wrongly, say so: --sport run"
    )


def _coasting_stretches_s(
    coasting: np.ndarray, pedalling: np.ndarray, weights_s: np.ndarray
) -> np.ndarray:
    """The seconds of each run of True in `coasting` between records
    `pedalling` (moving, with a cadence) on both sides: not a stop, nor the
    start of a repeat."""
    m = np.asarray(coasting, dtype=bool)
    if not m.any():
        return np.zeros(0)
    edges = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    total = np.concatenate([[0.0], np.cumsum(weights_s)])
    between = np.array(
        [
            start > 0 and end < m.size and pedalling[start - 1] and pedalling[end]
            for start, end in zip(starts, ends, strict=True)
        ],
        dtype=bool,
    )
    return (total[ends] - total[starts])[between]


def refuse_a_ride(
    name: str,
    *,
    raw: np.ndarray,
    speed_mps: np.ndarray,
    weights_s: np.ndarray,
    moving: np.ndarray,
    resolved: str,
) -> None:
    """Raise :class:`ActivityFileError` if a recording that names no sport is a ride.

    A ride's pedal revolutions (60-100 rpm) read as one foot's strides give a
    running cadence, so the speed tells: a median faster than anyone runs, steps
    longer than anyone runs with, or freewheeling (a cadence of 0 at speed,
    again and again, between pedalling). The steps of a recording at a walk's
    pace are not judged (its freewheeling is: a slow climb, a fast descent).
    These are judgements: a steady ride at 90-100 rpm under 25 km/h
    reads as a fast run, and ``--sport`` corrects any of them.

    Parameters
    ----------
    name : str
        The file, for the message.
    raw, speed_mps, weights_s : np.ndarray, shape (n,)
        Each record's cadence value, speed and the seconds it stands for.
    moving : np.ndarray of bool, shape (n,)
        The records counted as moving (stepping at speed).
    resolved : {"strides", "steps"}
        What the values are taken for.
    """
    speed = np.asarray(speed_mps, dtype=float)
    known = moving & np.isfinite(speed)
    if not known.any():
        return
    spm = float(np.median(raw[known])) * (2 if resolved == "strides" else 1)
    typical_mps = float(np.median(speed[known]))
    why = None
    per_value = median_step_m(raw[known], speed[known])
    step = None if per_value is None else per_value / (2 if resolved == "strides" else 1)
    fast = np.isfinite(speed) & (speed > COASTING_SPEED_MPS)
    # Zeros only: a missing value is a sensor's gap (a watch writes a ride's 0).
    pedalling = np.isfinite(speed) & (speed >= 0.5) & (raw > 0)
    stretches = _coasting_stretches_s(fast & (raw == 0), pedalling, weights_s)
    stretches = stretches[stretches >= COASTING_STRETCH_S]
    fast_s = float(weights_s[fast].sum())
    walking_pace = typical_mps < WALKING_PACE_MPS  # a walk's (or slow jog's) steps: not judged
    if typical_mps > MAX_RUN_SPEED_MPS:
        why = f"moves at a median {typical_mps * 3.6:.0f} km/h, faster than running"
    elif not walking_pace and step is not None and step > LONGEST_RUN_STEP_M:
        why = (
            f"would take {step:.2f} m steps at {spm:.0f} steps/min "
            f"({typical_mps * 3.6:.0f} km/h), longer than anyone runs with"
        )
    elif (
        fast_s > 0
        and stretches.sum() >= COASTING_SHARE * fast_s
        and stretches.size >= max(COASTING_STRETCHES, COASTING_STRETCHES_PER_H * fast_s / 3600)
    ):
        share = 100 * float(stretches.sum()) / fast_s
        why = (
            f"freewheels: a cadence of 0 for {share:.0f} % of the time it moves faster than "
            f"{COASTING_SPEED_MPS * 3.6:.0f} km/h, in {stretches.size} stretches of "
            f"{COASTING_STRETCH_S:g} s or more between pedalling"
        )
    if why:
        raise ActivityFileError(
            f"{name} names no sport and {why}: it looks like a ride, whose cadence is pedal "
            "revolutions, not steps. If it is a run or a walk, say so: --sport run (or walk)"
        )
