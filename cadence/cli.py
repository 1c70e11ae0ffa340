"""The `cadence` command line: parses, calls the library, prints.

Start-up matters (``cadence calc`` should answer at once), so this module
imports only click and :mod:`cadence.errors` at the top; every command imports
what it needs inside its function, and nothing here imports librosa, scipy,
numba or sounddevice at start-up.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import click

from cadence import __version__
from cadence.errors import CadenceError, ParameterError


class CadenceGroup(click.Group):
    """A click group that turns :class:`CadenceError` into ``Error: …`` and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CadenceError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


def _print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


@click.group(cls=CadenceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cadence")
def main() -> None:
    """Raise your running cadence (steps per minute) to take load off your knees.

    \b
    Count your steps for a minute, then:
      cadence calc --steps 78 --one-foot     current cadence and +5/+10 % targets
      cadence plan --current 156             a week-by-week progression
      cadence tap                            measure cadence by tapping a key
    """


# --- calc --------------------------------------------------------------------


def _echo_report(report: Any, *, how: str) -> None:
    """Print a cadence report for people."""
    b = lambda s: click.style(str(s), bold=True)  # noqa: E731
    click.echo(f"Cadence   {b(f'{report.cadence_spm:.1f}')} steps/min   ({how})")
    if report.below_160:
        click.echo("          under the ~160 steps/min rule of thumb")
    else:
        click.echo("          at or above the ~160 steps/min rule of thumb")
    click.echo("")
    click.echo(f"Targets   +5 %   {b(report.target_5_spm)} steps/min   start here")
    click.echo(f"          +10 %  {b(report.target_10_spm)} steps/min")
    click.echo("")
    click.echo("Advice")
    for line in report.advice:
        click.echo(click.wrap_text(line, width=78, initial_indent="  - ", subsequent_indent="    "))


def _describe_count(steps: int, seconds: float, one_foot: bool) -> str:
    if one_foot:
        return f"{steps} one-foot steps in {seconds:g} s, doubled"
    return f"{steps} steps in {seconds:g} s"


@main.command()
@click.option("--steps", type=int, help="Steps counted (both feet, or one foot with --one-foot).")
@click.option(
    "--seconds",
    type=float,
    help="How long you counted, in seconds.  [default: 60]",
)
@click.option("--one-foot", is_flag=True, help="The count is one foot's contacts; it is doubled.")
@click.option("--spm", type=float, help="Your cadence in steps per minute, if you know it.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def calc(
    steps: int | None, seconds: float | None, one_foot: bool, spm: float | None, as_json: bool
) -> None:
    """Current cadence from counted steps, with the +5 % and +10 % targets.

    \b
    Count one foot's ground contacts for 60 s and double them:
      cadence calc --steps 78 --one-foot
    or count both feet for 30 s:
      cadence calc --steps 82 --seconds 30
    """
    from cadence.core.calc import cadence_report, steps_to_spm

    if spm is not None:
        if steps is not None or seconds is not None or one_foot:
            raise ParameterError(
                "spm", "give either --spm or --steps (with --seconds/--one-foot), not both"
            )
        report = cadence_report(spm, source={"spm": spm})
        how = "as given"
    elif steps is not None:
        seconds = 60.0 if seconds is None else seconds
        value = steps_to_spm(steps, seconds=seconds, one_foot=one_foot)
        report = cadence_report(
            value, source={"steps": steps, "seconds": seconds, "one_foot": one_foot}
        )
        how = _describe_count(steps, seconds, one_foot)
    else:
        raise ParameterError("steps", "give --steps N (steps counted) or --spm X (known cadence)")

    if as_json:
        _print_json(report.to_dict())
    else:
        _echo_report(report, how=how)


# --- plan --------------------------------------------------------------------


@main.command()
@click.option("--current", type=float, required=True, help="Current cadence, steps/min.")
@click.option("--goal", type=int, help="Goal cadence, steps/min.  [default: current +5 %]")
@click.option(
    "--weeks",
    type=int,
    help="Weeks per stage (the whole plan when the goal is within 10 %). "
    "[default: 4 for up to +5 %, else 6]",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="First day of week 1, YYYY-MM-DD.  [default: today]",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def plan(
    current: float, goal: int | None, weeks: int | None, start: dt.datetime | None, as_json: bool
) -> None:
    """A week-by-week plan to raise your cadence, never more than +5 % a week.

    \b
      cadence plan --current 156                # to +5 % in 4 weeks
      cadence plan --current 156 --goal 172     # to +10 % in 6 weeks
    """
    from cadence.core.plan import progression_plan

    start_date = start.date() if start else dt.date.today()
    result = progression_plan(current, goal_spm=goal, weeks_per_stage=weeks, start_date=start_date)
    if as_json:
        _print_json(result.to_dict())
        return

    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    for warning in result.warnings:
        console.print(f"[yellow]Warning:[/] {warning}\n", soft_wrap=False)
    table = Table(
        title=f"From {result.current_spm:g} to {result.goal_spm} steps/min "
        f"in {len(result.weeks)} weeks",
        title_justify="left",
    )
    table.add_column("Week", justify="right")
    table.add_column("Starts")
    if result.stages > 1:
        table.add_column("Stage", justify="right")
    table.add_column("Cadence", justify="right")
    table.add_column("Step", justify="right")
    table.add_column("Total", justify="right")
    for w in result.weeks:
        row = [str(w.week), w.start_date.strftime("%a %d %b %Y") if w.start_date else ""]
        if result.stages > 1:
            row.append(str(w.stage))
        row += [f"{w.spm} spm", f"+{w.step_pct:.1f} %", f"+{w.total_pct:.1f} %"]
        table.add_row(*row)
    console.print(table)
    console.print(
        "Run most of each week's runs at its cadence (e.g. cadence metronome "
        f"{result.weeks[0].spm}). Keep distance, speed and terrain as they were; "
        "stay at a week's cadence longer if it still feels forced."
    )


# --- tap ---------------------------------------------------------------------


@main.command()
@click.option(
    "--seconds",
    type=click.FloatRange(5, 300),
    default=30,
    show_default=True,
    help="Stop this long after the first tap.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
def tap(seconds: float, as_json: bool) -> None:
    """Measure cadence by tapping a key with every step (15-30 s is enough).

    Tap space (or any key) on each foot strike, e.g. on a treadmill. Enter or
    q finishes early. A missed or doubled tap does no harm.
    """
    import time

    from cadence.core.calc import cadence_report
    from cadence.core.tap import MIN_TAPS, spm_from_tap_times
    from cadence.terminal import KeyReader

    err = lambda s, nl=True: click.echo(s, err=True, nl=nl)  # noqa: E731
    times: list[float] = []
    with KeyReader() as keys:
        err(
            f"Tap any key with each step; Enter or q to finish (stops {seconds:g} s after the "
            "first tap)."
        )
        status = ""
        while True:
            pressed = keys.read(0.1)
            now = time.monotonic()
            if any(k in ("enter", "q", "eof") for k in pressed):
                break
            taps = [k for k in pressed if k not in ("escape",)]
            times.extend([now] * min(len(taps), 1))
            if times and now - times[0] >= seconds:
                break
            if pressed:
                if len(times) >= MIN_TAPS:
                    try:
                        live = spm_from_tap_times(times)
                        status = f"{len(times):3d} taps   {live.spm:6.1f} steps/min"
                    except ParameterError:
                        status = f"{len(times):3d} taps   (finding the rhythm)"
                else:
                    status = f"{len(times):3d} taps"
                left = seconds - (now - times[0]) if times else seconds
                err(f"\r  {status}   {left:4.0f} s left ", nl=False)
        err("")
    estimate = spm_from_tap_times(times)
    source = {
        "taps": estimate.taps,
        "steps": estimate.steps,
        "doubled_taps": estimate.doubled,
        "missed_taps": estimate.missed,
        "outlier_taps": estimate.outliers,
    }
    report = cadence_report(estimate.spm, source=source)
    if as_json:
        _print_json(report.to_dict())
        return
    notes = [f"{estimate.taps} taps over {estimate.steps} steps"]
    if estimate.doubled:
        notes.append(f"{estimate.doubled} doubled tap(s) ignored")
    if estimate.missed:
        notes.append(f"{estimate.missed} missed tap(s) filled in")
    if estimate.outliers:
        notes.append(f"{estimate.outliers} off-beat tap(s) left out")
    _echo_report(report, how=", ".join(notes))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
