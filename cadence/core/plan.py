"""Week-by-week cadence progression plans.

The coaching guidance: raise cadence by 5-10 % in small steps and practise
each new cadence for 4-6 weeks. A plan here is a list of weeks, each with a
whole-spm cadence to practise; no week is above the +5 % target of the one before,
and a goal above the +10 % target (rounded to a whole spm, as the calculator
gives it: 172 from 156) is split into stages of at most 10 % each, with a warning.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Any

from cadence.core.calc import METRONOME_MAX_SPM, check_plausible_spm, round_half_up, target_spm
from cadence.errors import CadenceError, ParameterError

#: Largest rise from one week to the next.
MAX_STEP_PCT = 5.0
#: Largest rise within one stage; a bigger goal is split into stages.
MAX_STAGE_PCT = 10.0
#: Default weeks for a stage that rises at most 5 %, and for one that rises more.
DEFAULT_WEEKS_SMALL_STAGE = 4
DEFAULT_WEEKS_LARGE_STAGE = 6
MAX_WEEKS_PER_STAGE = 26


@dataclass(frozen=True)
class PlanWeek:
    """One week of a plan.

    Attributes
    ----------
    week : int
        Week number, from 1.
    stage : int
        Stage number, from 1 (a stage rises at most 10 %).
    spm : int
        Cadence to practise this week, steps per minute.
    step_pct : float
        Rise over the previous week (or over the current cadence for week 1), %.
    total_pct : float
        Rise over the current cadence, %.
    start_date : datetime.date or None
        First day of the week, if the plan has a start date.
    """

    week: int
    stage: int
    spm: int
    step_pct: float
    total_pct: float
    start_date: dt.date | None = None


@dataclass(frozen=True)
class Plan:
    """A progression plan from `current_spm` to `goal_spm`."""

    current_spm: float
    goal_spm: int
    weeks: list[PlanWeek]
    stages: int
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-ready dict (dates as ISO strings)."""
        return {
            "current_spm": self.current_spm,
            "goal_spm": self.goal_spm,
            "stages": self.stages,
            "total_weeks": len(self.weeks),
            "warnings": list(self.warnings),
            "weeks": [
                {
                    "week": w.week,
                    "stage": w.stage,
                    "spm": w.spm,
                    "step_pct": w.step_pct,
                    "total_pct": w.total_pct,
                    "start_date": w.start_date.isoformat() if w.start_date else None,
                }
                for w in self.weeks
            ],
        }


def _pct(new: float, old: float) -> float:
    return round_half_up((new / old - 1) * 100, ndigits=1) + 0.0  # never -0.0


def _weeks_text(n: int) -> str:
    return f"{n} week" + ("" if n == 1 else "s")


def parse_start_date(text: str, *, parameter: str = "start_date") -> dt.date:
    """A plan's first day from ``YYYY-MM-DD``, with a message that says what is wrong.

    Raises
    ------
    ParameterError
        If `text` is not a date written YYYY-MM-DD, or no such day exists.

    Examples
    --------
    >>> parse_start_date("2026-03-02")
    datetime.date(2026, 3, 2)
    >>> parse_start_date("2026-02-30")
    Traceback (most recent call last):
    ...
    cadence.errors.ParameterError: start_date: 2026-02-30 is no day: February 2026 has 28 days
    """
    raw = str(text).strip()
    match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", raw)
    if not match:
        raise ParameterError(
            parameter, f"{text!r} is not a date; write YYYY-MM-DD, e.g. 2026-03-02"
        )
    year, month, day = (int(g) for g in match.groups())
    if not 1 <= month <= 12:
        raise ParameterError(parameter, f"{raw} is no day: there is no month {month}")
    try:
        return dt.date(year, month, day)
    except ValueError:
        if year < 1:
            raise ParameterError(parameter, f"{raw} is no day: years start at 0001") from None
        days = calendar.monthrange(year, month)[1]
        raise ParameterError(
            parameter, f"{raw} is no day: {calendar.month_name[month]} {year} has {days} days"
        ) from None


def _week_spms(current_spm: float, goal: int, n_weeks: int) -> list[int]:
    """The whole-spm cadence of each of `n_weeks` weeks from `current_spm` towards
    `goal`: an even rise in ratio, never below the week before (the first
    above the current cadence), never above the week before's +5 % target. The
    last week is the goal when the cap allows it, and below it when it does not."""
    spms: list[int] = []
    previous: float = current_spm
    floor = math.floor(current_spm) + 1  # a rise: 140.1 -> 141 in four weeks began at 140
    for i in range(1, n_weeks + 1):
        if i == n_weeks:
            spm = goal
        else:
            spm = int(round_half_up(current_spm * (goal / current_spm) ** (i / n_weeks)))
        spm = max(spm, spms[-1] if spms else floor)
        spm = min(spm, target_spm(previous, MAX_STEP_PCT), goal)
        spms.append(spm)
        previous = spm
    return spms


def _compound_pct(pct: float, times: int) -> float:
    """The total rise, in %, of `times` successive rises of `pct` %."""
    return ((1 + pct / 100) ** times - 1) * 100


def progression_plan(
    current_spm: float,
    *,
    goal_spm: float | None = None,
    weeks_per_stage: int | None = None,
    start_date: dt.date | None = None,
) -> Plan:
    """Plan a gradual rise from the current cadence to a goal.

    Parameters
    ----------
    current_spm : float
        Current cadence, steps per minute.
    goal_spm : float, optional
        Goal cadence; default the +5 % target (coaches' advice: start there).
    weeks_per_stage : int, optional
        Weeks for each stage (the whole plan when the goal is within 10 %).
        Default 4 for a stage that rises at most 5 %, else 6.
    start_date : datetime.date, optional
        First day of week 1 (a datetime counts by its day); each week then
        carries its start date.

    Returns
    -------
    Plan
        The weeks in order; the last week's `spm` is the goal.

    Raises
    ------
    ParameterError
        If a cadence is implausible, the goal is not above the current cadence,
        or `weeks_per_stage` is too few to keep every weekly step within 5 %,
        or `start_date` is not a date or the plan would end after the year 9999.

    Examples
    --------
    >>> [w.spm for w in progression_plan(156, goal_spm=172).weeks]
    [159, 161, 164, 166, 169, 172]
    >>> [w.spm for w in progression_plan(156).weeks]
    [158, 160, 162, 164]
    """
    current_spm = check_plausible_spm(current_spm, parameter="current_spm")
    goal = target_spm(current_spm, 5) if goal_spm is None else goal_spm
    goal = check_plausible_spm(goal, parameter="goal_spm")
    if goal != int(goal):
        raise ParameterError("goal_spm", f"must be a whole number of steps/min, got {goal:g}")
    goal = int(goal)
    if goal > METRONOME_MAX_SPM:
        raise ParameterError(
            "goal_spm",
            f"{goal} steps/min is above {METRONOME_MAX_SPM:g}, the fastest the metronome plays"
            + (
                f"; a cadence of {current_spm:g} needs no raising"
                if goal_spm is None
                else f"; choose a goal up to {METRONOME_MAX_SPM:g}"
            ),
        )
    if goal <= current_spm:
        raise ParameterError(
            "goal_spm", f"{goal} must be above the current cadence {current_spm:g} steps/min"
        )
    if weeks_per_stage is not None and not (
        isinstance(weeks_per_stage, numbers.Integral)
        and not isinstance(weeks_per_stage, bool)
        and 1 <= weeks_per_stage <= MAX_WEEKS_PER_STAGE
    ):
        raise ParameterError(
            "weeks_per_stage",
            f"must be a whole number from 1 to {MAX_WEEKS_PER_STAGE}, got {weeks_per_stage!r}",
        )

    # Caps compare against the rounded target, as the runner sees it: 156 -> 172
    # is "+10 %" (171.6 rounded), not 10.3 %.
    n_stages = 1
    while target_spm(current_spm, _compound_pct(MAX_STAGE_PCT, n_stages)) < goal:
        n_stages += 1
    warnings = []
    if n_stages > 1:
        warnings.append(
            f"The goal {goal} steps/min is {_pct(goal, current_spm):g} % above your current "
            f"{current_spm:g}; more than {MAX_STAGE_PCT:g} % at once is too much. The plan is "
            f"split into {n_stages} stages: finish each, and let it feel natural, before the next."
        )
    # The fewest weeks a stage that keep every week within the cap and end at
    # the goal (the last week's cap too: 160 -> 177 in 1+1 weeks ended at 176).
    min_weeks = 1
    while _week_spms(current_spm, goal, n_stages * min_weeks)[-1] != goal:
        min_weeks += 1
    if weeks_per_stage is None:
        weeks_per_stage = DEFAULT_WEEKS_SMALL_STAGE if min_weeks == 1 else DEFAULT_WEEKS_LARGE_STAGE
    elif weeks_per_stage < min_weeks:
        raise ParameterError(
            "weeks_per_stage",
            f"{_weeks_text(weeks_per_stage)} a stage would raise cadence by more than "
            f"{MAX_STEP_PCT:g} % in a week; use {min_weeks} or more",
        )

    weeks_per_stage = int(weeks_per_stage)
    n_total = n_stages * weeks_per_stage
    if isinstance(start_date, dt.datetime):  # a date and a time: the day is what counts
        start_date = start_date.date()
    elif start_date is not None and not isinstance(start_date, dt.date):
        raise ParameterError(
            "start_date", f"must be a datetime.date (e.g. date(2026, 3, 2)), got {start_date!r}"
        )
    if start_date is not None and start_date > dt.date.max - dt.timedelta(weeks=n_total):
        raise ParameterError(
            "start_date",
            f"{start_date.isoformat()}: the plan's {_weeks_text(n_total)} would end after 9999",
        )
    weeks: list[PlanWeek] = []
    previous = current_spm
    for i, spm in enumerate(_week_spms(current_spm, goal, n_total), start=1):
        date = start_date + dt.timedelta(weeks=i - 1) if start_date else None
        weeks.append(
            PlanWeek(
                week=i,
                stage=(i - 1) // weeks_per_stage + 1,
                spm=spm,
                step_pct=_pct(spm, previous),
                total_pct=_pct(spm, current_spm),
                start_date=date,
            )
        )
        previous = spm
    return Plan(
        current_spm=current_spm, goal_spm=goal, weeks=weeks, stages=n_stages, warnings=warnings
    )


def current_spm_from_recording(summary: Any) -> float:
    """The cadence a plan starts from when it starts from a recording.

    Parameters
    ----------
    summary : cadence.core.activity.RunCadence
        A summarized recording.

    Returns
    -------
    float
        The run's median cadence, rounded half up to one decimal (the figure
        ``cadence calc --from`` shows).

    Raises
    ------
    CadenceError
        If the recording is a walk: a cadence plan starts from a run.
    """
    spm = round_half_up(summary.median_spm, ndigits=1)
    if summary.kind == "walk":
        raise CadenceError(
            f"{summary.name} is a walk ({spm:g} steps/min); a cadence plan starts from a run. "
            "Give a run's recording, or your cadence as `current_spm`"
        )
    return spm
