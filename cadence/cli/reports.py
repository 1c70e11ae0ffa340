"""What each command prints: cadence reports, recordings, plans, sessions (the
music commands' tables are in :mod:`.analysis_reports`).

Built on :mod:`.output`; commands hand their results here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import click

from cadence.cli.output import (
    MISSING,
    count,
    note,
    print_rich,
    table,
    warn,
    wrapped,
)
from cadence.files import display_path


def format_distance(distance_m: float | None) -> str:
    """``"9.01 km"`` style, or an em dash when unknown.

    >>> format_distance(9008.2), format_distance(None)
    ('9.01 km', '—')
    """
    if distance_m is None or not math.isfinite(distance_m):
        return MISSING
    return f"{distance_m / 1000:.2f} km"


# --- calculator -----------------------------------------------------------------


def cadence_report(report: Any, *, how: str) -> None:
    """A cadence with its targets and advice (a :class:`~cadence.core.calc.CadenceReport`)."""
    b = lambda s: click.style(str(s), bold=True)  # noqa: E731
    click.echo(f"Cadence   {b(f'{report.cadence_spm:.1f}')} steps/min   ({how})")
    if report.below_rule_of_thumb:
        click.echo("          under the ~160 steps/min rule of thumb")
    else:
        click.echo("          at or above the ~160 steps/min rule of thumb")
    click.echo("")
    if report.target_5_spm is not None:
        click.echo(f"Targets   +5 %   {b(report.target_5_spm)} steps/min   start here")
        if report.target_10_spm is not None:
            click.echo(f"          +10 %  {b(report.target_10_spm)} steps/min")
        click.echo("")
    click.echo("Advice")
    advice(report.advice)


def walk_report(result: dict, *, how: str) -> None:
    """A recorded walk: its cadence and advice, without targets."""
    b = click.style(f"{result['cadence_spm']:.1f}", bold=True)
    click.echo(f"Cadence   {b} steps/min   ({how})")
    click.echo("")
    advice(result["advice"])


def advice(lines: list[str]) -> None:
    for line in lines:
        click.echo(wrapped(line, indent="    ", first="  - "))


def recording_warnings(name: str, warnings: Sequence[str]) -> None:
    for text in warnings:
        warn(f"{name}: {text}")


def recording(summary: Any) -> None:
    """What was read from a recording and what was left out."""
    from cadence.core.durations import format_clock

    about = [summary.file_format, (summary.sport or "sport not recorded").replace("_", " ")]
    if summary.device:
        about.append(summary.device)
    if summary.start:
        about.append(f"{summary.start:%Y-%m-%d %H:%M} UTC")
    click.echo(f"Recording {click.style(summary.name, bold=True)}")
    click.echo(f"          {' · '.join(about)}")
    distance = format_distance(summary.distance_m)
    line = f"{format_clock(summary.elapsed_s)} elapsed" + (
        f", {distance}" if summary.distance_m else ""
    )
    parts = [f"counted {format_clock(summary.counted_s)} of {summary.activity}"]
    left = [
        f"{format_clock(seconds)} {what}"
        for seconds, what in (
            (summary.stopped_s, "stopped"),
            (summary.walking_s, "walking"),
            (summary.missing_s, "without cadence"),
        )
        if seconds >= 1
    ]
    if left:
        parts.append("left out " + ", ".join(left))
    # Broken between its clauses, not inside one ("0:22 / stopped"), to stay in 78 columns.
    lines = [line]
    for part in parts:
        if len(lines[-1]) + 2 + len(part) <= 68:
            lines[-1] += f"; {part}"
        else:
            lines.append(part)
    for text in lines:
        click.echo(wrapped(text, indent=" " * 10))
    for text in (summary.conversion, *summary.notes):
        click.echo(wrapped(text, indent=" " * 10))
    click.echo("")


def splits(summary: Any) -> None:
    """The per-lap (or per km/mile) table of a recording, when it has two or more."""
    if len(summary.splits) < 2:
        return
    from cadence.core.durations import format_clock

    kind = "lap" if summary.split_kind == "lap" else summary.split_kind
    t = table(
        ("Split", "left"),
        ("Starts", "right"),
        ("Time", "right"),
        ("Distance", "right"),
        ("Counted", "right"),
        ("Cadence", "right"),
        title=f"Per {kind}",
        plain=False,
    )
    for split in summary.splits:
        t.add_row(
            split.label,
            format_clock(split.start_s),
            format_clock(split.duration_s),
            format_distance(split.distance_m),
            format_clock(split.counted_s),
            MISSING if split.median_spm is None else f"{split.median_spm:.1f} spm",
        )
    click.echo("")
    print_rich(t)


def plan(result: Any, *, recorded: Any = None) -> None:
    """A progression plan as a table of weeks, with its warnings on stderr."""
    from rich.console import Console

    if recorded is not None:
        from cadence.core.durations import format_clock

        click.echo(
            f"Current cadence from {recorded.name}: {result.current_spm:.1f} steps/min "
            f"(median over {format_clock(recorded.counted_s)} of running)\n"
        )
    for text in result.warnings:
        warn(text)
    t = table(
        ("Week", "right"),
        ("Starts", "left"),
        *([("Stage", "right")] if result.stages > 1 else []),
        ("Cadence", "right"),
        ("Step", "right"),
        ("Total", "right"),
        title=f"From {result.current_spm:g} to {result.goal_spm} steps/min "
        f"in {len(result.weeks)} weeks",
        plain=False,
    )
    for w in result.weeks:
        row = [str(w.week), w.start_date.strftime("%a %d %b %Y") if w.start_date else ""]
        if result.stages > 1:
            row.append(str(w.stage))
        row += [f"{w.spm} spm", f"+{w.step_pct:.1f} %", f"+{w.total_pct:.1f} %"]
        t.add_row(*row)
    out = Console(highlight=False)
    print_rich(t, out)
    print_rich(
        "Run most of each week's runs at its cadence (e.g. cadence metronome "
        f"{result.weeks[0].spm}). Keep distance, speed and terrain as they were; "
        "stay at a week's cadence longer if it still feels forced.",
        out,
    )


# --- metronome ------------------------------------------------------------------


def playing(session: Any, player: Any) -> None:
    """The line as a session starts playing, on stderr."""
    latency = f", latency {player.latency_s * 1000:.1f} ms" if player.latency_s > 0 else ""
    note(
        f"Playing {session.spm:g} spm on {player.device.name} ({player.device.hostapi}), "
        f"{player.sr} Hz{latency}. Ctrl-C to stop."
    )


def render_summary(summary: dict) -> None:
    """The line after ``metronome -o FILE``."""
    from cadence.core.durations import format_clock

    beats = f"{summary['beats']} beats"
    if summary["count_in_beats"]:
        beats += f" ({summary['count_in_beats']} of them the count-in)"
    click.echo(
        f"Wrote {display_path(summary['output'])}: {format_clock(summary['duration_s'])} "
        f"({summary['duration_s']:.3f} s), {beats}, {summary['format']} at {summary['sr']} Hz."
    )


def play_summary(result: Any) -> None:
    """The line after a played session (a :class:`~cadence.live.PlayResult`)."""
    from cadence.core.durations import format_clock

    how = "Played" if result.completed else "Stopped after"
    click.echo(
        f"{how} {format_clock(result.played_s)} · {result.beats} beats · "
        f"{result.final_spm:.1f} spm at the end · {count(result.underruns, 'output underrun')}"
    )


def devices(outputs: Sequence[Any]) -> None:
    for d in outputs:
        mark = "*" if d.is_default else " "
        click.echo(
            f"{mark} {d.index:3d}  {d.name}  ({d.hostapi}, {d.channels} ch, {d.default_sr} Hz)"
        )
    click.echo("* default")
