"""``cadence calc``, ``cadence plan`` and ``cadence tap``: the cadence calculator."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from typing import Any

import click

from cadence.cli import json_option, main, output, reports
from cadence.errors import ParameterError

_FROM_FILE = click.option(
    "--from",
    "from_file",
    metavar="FILE",
    help="A recorded run: .fit, .gpx or .tcx (also .gz), from a watch or phone app.",
)


_SPORT = click.option(
    "--sport",
    type=click.Choice(["run", "walk"]),
    help="With --from: what the recording is, where its file names no sport or a wrong one.",
)


def _read_recording(
    path: str, *, cadence_units: str | None = None, splits: str = "auto", sport: str | None = None
) -> Any:
    """Read and summarize an activity file, its warnings on stderr as they are known."""
    from cadence.activity import read_activity
    from cadence.core.activity import summarize_recording
    from cadence.core.stepping import taken_for

    recording = read_activity(path)
    if sport is not None:  # its warning before an error that may follow
        recording = taken_for(recording, sport)
    # The reader's warnings first: they explain an error that may follow.
    reports.recording_warnings(recording.name, recording.warnings)
    summary = summarize_recording(
        recording, cadence_units=cadence_units, splits=splits, sport=sport
    )
    reports.recording_warnings(summary.name, summary.warnings[len(recording.warnings) :])
    return summary


def _count_source(
    steps: int | None, seconds: float | None, one_foot: bool, spm: float | None
) -> tuple[float, dict, str]:
    """The cadence a count gives: (spm, source for JSON, how it was measured, for people)."""
    from cadence.core.calc import count_too_short, steps_to_spm

    if spm is not None:
        if steps is not None or seconds is not None or one_foot:
            raise ParameterError(
                "spm", "give either --spm or --steps (with --seconds/--one-foot), not both"
            )
        return spm, {"spm": spm}, "as given"
    if steps is None:
        raise ParameterError(
            "steps",
            "give --steps N (steps counted), --spm X (known cadence) "
            "or --from FILE (a recorded run)",
        )
    seconds = 60.0 if seconds is None else seconds
    value = steps_to_spm(steps, seconds=seconds, one_foot=one_foot)
    coarse = count_too_short(seconds=seconds, one_foot=one_foot)
    if coarse:
        output.warn(coarse)
    how = (
        f"{steps} one-foot steps in {seconds:g} s, doubled"
        if one_foot
        else f"{steps} steps in {seconds:g} s"
    )
    return value, {"steps": steps, "seconds": seconds, "one_foot": one_foot}, how


@main.command(short_help="Your cadence from counted steps or a run, and +5/+10 % targets.")
@click.option("--steps", type=int, help="Steps counted (both feet, or one foot with --one-foot).")
@click.option(
    "--seconds",
    metavar="DURATION",
    help="How long you counted: seconds, or 1:00, 30s, 1m.  [default: 60]",
)
@click.option("--one-foot", is_flag=True, help="The count is one foot's contacts; it is doubled.")
@click.option("--spm", type=float, help="Your cadence in steps per minute, if you know it.")
@_FROM_FILE
@click.option(
    "--cadence-units",
    type=click.Choice(["auto", "strides", "steps"]),
    help="With --from: what the file's cadence counts, one foot (strides) or both feet "
    "(steps).  [default: strides for FIT, auto for GPX/TCX]",
)
@click.option(
    "--splits",
    type=click.Choice(["auto", "lap", "km", "mile", "none"]),
    default="auto",
    show_default=True,
    help="With --from: breakdown per lap (auto: when the file has laps) or per km/mile.",
)
@_SPORT
@click.option("--plot", metavar="FILE.png", help="With --from: draw cadence over the run.")
@json_option("Print one JSON object.")
def calc(
    steps: int | None,
    seconds: str | None,
    one_foot: bool,
    spm: float | None,
    from_file: str | None,
    cadence_units: str | None,
    splits: str,
    sport: str | None,
    plot: str | None,
    as_json: bool,
) -> None:
    """Current cadence from counted steps or a recorded run, with +5 % / +10 % targets.

    \b
    Count one foot's ground contacts for 60 s and double them:
      cadence calc --steps 78 --one-foot
    or count both feet for 30 s:
      cadence calc --steps 82 --seconds 30
    or take the median of a recorded run (stops and walk breaks left out):
      cadence calc --from Morning_Run.fit --plot run.png
    """
    from cadence.core.calc import cadence_report

    if from_file is not None:
        if spm is not None or steps is not None or seconds is not None or one_foot:
            raise ParameterError(
                "from", "give either --from FILE or a count (--steps/--spm), not both"
            )
        _calc_from_recording(
            from_file,
            cadence_units=cadence_units,
            splits=splits,
            sport=sport,
            plot=plot,
            as_json=as_json,
        )
        return
    for name, given in (
        ("cadence-units", cadence_units),
        ("splits", splits != "auto"),
        ("sport", sport),
    ):
        if given:
            raise ParameterError(name, "only goes with --from FILE")
    if plot:
        raise ParameterError("plot", "only goes with --from FILE")
    from cadence.core.durations import parse_duration_s

    seconds_s = None if seconds is None else parse_duration_s(seconds, parameter="seconds")
    value, source, how = _count_source(steps, seconds_s, one_foot, spm)
    report = cadence_report(value, source=source)
    if as_json:
        output.print_json(report.to_dict())
    else:
        reports.cadence_report(report, how=how)


def _calc_from_recording(
    path: str,
    *,
    cadence_units: str | None,
    splits: str,
    sport: str | None,
    plot: str | None,
    as_json: bool,
) -> None:
    from cadence.core.activity import walk_result
    from cadence.core.calc import cadence_report
    from cadence.core.durations import format_clock

    if plot:
        from cadence.plots import check_matplotlib

        check_matplotlib()
    summary = _read_recording(path, cadence_units=cadence_units, splits=splits, sport=sport)
    source = {"file": summary.name, "format": summary.file_format}
    if summary.kind == "walk":
        report, result = None, {**walk_result(summary), "source": source}
    else:
        report = cadence_report(summary.median_spm, source=source)
        result = report.to_dict()
    result["recording"] = summary.to_dict()
    if plot:
        from cadence.plots import plot_run_cadence

        both = (report.target_5_spm, report.target_10_spm) if report else ()
        targets = tuple(t for t in both if t is not None)
        plot_run_cadence(summary, plot, targets_spm=targets)
    if as_json:
        output.print_json(result)
        return
    how = (
        f"median over {format_clock(summary.counted_s)} of {summary.activity}; "
        f"10-90 %: {summary.p10_spm:.1f}-{summary.p90_spm:.1f}"
    )
    reports.recording(summary)
    if report is not None:
        reports.cadence_report(report, how=how)
    else:
        reports.walk_report(result, how=how)
    reports.splits(summary)
    if splits in ("lap", "km", "mile") and len(summary.splits) < 2:
        why = (
            "the recording holds one lap (--splits km gives a table per kilometre)"
            if splits == "lap"
            else f"the recording is under two {'kilometres' if splits == 'km' else 'miles'} long"
        )
        output.note(f"No per-{splits} table: {why}.")
    if plot:
        output.note(f"Plot: {plot}")


@main.command(short_help="A week-by-week plan to raise your cadence.")
@click.option("--current", type=float, help="Current cadence, steps/min.")
@_FROM_FILE
@click.option("--goal", type=int, help="Goal cadence, steps/min.  [default: current +5 %]")
@click.option(
    "--weeks",
    type=int,
    help="Weeks per stage (the whole plan when the goal is within 10 %). "
    "[default: 4 for up to +5 %, else 6]",
)
@click.option(
    "--start",
    metavar="YYYY-MM-DD",
    help="First day of week 1.  [default: today]",
)
@_SPORT
@json_option("Print one JSON object.")
def plan(
    current: float | None,
    from_file: str | None,
    goal: int | None,
    weeks: int | None,
    start: str | None,
    sport: str | None,
    as_json: bool,
) -> None:
    """A week-by-week plan to raise your cadence, never more than +5 % a week.

    \b
      cadence plan --current 156                # to +5 % in 4 weeks
      cadence plan --current 156 --goal 172     # to +10 % in 6 weeks
      cadence plan --from Morning_Run.fit       # from a recorded run
    """
    from cadence.core.plan import current_spm_from_recording, parse_start_date, progression_plan

    recorded = None
    if from_file is not None:
        if current is not None:
            raise ParameterError("from", "give either --current or --from FILE, not both")
        recorded = _read_recording(from_file, splits="none", sport=sport)
        current = current_spm_from_recording(recorded)
    elif sport is not None:
        raise ParameterError("sport", "only goes with --from FILE")
    elif current is None:
        raise ParameterError("current", "give --current SPM or --from FILE (a recorded run)")
    start_date = dt.date.today() if start is None else parse_start_date(start)
    result = progression_plan(current, goal_spm=goal, weeks_per_stage=weeks, start_date=start_date)
    if as_json:
        payload = result.to_dict()
        if recorded is not None:
            payload["recording"] = recorded.to_dict()
        output.print_json(payload)
    else:
        reports.plan(result, recorded=recorded)


@main.command(short_help="Measure your cadence by tapping a key with every step.")
@click.option(
    "--seconds",
    metavar="DURATION",
    default="30",
    show_default=True,
    help="Stop this long after the first tap: 5 s to 5 min (30, 45s, 1:00, 1m).",
)
@json_option("Print one JSON object at the end.")
def tap(seconds: str, as_json: bool) -> None:
    """Measure cadence by tapping a key with every step (15-30 s is enough).

    Tap space (or any key) on each foot strike, e.g. on a treadmill. Enter or
    q finishes early. A missed or doubled tap does no harm.
    """
    from cadence.core.calc import cadence_report
    from cadence.core.durations import parse_duration_s
    from cadence.core.tap import spm_from_tap_times
    from cadence.tapping import collect_tap_times
    from cadence.terminal import KeyReader

    limit_s = parse_duration_s(seconds, parameter="seconds")  # never NaN: it stops
    if not 5 <= limit_s <= 300:
        raise ParameterError("seconds", f"{seconds!r}: tap for 5 s to 5 min (300 s)")

    with KeyReader() as keys:
        output.note(
            f"Tap a key with each step; Enter or q finishes (stops {limit_s:g} s after the "
            "first tap)."
        )
        try:
            times = collect_tap_times(
                keys,
                seconds=limit_s,
                on_status=lambda s: click.echo(s, err=True, nl=False),
                width=shutil.get_terminal_size().columns,
            )
        finally:  # end the status line, so "Interrupted." or "Stopped." is not glued on
            with contextlib.suppress(OSError):  # unless the terminal is gone
                output.note("")
    estimate = spm_from_tap_times(times)
    report = cadence_report(estimate.spm, source=estimate.source())
    if as_json:
        output.print_json(report.to_dict())
    else:
        reports.cadence_report(report, how=estimate.describe())
