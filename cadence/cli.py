"""The `cadence` command line: parses, calls the library, prints.

Start-up matters (``cadence calc`` should answer at once), so this module
imports only click and :mod:`cadence.errors` at the top; every command imports
what it needs inside its function, and nothing here imports librosa, scipy,
numba or sounddevice at start-up.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from typing import Any

# One thread per process for the numeric libraries: the analyzer parallelises
# over files (--jobs), and BLAS threads on small matrices only burn CPU.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import click  # noqa: E402

from cadence import __version__  # noqa: E402
from cadence.core.session import VOICES as _VOICES  # noqa: E402
from cadence.errors import CadenceError, ParameterError  # noqa: E402


class CadenceGroup(click.Group):
    """A click group that turns :class:`CadenceError` into ``Error: …`` and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CadenceError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:  # Ctrl-C outside a command's own handling
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


def _console() -> Any:
    """A rich console for tables; when piped, wide enough never to cut a file name."""
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 250)


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
    _echo_advice(report.advice)


def _echo_advice(lines: list[str]) -> None:
    for line in lines:
        click.echo(click.wrap_text(line, width=78, initial_indent="  - ", subsequent_indent="    "))


def _describe_count(steps: int, seconds: float, one_foot: bool) -> str:
    if one_foot:
        return f"{steps} one-foot steps in {seconds:g} s, doubled"
    return f"{steps} steps in {seconds:g} s"


_FROM_FILE = click.option(
    "--from",
    "from_file",
    metavar="FILE",
    help="A recorded run: .fit, .gpx or .tcx (also .gz), from a watch or phone app.",
)


def _recording_summary(path: str, *, cadence_units: str | None = None, splits: str = "auto"):
    """Read and summarize an activity file; print its warnings on stderr."""
    from cadence.activity import read_activity
    from cadence.core.activity import summarize_recording

    recording = read_activity(path)
    # The reader's warnings first: they explain an error that may follow.
    for warning in recording.warnings:
        click.echo(f"Warning: {recording.name}: {warning}", err=True)
    summary = summarize_recording(recording, cadence_units=cadence_units, splits=splits)
    for warning in summary.warnings[len(recording.warnings) :]:
        click.echo(f"Warning: {summary.name}: {warning}", err=True)
    return summary


def _echo_recording(summary: Any) -> None:
    """Print what was read from a recording and what was left out."""
    from cadence.core.activity import format_distance
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
    click.echo(f"          {line}; {'; '.join(parts)}")
    for text in (summary.conversion, *summary.notes):
        click.echo(
            click.wrap_text(text, width=78, initial_indent=" " * 10, subsequent_indent=" " * 10)
        )
    click.echo("")


def _echo_splits(summary: Any) -> None:
    if len(summary.splits) < 2:
        return
    from rich.table import Table

    from cadence.core.activity import format_distance
    from cadence.core.durations import format_clock

    table = Table(
        title=f"Per {'lap' if summary.split_kind == 'lap' else summary.split_kind}",
        title_justify="left",
    )
    table.add_column("Split")
    table.add_column("Starts", justify="right")
    table.add_column("Time", justify="right")
    table.add_column("Distance", justify="right")
    table.add_column("Counted", justify="right")
    table.add_column("Cadence", justify="right")
    for split in summary.splits:
        table.add_row(
            split.label,
            format_clock(split.start_s),
            format_clock(split.duration_s),
            format_distance(split.distance_m),
            format_clock(split.counted_s),
            "—" if split.median_spm is None else f"{split.median_spm:.1f} spm",
        )
    click.echo("")
    _console().print(table)


@main.command()
@click.option("--steps", type=int, help="Steps counted (both feet, or one foot with --one-foot).")
@click.option(
    "--seconds",
    type=float,
    help="How long you counted, in seconds.  [default: 60]",
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
@click.option("--plot", metavar="FILE.png", help="With --from: draw cadence over the run.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def calc(
    steps: int | None,
    seconds: float | None,
    one_foot: bool,
    spm: float | None,
    from_file: str | None,
    cadence_units: str | None,
    splits: str,
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
    from cadence.core.calc import cadence_report, steps_to_spm

    if from_file is None:
        for name, given in (
            ("cadence-units", cadence_units),
            ("splits", splits != "auto"),
            ("plot", plot),
        ):
            if given:
                raise ParameterError(name, "only goes with --from FILE")

    summary = None
    if from_file is not None:
        if spm is not None or steps is not None or seconds is not None or one_foot:
            raise ParameterError(
                "from", "give either --from FILE or a count (--steps/--spm), not both"
            )
        if plot:
            from cadence.plots import check_matplotlib

            check_matplotlib()
        summary = _recording_summary(from_file, cadence_units=cadence_units, splits=splits)
        source = {"file": summary.name, "format": summary.file_format}
        if summary.kind == "walk":
            from cadence.core.activity import walk_result

            result = {**walk_result(summary), "source": source}
            report = None
        else:
            report = cadence_report(summary.median_spm, source=source)
            result = report.to_dict()
        result["recording"] = summary.to_dict()
        from cadence.core.durations import format_clock

        how = (
            f"median over {format_clock(summary.counted_s)} of {summary.activity}; "
            f"10-90 %: {summary.p10_spm:.1f}-{summary.p90_spm:.1f}"
        )
    elif spm is not None:
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
        raise ParameterError(
            "steps",
            "give --steps N (steps counted), --spm X (known cadence) "
            "or --from FILE (a recorded run)",
        )

    if summary is not None and plot:
        from cadence.plots import plot_run_cadence

        targets = (report.target_5_spm, report.target_10_spm) if report else ()
        plot_run_cadence(summary, plot, targets_spm=targets)

    if as_json:
        _print_json(result if summary is not None else report.to_dict())
        return
    if summary is not None:
        _echo_recording(summary)
    if report is not None:
        _echo_report(report, how=how)
    else:
        b = click.style(f"{result['cadence_spm']:.1f}", bold=True)
        click.echo(f"Cadence   {b} steps/min   ({how})")
        click.echo("")
        _echo_advice(result["advice"])
    if summary is not None:
        _echo_splits(summary)
        if plot:
            click.echo(f"Plot: {plot}", err=True)


# --- plan --------------------------------------------------------------------


@main.command()
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
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="First day of week 1, YYYY-MM-DD.  [default: today]",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def plan(
    current: float | None,
    from_file: str | None,
    goal: int | None,
    weeks: int | None,
    start: dt.datetime | None,
    as_json: bool,
) -> None:
    """A week-by-week plan to raise your cadence, never more than +5 % a week.

    \b
      cadence plan --current 156                # to +5 % in 4 weeks
      cadence plan --current 156 --goal 172     # to +10 % in 6 weeks
      cadence plan --from Morning_Run.fit       # from a recorded run
    """
    from cadence.core.plan import progression_plan

    recorded = None
    if from_file is not None:
        if current is not None:
            raise ParameterError("from", "give either --current or --from FILE, not both")
        from cadence.core.calc import round_half_up

        recorded = _recording_summary(from_file, splits="none")
        if recorded.kind == "walk":
            raise CadenceError(
                f"{recorded.name} is a walk ({round_half_up(recorded.median_spm, ndigits=1):g} "
                "steps/min); a cadence plan starts from a run. Give a run's recording, "
                "or --current SPM"
            )
        current = round_half_up(recorded.median_spm, ndigits=1)
    elif current is None:
        raise ParameterError("current", "give --current SPM or --from FILE (a recorded run)")
    start_date = start.date() if start else dt.date.today()
    result = progression_plan(current, goal_spm=goal, weeks_per_stage=weeks, start_date=start_date)
    if as_json:
        payload = result.to_dict()
        if recorded is not None:
            payload["recording"] = recorded.to_dict()
        _print_json(payload)
        return

    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if recorded is not None:
        from cadence.core.durations import format_clock

        click.echo(
            f"Current cadence from {recorded.name}: {current:.1f} steps/min "
            f"(median over {format_clock(recorded.counted_s)} of running)\n"
        )
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


# --- metronome -----------------------------------------------------------------


def _session_from_options(
    spm: float,
    *,
    duration: str | None,
    beats: int | None,
    accent: int,
    every: int,
    count_in: int,
    ramp_from: float | None,
    ramp_over: str | None,
    intervals: str | None,
    repeat: int | None,
    cues: bool,
):
    from cadence.core.durations import parse_duration_s
    from cadence.core.session import Session, check_metronome_spm, parse_intervals

    spm = check_metronome_spm(spm)
    if beats is not None:
        if duration or intervals or ramp_from is not None:
            raise ParameterError(
                "beats", "give --beats alone, without --duration, --intervals or --ramp-from"
            )
        # Half a beat past the last one, so the last beat sounds in full.
        duration_s = (beats - 0.5) * 60 / spm
    else:
        duration_s = parse_duration_s(duration, parameter="duration") if duration else None
    return Session(
        spm,
        duration_s=duration_s,
        intervals=parse_intervals(intervals) if intervals else (),
        repeat=repeat,
        ramp_from_spm=ramp_from,
        ramp_over_s=parse_duration_s(ramp_over, parameter="ramp-over") if ramp_over else None,
        count_in=count_in,
        accent=accent,
        every=every,
        cues=cues,
    )


def _render_to_file(session: Any, path: str, *, sr: int, voice: str, volume: float) -> dict:
    from cadence.audiofile import output_format, write_session
    from cadence.core.render import BeatRenderer

    output_format(path)  # refuse a bad extension before any work
    renderer = BeatRenderer(session, sr=sr, voice=voice, volume_db=volume)
    total = renderer.total_samples
    if total is not None and total > 5 * 60 * sr and sys.stderr.isatty():
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"Rendering {path}", total=total)
            written = write_session(
                renderer, path, progress=lambda n, _t: bar.update(task, completed=n)
            )
    else:
        written = write_session(renderer, path)
    return {
        "output": path,
        "format": "/".join(output_format(path)),
        "sr": sr,
        "duration_s": round(written / sr, 6),
        "count_in_s": round(renderer.count_in_samples / sr, 6),
        "count_in_beats": session.count_in,
        "beats": renderer.beats_played,
    }


@main.command()
@click.argument("spm", type=float)
@click.option(
    "--duration", metavar="TIME", help="How long: 90s, 20m, 1h, 1:30:00.  [default: until stopped]"
)
@click.option("--beats", type=click.IntRange(1, 100_000), help="Play exactly this many beats.")
@click.option(
    "--voice",
    type=click.Choice(_VOICES),
    default="click",
    show_default=True,
    help="The beat's sound.",
)
@click.option(
    "--volume", type=float, default=-6.0, show_default=True, help="Level in dB (0 is loudest)."
)
@click.option(
    "--accent",
    type=int,
    default=0,
    metavar="N",
    help="Accent the first of every N steps (2: left/right).",
)
@click.option(
    "--every",
    type=int,
    default=1,
    metavar="N",
    help="Sound only every Nth step (2: once per stride).",
)
@click.option("--count-in", type=int, default=0, metavar="N", help="Beats before the timer starts.")
@click.option(
    "--ramp-from", type=float, metavar="SPM", help="Start at this cadence and glide to SPM ..."
)
@click.option("--ramp-over", metavar="TIME", help="... over this long (with --ramp-from).")
@click.option(
    "--intervals",
    metavar="SPEC",
    help="Run/walk programme, e.g. run:2m,walk:1m (walks silent) or 2m,1m@120.",
)
@click.option("--repeat", type=int, metavar="N", help="Play the --intervals programme N times.")
@click.option("--no-cues", is_flag=True, help="No cue and countdown pips at interval changes.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Render to a file (.wav .flac .ogg .mp3) instead of playing.",
)
@click.option(
    "--sr", type=int, default=44100, show_default=True, help="Sample rate of --output, Hz."
)
@click.option(
    "--fallback-output",
    type=click.Path(dir_okay=False),
    help="Play, but if there is no usable audio output, render to this file instead.",
)
@click.option("--device", metavar="NAME|INDEX", help="Output device (see cadence devices).")
@click.option("--latency", default="low", show_default=True, help="low, high, or seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary at the end.")
def metronome(
    spm: float,
    duration: str | None,
    beats: int | None,
    voice: str,
    volume: float,
    accent: int,
    every: int,
    count_in: int,
    ramp_from: float | None,
    ramp_over: str | None,
    intervals: str | None,
    repeat: int | None,
    no_cues: bool,
    output: str | None,
    sr: int,
    fallback_output: str | None,
    device: str | None,
    latency: str,
    as_json: bool,
) -> None:
    """Play a beat at SPM steps per minute (40-240, fractions allowed).

    \b
      cadence metronome 172                        until Ctrl-C
      cadence metronome 172 --duration 20m --accent 2
      cadence metronome 170 --ramp-from 160 --ramp-over 5m --duration 30m
      cadence metronome 172 --intervals run:2m,walk:1m --repeat 10
      cadence metronome 172 --duration 30m -o run-172.mp3   (for a phone)

    While playing in a terminal: up/down change the tempo by 1 spm,
    PgUp/PgDn by 5, space pauses, q quits.
    """
    session = _session_from_options(
        spm,
        duration=duration,
        beats=beats,
        accent=accent,
        every=every,
        count_in=count_in,
        ramp_from=ramp_from,
        ramp_over=ramp_over,
        intervals=intervals,
        repeat=repeat,
        cues=not no_cues,
    )
    from cadence.core.synth import check_volume_db

    check_volume_db(volume)
    if output and (device or fallback_output):
        raise ParameterError(
            "output",
            "--output renders to a file; it does not go with --device or --fallback-output",
        )
    if output:
        summary = _render_to_file(session, output, sr=sr, voice=voice, volume=volume)
        _finish_render(summary, as_json=as_json)
        return

    from cadence.errors import AudioDeviceError

    try:
        from cadence.core.render import BeatRenderer
        from cadence.playback import Player

        player = Player(
            lambda device_sr: BeatRenderer(session, sr=device_sr, voice=voice, volume_db=volume),
            device=device,
            latency=_parse_latency(latency),
        )
    except AudioDeviceError as exc:
        if not fallback_output:
            raise
        reason = getattr(exc, "reason", str(exc))
        click.echo(f"No sound: {reason}. Rendering to {fallback_output} instead.", err=True)
        summary = _render_to_file(session, fallback_output, sr=sr, voice=voice, volume=volume)
        _finish_render(summary, as_json=as_json)
        return

    from cadence.live import play_session
    from cadence.terminal import stdin_is_terminal

    interactive = stdin_is_terminal() and sys.stderr.isatty()
    latency = f", latency {player.latency_s * 1000:.1f} ms" if player.latency_s > 0 else ""
    click.echo(
        f"Playing {session.spm:g} spm on {player.device.name} ({player.device.hostapi}), "
        f"{player.sr} Hz{latency}. Ctrl-C to stop.",
        err=True,
    )
    result = play_session(
        player, interactive=interactive, echo=lambda s: click.echo(s, err=True, nl=False)
    )
    if as_json:
        _print_json(result.to_dict())
        return
    from cadence.core.durations import format_clock

    how = "Played" if result.completed else "Stopped after"
    click.echo(
        f"{how} {format_clock(result.played_s)} · {result.beats} beats · "
        f"{result.final_spm:.1f} spm at the end · {result.underruns} output underruns"
    )


def _parse_latency(text: str) -> str | float:
    if text in ("low", "high"):
        return text
    try:
        value = float(text)
    except ValueError:
        raise ParameterError("latency", f"{text!r}: use low, high or a number of seconds") from None
    if not 0 < value <= 2:
        raise ParameterError("latency", f"{value:g} s: must be between 0 and 2 seconds")
    return value


def _finish_render(summary: dict, *, as_json: bool) -> None:
    if as_json:
        _print_json(summary)
        return
    from cadence.core.durations import format_clock

    beats = f"{summary['beats']} beats"
    if summary["count_in_beats"]:
        beats += f" ({summary['count_in_beats']} of them the count-in)"
    click.echo(
        f"Wrote {summary['output']}: {format_clock(summary['duration_s'])} "
        f"({summary['duration_s']:.3f} s), {beats}, {summary['format']} at {summary['sr']} Hz."
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def devices(as_json: bool) -> None:
    """List audio outputs for `cadence metronome --device`."""
    from cadence.playback import list_output_devices

    outputs = list_output_devices()
    if as_json:
        _print_json([d.to_dict() for d in outputs])
        return
    if not outputs:
        click.echo("No audio output devices. Render sessions to a file with --output.")
        return
    for d in outputs:
        mark = "*" if d.is_default else " "
        click.echo(
            f"{mark} {d.index:3d}  {d.name}  ({d.hostapi}, {d.channels} ch, {d.default_sr} Hz)"
        )
    click.echo("* default")


# --- analyzer -------------------------------------------------------------------


def _fmt(value: Any, spec: str = "g", missing: str = "—") -> str:
    return missing if value is None else format(value, spec)


@main.command()
# Plain paths: a missing, unreadable or folder argument is that file's error
# line, and the other files are still measured.
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def bpm(files: tuple[str, ...], as_json: bool) -> None:
    """Measure the tempo of music files.

    For each file: the tempo in BPM, a confidence from 0 to 1, the tempo's
    stability through the track (share of windows that agree), the half- and
    double-time readings, and the BPM tag if the file has one. Exit code 1 if
    any file could not be analysed.

    \b
      cadence bpm song.mp3
      cadence bpm *.flac --json
    """
    from rich.markup import escape

    from cadence.library import analyze_file, display_path, one_line

    results = [analyze_file(f) for f in files]
    if as_json:
        _print_json([{**r, "path": display_path(r["path"])} for r in results])
    else:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for name, justify in [
            ("BPM", "right"),
            ("Conf", "right"),
            ("Stable", "right"),
            ("Half", "right"),
            ("Double", "right"),
            ("Tag", "right"),
            ("File", "left"),
        ]:
            overflow = "fold" if name == "File" else "ellipsis"
            table.add_column(name, justify=justify, overflow=overflow)
        for r in results:
            alt = r.get("alternatives") or {}
            name = escape(one_line(r["path"]))
            if r["error"]:
                name += f"  [red]error: {escape(one_line(r['error']))}[/]"
            elif r.get("note"):
                name += f"  [yellow]{escape(one_line(r['note']))}[/]"
            table.add_row(
                _fmt(r["bpm"], ".1f"),
                _fmt(r["confidence"], ".2f"),
                _fmt(r["stability"], ".0%"),
                _fmt(alt.get("half"), ".1f"),
                _fmt(alt.get("double"), ".1f"),
                _fmt(r.get("tag_bpm"), "g"),
                name,
            )
        _console().print(table)
    if any(r["error"] for r in results):
        sys.exit(1)


@main.command()
@click.argument("folder")
@click.option("--target", type=float, required=True, help="Target cadence, steps/min.")
@click.option(
    "--tolerance", type=float, default=3.0, show_default=True, help="Fit within ± this many spm."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("--all", "show_all", is_flag=True, help="List tracks that do not fit too (table).")
@click.option(
    "--playlist",
    type=click.Path(dir_okay=False),
    help="Write the fitting tracks to this .m3u8, by tempo.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    help="Histogram of step tempos with the target band (.png).",
)
@click.option(
    "--jobs", "-j", type=click.IntRange(1, 64), help="Worker processes.  [default: CPU count]"
)
@click.option(
    "--cache",
    "cache_path",
    type=click.Path(dir_okay=False),
    help="Cache file.  [default: user cache]",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@click.option(
    "--write-tags", is_flag=True, help="Write the measured BPM into each file's tags (atomic)."
)
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress bar, no summary (problems are still listed)."
)
def scan(
    folder: str,
    target: float,
    tolerance: float,
    fmt: str,
    show_all: bool,
    playlist: str | None,
    plot: str | None,
    jobs: int | None,
    cache_path: str | None,
    no_cache: bool,
    write_tags: bool,
    quiet: bool,
) -> None:
    """Find the songs in FOLDER whose tempo fits your target cadence.

    A track fits when its BPM, or twice its BPM (half time: two steps per
    beat), is within --tolerance of --target. Best fit first; the table says
    by how much a track would have to be sped up or slowed down to fit
    exactly. Results are cached, so an unchanged folder rescans in seconds and
    an interrupted scan resumes. Music files are only read, unless
    --write-tags is given.

    \b
      cadence scan ~/Music --target 172 --playlist run-172.m3u8
      cadence scan ~/Music --target 164 --format json > tracks.json
    """

    from cadence.core.calc import check_plausible_spm
    from cadence.core.matching import check_tolerance_spm

    check_plausible_spm(target, parameter="target")
    check_tolerance_spm(tolerance)
    if no_cache and cache_path:
        raise ParameterError("no-cache", "give --cache FILE or --no-cache, not both")
    for option, path in (("playlist", playlist), ("plot", plot)):
        if path:
            _check_output_path(option, path)
    if plot:
        from cadence.plots import check_matplotlib

        check_matplotlib()

    from cadence.cache import TrackCache, default_cache_path
    from cadence.library import (
        ANALYZER_VERSION,
        display_path,
        one_line,
        scan_library,
        with_match,
    )

    jobs = jobs or os.cpu_count() or 1
    interactive = sys.stderr.isatty() and not quiet
    problems: list[tuple[str, str]] = []

    def on_problem(path: str, reason: str) -> None:
        problems.append((path, reason))
        click.echo(f"warning: {one_line(path)}: {one_line(reason)}", err=True)

    cache = (
        None
        if no_cache
        else TrackCache(cache_path or default_cache_path(), analyzer_version=ANALYZER_VERSION)
    )
    try:
        if interactive:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            columns = [
                TextColumn("Analysing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            ]
            from rich.console import Console

            # On stderr: stdout may be a file (--format json > tracks.json).
            with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
                task = bar.add_task("scan", total=None, rate="")
                import time as _time

                t0 = _time.perf_counter()

                first_done: list[int] = []

                def on_progress(done: int, total: int) -> None:
                    # The rate and the time left count analysed files only:
                    # cache hits all come at once, first.
                    if not first_done:
                        first_done.append(done)
                        bar.reset(task, total=total, completed=done, rate="")
                        return
                    elapsed = _time.perf_counter() - t0
                    rate = f"{(done - first_done[0]) / elapsed:.1f} files/s" if elapsed > 1 else ""
                    bar.update(task, completed=done, total=total, rate=rate)

                result = scan_library(
                    folder, cache=cache, jobs=jobs, on_problem=on_problem, on_progress=on_progress
                )
        else:
            result = scan_library(folder, cache=cache, jobs=jobs, on_problem=on_problem)
        if write_tags and not result.interrupted:
            from cadence.library import write_tags as write_bpm_tags

            written, already = write_bpm_tags(result, cache=cache, on_problem=on_problem)
            if not quiet:
                same = f" ({already} already had it)" if already else ""
                click.echo(f"Wrote the BPM tag into {_count(written, 'file')}{same}.", err=True)
    finally:
        if cache is not None:
            cache.close()

    tracks = [with_match(t, target_spm=target, tolerance_spm=tolerance) for t in result.tracks]
    fitting = sorted(
        (t for t in tracks if t["match_factor"]),
        key=lambda t: (abs(t["off_spm"]), -(t["confidence"] or 0)),
    )

    root = os.path.abspath(folder)

    def shown(path: str) -> str:
        return one_line(os.path.relpath(os.path.abspath(path), root))

    if fmt == "json":
        _print_json([_track_json(t) for t in tracks])
    elif fmt == "csv":
        import csv

        cols = [
            "path",
            "bpm",
            "confidence",
            "stability",
            "match_factor",
            "step_bpm",
            "off_spm",
            "stretch_pct",
            "tag_bpm",
            "duration_s",
            "error",
            "note",
        ]
        out = sys.stdout
        writer = csv.DictWriter(out, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for t in tracks:
            writer.writerow({**_track_json(t), "path": display_path(t["path"])})
    else:
        _print_scan_table(
            fitting if not show_all else _all_sorted(tracks),
            shown=shown,
            target=target,
            tolerance=tolerance,
        )

    if result.interrupted and (playlist or plot):
        playlist = plot = None  # a partial list must not replace a complete one
        click.echo("Playlist and plot not written: the scan was interrupted.", err=True)
    if playlist:
        from cadence.library import write_playlist

        by_tempo = sorted(fitting, key=lambda t: (t["step_bpm"], t["bpm"]))
        left_out = write_playlist(by_tempo, playlist)
        if left_out:  # a warning, so -q shows it: the playlist is shorter than the list
            click.echo(
                f"warning: playlist: {_count(left_out, 'track')} left out"
                " (names not UTF-8 or with line breaks)",
                err=True,
            )
        if not quiet:
            click.echo(
                f"Playlist: {playlist} ({_count(len(by_tempo) - left_out, 'track')}, by tempo)",
                err=True,
            )
    if plot:
        from cadence.plots import plot_tempo_histogram

        plot_tempo_histogram(tracks, plot, target=target, tolerance=tolerance, folder=folder)
        if not quiet:
            click.echo(f"Plot: {plot}", err=True)

    if not quiet:
        halves = sum(1 for t in fitting if t["match_factor"] == 2)
        note = ""
        if result.interrupted:
            note = " Interrupted: " + (
                "nothing is kept (--no-cache)."
                if cache is None
                else "what was analysed is kept in the cache."
            )
        click.echo(
            f"Scanned {_count(len(tracks), 'track')} in {result.elapsed_s:.1f} s "
            f"({result.analysed} analysed, {result.cached} from the cache, "
            f"{_count(len(problems), 'problem')}). "
            f"{len(fitting)} fit {target:g} ± {tolerance:g} spm: "
            f"{len(fitting) - halves} at one step per beat, {halves} at half time.{note}",
            err=True,
        )
    if result.interrupted:
        sys.exit(130)


def _count(n: int, noun: str) -> str:
    """``1 track``, ``2 tracks``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _track_json(t: dict) -> dict:
    keys = [
        "path",
        "bpm",
        "confidence",
        "stability",
        "alternatives",
        "match_factor",
        "step_bpm",
        "off_spm",
        "stretch_pct",
        "tag_bpm",
        "title",
        "artist",
        "duration_s",
        "error",
        "note",
    ]
    out = {k: t.get(k) for k in keys}
    from cadence.library import display_path

    out["path"] = display_path(t["path"])
    return out


def _all_sorted(tracks: list[dict]) -> list[dict]:
    return sorted(
        tracks,
        key=lambda t: (
            t["match_factor"] is None,
            abs(t["off_spm"]) if t["off_spm"] is not None else 1e9,
            -(t["confidence"] or 0),
        ),
    )


def _check_output_path(option: str, path: str) -> None:
    """Refuse an output file whose folder is missing or not writable, before a long scan."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ParameterError(option, f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ParameterError(option, f"{path}: folder {folder} is not writable")
    if os.path.isdir(path):
        raise ParameterError(option, f"{path} is a folder; give a file name")


def _print_scan_table(rows: list[dict], *, shown: Any, target: float, tolerance: float) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    if not rows:
        console.print(f"No tracks fit {target:g} ± {tolerance:g} spm.")
        return
    table = Table(
        title=f"Tracks for {target:g} ± {tolerance:g} steps/min, best fit first",
        title_justify="left",
        box=None,
        pad_edge=False,
    )
    for name, justify in [
        ("Steps/min", "right"),
        ("BPM", "right"),
        ("Fit", "left"),
        ("Off", "right"),
        ("Stretch", "right"),
        ("Conf", "right"),
        ("Tag", "right"),
        ("Track", "left"),
    ]:
        # A long path wraps rather than losing the part that tells files apart.
        table.add_column(name, justify=justify, overflow="fold" if name == "Track" else "ellipsis")
    for t in rows:
        if t["error"]:
            fit = "[red]error[/]"
        elif t["match_factor"] == 1:
            fit = "1 step/beat"
        elif t["match_factor"] == 2:
            fit = "half time"
        elif t["bpm"] is None:
            fit = "[dim]no beat[/]"
        else:
            fit = "[dim]no fit[/]"
        table.add_row(
            _fmt(t["step_bpm"], ".1f"),
            _fmt(t["bpm"], ".1f"),
            fit,
            _fmt(t["off_spm"], "+.1f"),
            _fmt(t["stretch_pct"], "+.1f", "—") + ("%" if t["stretch_pct"] is not None else ""),
            _fmt(t["confidence"], ".2f"),
            _fmt(t.get("tag_bpm"), "g"),
            escape(shown(t["path"])),
        )
    console.print(table)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
