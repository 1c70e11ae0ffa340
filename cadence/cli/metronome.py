"""``cadence metronome`` and ``cadence devices``: the beat, live or rendered to a file."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from typing import Any

import click

from cadence.cli import OUTPUT_PATH, ExitStatus, json_option, main, output, reports, voice_option
from cadence.errors import ParameterError

#: Longer renders show a progress bar (on a terminal).
PROGRESS_AFTER_S = 5 * 60


def _session(
    spm: float,
    *,
    duration: str | None,
    beats: int | None,
    intervals: str | None,
    ramp_from: float | None,
    ramp_over: str | None,
    **options: Any,
) -> Any:
    """The session the options describe (durations and programme as the user wrote them)."""
    from cadence.core.durations import parse_duration_s
    from cadence.core.session import Session, parse_intervals

    # An empty value ("$DURATION" unset in a script) is a mistake, not "not given".
    ramp_over_s = None if ramp_over is None else parse_duration_s(ramp_over, parameter="ramp-over")
    if beats is not None:
        # Given or not, as typed: a beat count leaves no room for a length or a ramp.
        given = {"duration_s": duration, "intervals": intervals, "ramp_from_spm": ramp_from}
        given = {k: v for k, v in given.items() if v is not None}
        return Session.for_beats(spm, beats, ramp_over_s=ramp_over_s, **given, **options)
    return Session(
        spm,
        duration_s=None if duration is None else parse_duration_s(duration, parameter="duration"),
        intervals=() if intervals is None else parse_intervals(intervals),
        ramp_from_spm=ramp_from,
        ramp_over_s=ramp_over_s,
        **options,
    )


def _render(session: Any, path: str, *, sr: int, voice: str, volume: float) -> dict:
    from cadence.audio.write import render_to_file

    long = (session.length_s or 0) > PROGRESS_AFTER_S and sys.stderr.isatty()
    with output.ProgressDisplay(f"Rendering {path}", enabled=long) as bar:
        return render_to_file(
            session, path, sr=sr, voice=voice, volume_db=volume, progress=bar.update
        )


def _refuse_unused_options(*, rendering: bool, fallback: bool) -> None:
    """--sr is the rate of a rendered file, --latency that of playing: neither is ignored."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    given = {
        name
        for name in ("sr", "latency")
        if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT
    }
    if "sr" in given and not (rendering or fallback):
        raise ParameterError(
            "sr", "is the sample rate of --output or --fallback-output; playing uses the device's"
        )
    if "latency" in given and rendering:
        raise ParameterError("latency", "is for playing; it does not go with --output")


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


@main.command(short_help="Play a beat at SPM steps a minute, or render it to a file.")
@click.argument("spm", type=float)
@click.option(
    "--duration", metavar="TIME", help="How long: 90s, 20m, 1h, 1:30:00.  [default: until stopped]"
)
@click.option("--beats", type=click.IntRange(1, 100_000), help="Play exactly this many beats.")
@voice_option("The beat's sound.")
@click.option(
    "--volume", type=float, default=-6.0, show_default=True, help="Level in dB (0 is loudest)."
)
@click.option(
    "--accent",
    type=int,
    default=0,
    metavar="N",
    help="Accent the first of every N steps (2: left/right; 0, the default: no accent).",
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
    "output_path",
    type=OUTPUT_PATH,
    help="Render to a file (.wav .flac .ogg .mp3) instead of playing.",
)
@click.option(
    "--sr", type=int, default=44100, show_default=True, help="Sample rate of --output, Hz."
)
@click.option(
    "--fallback-output",
    type=OUTPUT_PATH,
    help="Play, but if there is no usable audio output, render to this file instead.",
)
@click.option("--force", is_flag=True, help="Let --output replace a file cadence did not render.")
@click.option("--device", metavar="NAME|INDEX", help="Output device (see cadence devices).")
@click.option("--latency", default="low", show_default=True, help="low, high, or seconds.")
@json_option("Print a JSON summary at the end.")
def metronome(
    spm: float,
    voice: str,
    volume: float,
    no_cues: bool,
    output_path: str | None,
    sr: int,
    fallback_output: str | None,
    force: bool,
    device: str | None,
    latency: str,
    as_json: bool,
    **session_options: Any,
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
    from cadence.core.synth import check_volume_db

    session = _session(spm, cues=not no_cues, **session_options)
    check_volume_db(volume)
    from cadence.playback import check_device_name

    check_device_name(device)  # here: a mistake, not a missing device to fall back from
    if output_path is not None and (device is not None or fallback_output is not None):
        raise ParameterError(
            "output",
            "--output renders to a file; it does not go with --device or --fallback-output",
        )
    _refuse_unused_options(rendering=output_path is not None, fallback=fallback_output is not None)
    from cadence.audio.write import check_not_endless, check_render_path

    for option, path in (("output", output_path), ("fallback-output", fallback_output)):
        if path is not None:
            check_render_path(path, parameter=option, force=force, sr=sr)
            check_not_endless(session.length_s, parameter=option)  # now, not after the device
    render = {"sr": sr, "voice": voice, "volume": volume}
    if output_path is not None:
        _finish_render(_render(session, output_path, **render), as_json=as_json)
        return
    player = _open_player(
        session,
        device=device,
        latency=latency,
        fallback=fallback_output,
        voice=voice,
        volume=volume,
    )
    if player is None:  # no sound: render instead
        _finish_render(_render(session, fallback_output, **render), as_json=as_json)
        return

    reports.playing(session, player)
    result = play_on_terminal(player)
    if as_json:
        output.print_json(result.to_dict())
    else:
        reports.play_summary(result)


def _open_player(
    session: Any,
    *,
    device: str | None,
    latency: str,
    fallback: str | None,
    voice: str,
    volume: float,
) -> Any:
    """A player for the session, or None when there is no sound and --fallback-output says so."""
    from cadence.core.render import BeatRenderer
    from cadence.errors import AudioDeviceError
    from cadence.playback import Player

    try:
        return Player(
            lambda device_sr: BeatRenderer(session, sr=device_sr, voice=voice, volume_db=volume),
            device=device,
            latency=_parse_latency(latency),
        )
    except AudioDeviceError as exc:
        if not fallback:
            raise
        output.note(f"No sound: {exc.reason}. Rendering to {fallback} instead.")
        return None


def _finish_render(summary: dict, *, as_json: bool) -> None:
    if as_json:
        output.print_json(summary)
    else:
        reports.render_summary(summary)


@main.command(short_help="List audio outputs for metronome --device.")
@json_option("Print a JSON list.")
def devices(as_json: bool) -> None:
    """List audio outputs for `cadence metronome --device`."""
    from cadence.errors import AudioDeviceError
    from cadence.playback import list_output_devices

    outputs = list_output_devices()
    if as_json:
        output.print_json([d.to_dict() for d in outputs])
    elif outputs:
        reports.devices(outputs)
    if not outputs:  # as `metronome` says it when it finds none (after the JSON's [])
        raise AudioDeviceError(
            "no audio output device found", hint="render sessions to a file with --output FILE"
        )


def play_on_terminal(player: Any, *, clean_up: Any = None) -> Any:
    """:func:`cadence.live.play_session` with this terminal's keys, status line and width.

    A stream the audio library cannot stop (a dead sound server) ends the
    process at once, with its error, after `clean_up` (a callable, if given):
    the exit handlers would wait on the stream for ever.
    """
    from cadence.errors import AudioDeviceLostError
    from cadence.live import play_session
    from cadence.terminal import stdin_is_terminal

    try:
        return play_session(
            player,
            interactive=stdin_is_terminal() and sys.stderr.isatty(),
            echo=lambda s: click.echo(s, err=True, nl=False),
            width=shutil.get_terminal_size().columns,
        )
    except AudioDeviceLostError as exc:
        if not exc.hung:
            raise
        if clean_up is not None:
            with contextlib.suppress(Exception):
                clean_up()
        click.echo(f"Error: {exc}", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(ExitStatus.ERROR)
