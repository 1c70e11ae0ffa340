"""Cadence from a recorded run: units, stops and walk breaks, spread, splits.

Pure: works on the arrays that :mod:`cadence.activity` reads from FIT, GPX and
TCX files. Units are in the names: ``time_s`` is seconds from the first
record, ``spm`` steps per minute of both feet, ``strides_per_min`` one foot's
ground contacts per minute (how FIT and most GPX/TCX exports store running
cadence), ``speed_mps`` metres per second, ``distance_m`` metres.

A record's value holds until the next record (watches with "smart recording"
write a record when something changes), so each record weighs the time to the
next one, capped at :data:`~cadence.core.recording.MAX_RECORD_S` so that a pause between two records
does not count as running. What a file holds is :mod:`cadence.core.recording`.

Under :data:`~cadence.core.calc.MIN_PLAUSIBLE_SPM` a record is not stepping
at all (0 is standing); over :data:`~cadence.core.calc.MAX_PLAUSIBLE_SPM` it is
impossible for a human, the same limits as a counted cadence.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from cadence.core.calc import MAX_PLAUSIBLE_SPM, MIN_PLAUSIBLE_SPM
from cadence.core.durations import format_clock
from cadence.core.recording import (
    STEP_SPORTS,
    Recording,
    clean_distance_m,
    derived_speed_mps,
    record_weights_s,
)
from cadence.core.stepping import (  # noqa: F401  (resolve_cadence_units: the API's name here)
    CADENCE_UNITS,
    RUN_MIN_SPM,
    conversion_text,
    median_step_m,
    refuse_a_ride,
    refuse_sport,
    resolve_cadence_units,
    speed_unmeasured,
    stepping_records,
    taken_for,
)
from cadence.errors import ActivityFileError, ParameterError

#: Below this speed the runner is standing (GPS drift stays under it).
STOP_SPEED_MPS = 0.5
#: Too little to say anything.
MIN_COUNTED_S = 20.0
#: Less than a minute of counted time gets a warning.
SHORT_COUNTED_S = 60.0
#: A split with less counted time than this shows no cadence.
MIN_SPLIT_COUNTED_S = 10.0
SPLIT_KINDS = ("auto", "lap", "km", "mile", "none")
SPLIT_LENGTH_M = {"km": 1000.0, "mile": 1609.344}


@dataclass(frozen=True)
class Split:
    """Cadence over one lap or one kilometre/mile of the recording."""

    kind: str
    index: int
    start_s: float
    duration_s: float
    distance_m: float | None
    counted_s: float
    median_spm: float | None

    @property
    def label(self) -> str:
        return f"{'Lap' if self.kind == 'lap' else self.kind} {self.index}"


@dataclass(frozen=True)
class RunCadence:
    """A recording's cadence: median over the counted time, spread, splits.

    Attributes
    ----------
    kind : str
        ``"run"`` or ``"walk"``. For a run, only running records count (stops
        and walk breaks are left out); for a walk, every moving record counts.
    median_spm, p10_spm, p90_spm : float
        Time-weighted median and 10th/90th percentiles, steps per minute.
    counted_s : float
        The time the figures are taken over.
    elapsed_s : float
        First to last record.
    stopped_s, walking_s, missing_s, paused_s : float
        Time left out: standing or no steps; walking (in a run); no cadence;
        gaps between records longer than 10 s (the watch paused).
    absurd_records : int
        Records dropped for an impossible cadence.
    conversion : str
        How the file's values became steps per minute, in words.
    splits : list of Split
    notes, warnings : list of str
    """

    name: str
    file_format: str
    sport: str | None
    kind: str
    median_spm: float
    p10_spm: float
    p90_spm: float
    counted_s: float
    elapsed_s: float
    stopped_s: float
    walking_s: float
    missing_s: float
    paused_s: float
    absurd_records: int
    distance_m: float | None
    cadence_units: str
    conversion: str
    split_kind: str
    splits: list[Split]
    start: dt.datetime | None = None
    device: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Per record, for plots: time, cadence in spm, and whether it counted.
    time_s: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    spm: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    counted: np.ndarray = field(
        default_factory=lambda: np.zeros(0, bool), repr=False, compare=False
    )

    @property
    def activity(self) -> str:
        """What the counted time was: ``"running"`` or ``"walking"``."""
        return "running" if self.kind == "run" else "walking"

    def to_dict(self) -> dict:
        """A JSON-ready dict (times in seconds, rounded; start as ISO 8601)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("time_s", "spm", "counted")}
        for key in ("median_spm", "p10_spm", "p90_spm"):
            d[key] = round(d[key], 1)
        for key in ("counted_s", "elapsed_s", "stopped_s", "walking_s", "missing_s", "paused_s"):
            d[key] = round(d[key], 1)
        if d["distance_m"] is not None:
            d["distance_m"] = round(d["distance_m"], 1)
        d["start"] = self.start.isoformat() if self.start else None
        for s, split in zip(d["splits"], self.splits):
            s["label"] = split.label
            for key in ("start_s", "duration_s", "counted_s"):
                s[key] = round(s[key], 1)
            if s["distance_m"] is not None:
                s["distance_m"] = round(s["distance_m"], 1)
            if s["median_spm"] is not None:
                s["median_spm"] = round(s["median_spm"], 1)
        return d


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs) -> np.ndarray:
    """Quantiles of `values` where each value counts for `weights` (seconds).

    The value at which the cumulative weight first reaches ``q`` of the total;
    exactly on a boundary, the mean of the values on either side, so equal
    weights give the same median as :func:`numpy.median`.

    Raises
    ------
    ParameterError
        If `values` and `weights` differ in shape, a weight is not finite, a
        quantile is outside [0, 1], or no value has a positive weight.

    Examples
    --------
    >>> weighted_quantiles(np.array([170.0, 180.0]), np.array([1.0, 3.0]), [0.5]).tolist()
    [180.0]
    >>> weighted_quantiles(np.array([1.0, 2, 3, 4]), np.ones(4), [0.1, 0.5]).tolist()
    [1.0, 2.5]
    """
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    qs = np.atleast_1d(np.asarray(qs, dtype=float))
    if values.ndim != 1 or values.shape != weights.shape:
        raise ParameterError(
            "weights",
            f"must be one weight per value: values {values.shape}, weights {weights.shape}",
        )
    if not (np.all(np.isfinite(weights)) and np.all(qs >= 0) and np.all(qs <= 1)):
        raise ParameterError("qs", "quantiles must be in [0, 1] and weights finite")
    keep = weights > 0
    values, weights = values[keep], weights[keep]
    if values.size == 0:
        raise ParameterError("weights", "no values with positive weight")
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    share = np.cumsum(w) / w.sum()
    out = []
    for q in qs:
        i = min(int(np.searchsorted(share, q - 1e-12)), v.size - 1)
        on_boundary = math.isclose(share[i], q, rel_tol=1e-9) and i + 1 < v.size
        out.append((v[i] + v[i + 1]) / 2 if on_boundary else v[i])
    return np.array(out)


def _figure(value: float) -> str:
    """A cadence value for a message: whole, or three figures when huge (a
    damaged file's 1e300 is not printed as 301 digits)."""
    return f"{value:.0f}" if abs(value) < 1e6 else f"{value:.3g}"


def _splits(
    rec: Recording,
    split_kind: str,
    spm: np.ndarray,
    counted: np.ndarray,
    weights: np.ndarray,
    distance_m: np.ndarray,
) -> tuple[str, list[Split]]:
    if split_kind not in SPLIT_KINDS:
        raise ParameterError("splits", f"must be one of {', '.join(SPLIT_KINDS)}")
    have_distance = bool(np.isfinite(distance_m).any()) and np.nanmax(distance_m) > 0
    if split_kind == "auto":
        if np.unique(rec.lap).size > 1:
            split_kind = "lap"
        elif have_distance:
            split_kind = "km"
        else:
            split_kind = "none"
    if split_kind == "none":
        return "none", []
    if split_kind == "lap":
        groups = np.asarray(rec.lap, dtype=np.int64)
    else:
        if not have_distance:
            raise ActivityFileError(f"{rec.name} records no distance, so it has no {split_kind}s")
        filled = np.fmax.accumulate(np.where(np.isfinite(distance_m), distance_m, 0.0))
        groups = np.floor(filled / SPLIT_LENGTH_M[split_kind]).astype(np.int64)
    splits = []
    t = rec.time_s
    for number, g in enumerate(np.unique(groups), start=1):
        idx = np.flatnonzero(groups == g)
        first, last = idx[0], idx[-1]
        end_s = t[last + 1] if last + 1 < t.size else t[last] + weights[last]
        d = distance_m[idx]
        d = d[np.isfinite(d)]
        start_d = distance_m[first - 1] if first > 0 else 0.0
        span = float(d.max() - (start_d if np.isfinite(start_d) else d.min())) if d.size else None
        mask = counted[idx]
        counted_s = float(weights[idx][mask].sum())
        median = (
            float(weighted_quantiles(spm[idx][mask], weights[idx][mask], [0.5])[0])
            if counted_s >= MIN_SPLIT_COUNTED_S
            else None
        )
        splits.append(
            Split(
                kind=split_kind,
                index=number,
                start_s=float(t[first]),
                duration_s=float(end_s - t[first]),
                distance_m=span,
                counted_s=counted_s,
                median_spm=median,
            )
        )
    return split_kind, splits


def summarize_recording(
    rec: Recording,
    *,
    cadence_units: str | None = None,
    splits: str = "auto",
    sport: str | None = None,
) -> RunCadence:
    """The cadence of a recorded run (or walk), leaving out stops and walk breaks.

    Parameters
    ----------
    rec : Recording
        What a reader in :mod:`cadence.activity` made of a file.
    cadence_units : {"strides", "steps", "auto"}, optional, keyword-only
        Override the units the file's cadence is in (default: what the reader
        says; ``"auto"`` decides from the values).
    sport : {"run", "walk"}, optional, keyword-only
        What the recording is, in the runner's word, over what the file says
        or the data suggest: no ride is suspected, and a run is a run even at
        a walking cadence (all its moving time counts).
    splits : {"auto", "lap", "km", "mile", "none"}, keyword-only
        Breakdown: laps when the file has several, else kilometres.

    Returns
    -------
    RunCadence

    Raises
    ------
    ActivityFileError
        If the file's sport does not count steps (cycling…), it has no records
        or no cadence, or too little stepping time to measure.
    ParameterError
        If `cadence_units` or `splits` is not one of the choices.

    Notes
    -----
    A record counts as stopped when its cadence is under 60 spm or its speed
    is under 0.5 m/s, as walking when its cadence is under 140 spm, and as
    impossible (dropped, with a warning) above 260 spm or at 250 strides/min
    or more. A recording whose sport is walking, or whose moving time is
    mostly walking, is reported as a walk over all its moving time.

    Examples
    --------
    >>> t = np.arange(0.0, 120.0)
    >>> rec = Recording(
    ...     name="run.gpx", file_format="GPX", time_s=t,
    ...     cadence_raw=np.where(t < 100, 85.0, 55.0), speed_mps=np.full(120, 3.0),
    ...     distance_m=3.0 * t, lap=np.zeros(120, int), sport="running",
    ... )
    >>> r = summarize_recording(rec)
    >>> r.kind, r.median_spm, r.counted_s, r.walking_s
    ('run', 170.0, 100.0, 20.0)
    """
    if sport is not None:
        rec = taken_for(rec, sport)
    refuse_sport(rec)
    n = rec.time_s.size
    if n == 0:
        raise ActivityFileError(f"{rec.name} has no records with a time in it")
    raw = np.asarray(rec.cadence_raw, dtype=float)
    if not np.isfinite(raw).any():
        raise ActivityFileError(
            f"{rec.name} has no cadence data ({n} records, none with cadence). "
            "Record with a watch or foot pod that measures cadence, or count your steps: "
            "cadence calc --steps N"
        )
    warnings = list(rec.warnings)
    notes: list[str] = []
    weights = record_weights_s(rec.time_s)

    distance_m, left_out, largest_m = clean_distance_m(
        rec.time_s, rec.distance_m, stepping=stepping_records(raw)
    )
    if left_out:
        warnings.append(
            f"left out {left_out} distance value(s) or jump(s) no runner could make (the "
            f"largest {largest_m / 1000:.2f} km): a damaged record or a GPS jump"
        )
    speed = np.asarray(rec.speed_mps, dtype=float).copy()
    # Where the file gives no speed, the distance covered around the record does.
    no_speed = ~np.isfinite(speed)
    if no_speed.any() and np.isfinite(distance_m).sum() > 1:
        speed[no_speed] = derived_speed_mps(rec.time_s, distance_m)[no_speed]
    standing = np.isfinite(speed) & (speed < STOP_SPEED_MPS)
    if standing.any() and speed_unmeasured(raw, standing, weights):
        warnings.append(
            "the speed is under 1.8 km/h for nearly all the time the cadence is stepping (a "
            "treadmill, or a phone lying still indoors): the speed is not used to find stops"
        )
        speed[:] = np.nan
        standing[:] = False

    units = rec.cadence_units if cadence_units is None else cadence_units
    with_value = ~standing & np.isfinite(raw) & (raw > 0)
    moving_raw = raw[with_value]
    declared = STEP_SPORTS.get(rec.sport or "")
    # A run's file holds strides (Garmin's, Strava's convention): only an
    # unnamed recording or a walk asks the speed whether they are steps.
    resolved = resolve_cadence_units(
        moving_raw,
        units,
        speed_mps=None if declared == "run" else speed[with_value],
        walk=declared == "walk",
    )
    raw_median = float(np.median(moving_raw)) if moving_raw.size else None
    conversion = conversion_text(
        rec.file_format,
        units,
        resolved,
        raw_median,
        step_m=median_step_m(moving_raw, speed[with_value]),
    )
    spm = raw * (2.0 if resolved == "strides" else 1.0)

    have = np.isfinite(spm)
    absurd = have & (
        (spm > MAX_PLAUSIBLE_SPM) | (raw < 0) | ((resolved == "strides") & (raw >= 250))
    )
    if absurd.any():
        warnings.append(
            f"left out {int(absurd.sum())} record(s) with an impossible cadence "
            f"(over {MAX_PLAUSIBLE_SPM:g} steps/min, highest {_figure(np.nanmax(spm[absurd]))})"
        )
    valid = have & ~absurd
    absurd_s = float(weights[absurd].sum())
    if absurd_s > 0.5 * float(weights[have & ~standing].sum()):
        other = "steps" if resolved == "strides" else "strides"
        raise ActivityFileError(
            f"{rec.name}: most cadence values are impossible as {resolved} per minute "
            f"(up to {_figure(np.nanmax(raw))}); the file probably counts {other}: "
            f"try --cadence-units {other} or auto"
        )
    stopped = valid & ((spm < MIN_PLAUSIBLE_SPM) | standing)
    moving = valid & ~stopped
    running = moving & (spm >= RUN_MIN_SPM)
    moving_s = float(weights[moving].sum())
    running_s = float(weights[running].sum())

    if declared is None:
        refuse_a_ride(
            rec.name, raw=raw, speed_mps=speed, weights_s=weights, moving=moving, resolved=resolved
        )
    if declared == "walk":
        kind = "walk"
    elif moving_s > 0 and running_s >= 0.5 * moving_s:
        kind = "run"
    elif sport == "run" and moving_s > 0:  # the runner's word: a slow jog is a run
        kind = "run"
        running = moving
        notes.append(
            f"{100 * (1 - running_s / moving_s):.0f} % of the moving time is under "
            f"{RUN_MIN_SPM:g} steps/min, a walking cadence; all of it is counted as "
            "running, as --sport says"
        )
    else:
        kind = "walk"
        if moving_s > 0:
            share = 100 * (1 - running_s / moving_s)
            said = "recorded as a run, but " if declared == "run" else ""
            notes.append(
                f"{said}{share:.0f} % of the moving time is under {RUN_MIN_SPM:g} steps/min, "
                "a walking cadence, so this is reported as a walk"
            )
    counted = running if kind == "run" else moving
    counted_s = float(weights[counted].sum())
    if counted_s < MIN_COUNTED_S:
        rest = [
            (weights[~have].sum(), "without cadence"),
            (weights[absurd].sum(), "at an impossible cadence"),
            (weights[valid & standing].sum(), "standing still (speed under 1.8 km/h)"),
            (weights[valid & ~standing & (spm < MIN_PLAUSIBLE_SPM)].sum(), "under 60 steps/min"),
            (weights[moving & ~running].sum() if kind == "run" else 0.0, "walking"),
        ]
        why = ", ".join(f"{format_clock(s)} {what}" for s, what in rest if s >= 0.5)
        raise ActivityFileError(
            f"{rec.name} has only {counted_s:.0f} s of "
            f"{'running' if kind == 'run' else 'moving'} cadence data; "
            f"at least {MIN_COUNTED_S:g} s are needed" + (f"; the rest: {why}" if why else "")
        )
    if counted_s < SHORT_COUNTED_S:
        warnings.append(
            f"only {counted_s:.0f} s of {'running' if kind == 'run' else 'walking'} to "
            "measure; a longer recording gives a steadier figure"
        )
    median, p10, p90 = weighted_quantiles(spm[counted], weights[counted], [0.5, 0.1, 0.9])
    split_kind, split_list = _splits(rec, splits, spm, counted, weights, distance_m)
    finite_d = distance_m[np.isfinite(distance_m)]
    elapsed_s = float(rec.time_s[-1] - rec.time_s[0] + weights[-1])
    return RunCadence(
        name=rec.name,
        file_format=rec.file_format,
        sport=rec.sport,
        kind=kind,
        median_spm=float(median),
        p10_spm=float(p10),
        p90_spm=float(p90),
        counted_s=counted_s,
        elapsed_s=elapsed_s,
        stopped_s=float(weights[stopped].sum()),
        walking_s=float(weights[moving & ~running].sum()) if kind == "run" else 0.0,
        missing_s=float(weights[~have].sum()),
        paused_s=max(0.0, elapsed_s - float(weights.sum())),
        absurd_records=int(absurd.sum()),
        distance_m=float(finite_d.max() - finite_d.min()) if finite_d.size else None,
        cadence_units=resolved,
        conversion=conversion,
        split_kind=split_kind,
        splits=split_list,
        start=rec.start,
        device=rec.device,
        notes=notes,
        warnings=warnings,
        time_s=np.asarray(rec.time_s, dtype=float),
        spm=spm,
        counted=counted,
    )


def walk_result(summary: RunCadence) -> dict:
    """What ``calc`` says about a recorded walk: its cadence, and no running targets.

    The keys are those of :meth:`cadence.core.calc.CadenceReport.to_dict`
    (without ``source``); the targets and ``below_160`` are None.
    """
    from cadence.core.calc import round_half_up

    spm = round_half_up(summary.median_spm, ndigits=1)
    said = f" (sport: {summary.sport})" if STEP_SPORTS.get(summary.sport or "") == "walk" else ""
    return {
        "cadence_spm": spm,
        "target_5_spm": None,
        "target_10_spm": None,
        "below_160": None,
        "advice": [
            (
                f"This recording is a walk{said}: {spm:g} steps/min is a walking cadence, well "
                "under the 150-190 steps/min of running."
                if spm < RUN_MIN_SPM
                else f"This recording is a walk{said}, at {spm:g} steps/min (a brisk or race walk)."
            )
            + " The +5 % and +10 % targets are for running cadence, so none are given.",
            "Measure a run instead: cadence calc --from RUN.fit, or count your steps while "
            "running: cadence calc --steps N --one-foot",
        ],
    }
