"""What each command prints: cadence reports, recordings, plans, sessions (the
music commands' tables are in :mod:`.analysis_reports`).

Built on :mod:`.output`; commands hand their results here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import click

from cadence.cli.output import (
    MISSING,
    console,
    count,
    note,
    print_rich,
    table,
    terminal_columns,
    warn,
    wrapped,
)
from cadence.files import display_path


def format_distance(distance_m: float | None, *, unit: str = "km", with_unit: bool = True) -> str:
    """``"9.01 km"`` style (``unit`` "km" or "mi"; the figure alone without
    `with_unit`, for a column headed by its unit), or an em dash when unknown.

    >>> format_distance(9008.2), format_distance(None), format_distance(1609.344, unit="mi")
    ('9.01 km', '—', '1.00 mi')
    """
    if distance_m is None or not math.isfinite(distance_m):
        return MISSING
    figure = f"{distance_m / (1609.344 if unit == 'mi' else 1000):.2f}"
    return f"{figure} {unit}" if with_unit else figure


# --- calculator -----------------------------------------------------------------


def cadence_report(report: Any, *, how: str) -> None:
    """A cadence with its targets and advice (a :class:`~cadence.core.calc.CadenceReport`)."""
    b = lambda s: click.style(str(s), bold=True)  # noqa: E731
    _cadence_line(report.cadence_spm, how)
    where = "under" if report.below_rule_of_thumb else "at or above"
    click.echo(wrapped(f"{where} the ~160 steps/min rule of thumb", indent=" " * 10))
    click.echo("")
    if report.target_5_spm is not None:
        # "start here" only where it fits: the advice below says it too.
        here = "   start here" if (terminal_columns() or 80) > 43 else ""
        click.echo(f"Targets   +5 %   {b(report.target_5_spm)} steps/min{here}")
        if report.target_10_spm is not None:
            click.echo(f"          +10 %  {b(report.target_10_spm)} steps/min")
        click.echo("")
    click.echo("Advice")
    advice(report.advice)


def walk_report(result: dict, *, how: str) -> None:
    """A recorded walk: its cadence and advice, without targets."""
    _cadence_line(result["cadence_spm"], how)
    click.echo("")
    advice(result["advice"])


def _cadence_line(spm: float, how: str) -> None:
    """``Cadence   166.0 steps/min   (how it was measured)``, one line for
    ``grep``; on a terminal too narrow for it, how it was measured wrapped below."""
    figure = f"Cadence   {click.style(f'{spm:.1f}', bold=True)} steps/min"
    columns = terminal_columns()
    if columns is None or len(f"Cadence   {spm:.1f} steps/min   ({how})") < columns:
        click.echo(f"{figure}   ({how})")
    else:
        click.echo(figure)
        click.echo(wrapped(f"({how})", indent=" " * 10))


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
    click.echo(wrapped(" · ".join(about), indent=" " * 10))
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
            (summary.paused_s, "between records"),  # gaps over 10 s: a pause, or no data
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


def _fitted(build: Callable[..., Any], out: Any) -> Any:
    """The table ``build(compact=False)``, or ``build(compact=True)`` (units in
    the headers, no borders, fewer columns) when it is wider than `out`'s
    terminal: a narrow terminal then gets every figure whole, not cut to "…"."""
    table_ = build(compact=False)
    unbounded = out.options.update_width(10_000)  # its natural width, not the terminal's
    if out.measure(table_, options=unbounded).maximum <= out.width:
        return table_
    return build(compact=True)


def splits(summary: Any) -> None:
    """The per-lap (or per km/mile) table of a recording, when it has two or more."""
    if len(summary.splits) < 2:
        return
    from cadence.core.durations import format_clock

    kind = "lap" if summary.split_kind == "lap" else summary.split_kind
    unit = "mi" if summary.split_kind == "mile" else "km"

    def build(*, compact: bool) -> Any:
        t = table(
            ("Split", "left"),
            *([] if compact else [("Starts", "right")]),
            ("Time", "right"),
            (unit if compact else "Distance", "right"),
            ("Counted", "right"),
            ("spm" if compact else "Cadence", "right"),
            title=f"Per {kind}",
            plain=compact,
        )
        for split in summary.splits:
            cadence = MISSING if split.median_spm is None else f"{split.median_spm:.1f}"
            t.add_row(
                split.label,
                *([] if compact else [format_clock(split.start_s)]),
                format_clock(split.duration_s),
                format_distance(split.distance_m, unit=unit, with_unit=not compact),
                format_clock(split.counted_s),
                cadence if compact or cadence == MISSING else f"{cadence} spm",
            )
        return t

    out = console()
    click.echo("")
    print_rich(_fitted(build, out), out)


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

    def build(*, compact: bool) -> Any:
        t = table(
            ("Week", "right"),
            ("Starts", "left"),
            *([("Stage", "right")] if result.stages > 1 else []),
            ("spm" if compact else "Cadence", "right"),
            ("Step", "right"),
            ("Total", "right"),
            title=f"{'' if compact else 'From '}{result.current_spm:g} to {result.goal_spm} "
            f"{'spm' if compact else 'steps/min'} in {len(result.weeks)} weeks",
            plain=compact,
        )
        for w in result.weeks:
            day = w.start_date
            starts = (
                "" if day is None else f"{day.day} {day:%b}" if compact else f"{day:%a %d %b %Y}"
            )
            row = [str(w.week), starts]
            if result.stages > 1:
                row.append(str(w.stage))
            pct = "%" if compact else " %"
            row += [
                str(w.spm) if compact else f"{w.spm} spm",
                f"+{w.step_pct:.1f}{pct}",
                f"+{w.total_pct:.1f}{pct}",
            ]
            t.add_row(*row)
        return t

    out = Console(highlight=False)
    print_rich(_fitted(build, out), out)
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
    # The tempo heard first, where a ramp, a walk part or a count-in starts elsewhere.
    starting = f" (starting at {session.start_spm:g})" if session.start_spm != session.spm else ""
    note(
        f"Playing {session.spm:g} spm{starting} on {player.device.name} "
        f"({player.device.hostapi}), {player.sr} Hz{latency}. Ctrl-C stops."
    )


def render_summary(summary: dict) -> None:
    """The line after ``metronome -o FILE``."""
    from cadence.core.durations import format_clock

    beats = count(summary["beats"], "beat")
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
        f"{how} {format_clock(result.played_s)} · {count(result.beats, 'beat')} · "
        f"{result.final_spm:.1f} spm at the end · {count(result.underruns, 'output underrun')}"
    )


def devices(outputs: Sequence[Any]) -> None:
    for d in outputs:
        mark = "*" if d.is_default else " "
        click.echo(
            f"{mark} {d.index:3d}  {d.name}  ({d.hostapi}, {d.channels} ch, {d.default_sr} Hz)"
        )
    click.echo("* default")
