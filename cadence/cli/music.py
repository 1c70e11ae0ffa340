"""``cadence stretch``: a song at the runner's cadence, its beats on the step grid."""

from __future__ import annotations

import os
import sys

import click

from cadence.cli import INPUT_PATH, OUTPUT_PATH, json_option, main, output, voice_option
from cadence.errors import AudioFileError, ParameterError


def click_options(func):
    """``--click``, ``--click-volume``, ``--voice`` and ``--every`` of the music commands."""
    from cadence.core.songfit import CLICK_MODES, CLICK_VOLUME_DB

    for option in reversed(
        [
            click.option(
                "--click",
                "click_mode",
                type=click.Choice(CLICK_MODES),
                default="on",
                show_default=True,
                help="A click on every step, none, or with the downbeats accented.",
            ),
            click.option(
                "--click-volume",
                type=float,
                default=CLICK_VOLUME_DB,
                show_default=True,
                help="The click's level in dB (0 is loudest).",
            ),
            voice_option("The click's sound."),
            click.option(
                "--every",
                type=click.IntRange(min=1),
                default=1,
                show_default=True,
                help="Click only every Nth step (2: once per stride).",
            ),
        ]
    ):
        func = option(func)
    return func


def max_stretch_option(func):
    from cadence.core.songfit import MAX_STRETCH_PCT

    return click.option(
        "--max-stretch",
        type=click.FloatRange(min=0, max=50),
        default=MAX_STRETCH_PCT,
        show_default=True,
        help="Largest speed change, in % either way (changes under about 4 % go unnoticed).",
    )(func)


@main.command()
@click.argument("file", type=INPUT_PATH)
@click.option("--spm", type=float, required=True, help="The cadence, steps per minute.")
@click.option(
    "-o", "--output", "out", type=OUTPUT_PATH, required=True, help="Output (.wav/.flac/.ogg/.mp3)."
)
@click_options
@max_stretch_option
@click.option("--force", is_flag=True, help="Replace an existing output file of any kind.")
@json_option("Print what was written as JSON, with the time map of every beat.")
def stretch(
    file: str,
    spm: float,
    out: str,
    click_mode: str,
    click_volume: float,
    voice: str,
    every: int,
    max_stretch: float,
    force: bool,
    as_json: bool,
) -> None:
    """Write a song time-stretched to your cadence, pitch unchanged.

    The song's beats are found, it is sped up or slowed down (at one step a
    beat, or at half time: two steps a beat, whichever needs less change) so
    that its beats fall exactly on a grid of SPM steps a minute, and the
    metronome's click is mixed on the steps (--click off for the music alone).
    A song whose beat drifts (a live band) is stretched beat by beat, so the
    click stays on its beats. For a phone or a watch: build playlists of these.

    \b
      cadence stretch song.mp3 --spm 170 -o song-170.mp3
      cadence stretch song.flac --spm 165 -o run.flac --click accent --every 2
    """
    from cadence.audio.write import check_render_path
    from cadence.core.session import check_metronome_spm
    from cadence.core.synth import check_volume_db

    check_metronome_spm(spm)
    check_volume_db(click_volume, parameter="click_volume")
    if os.path.exists(out) and os.path.exists(file) and os.path.samefile(out, file):
        raise ParameterError("output", f"{out} is the song itself; give another name")
    check_render_path(out, parameter="output", force=force, kind="a file cadence rendered")
    from cadence.analysis import analyze_file
    from cadence.files import display_path
    from cadence.music import stretch_song_file

    result = analyze_file(file)
    if result.error:
        raise AudioFileError(f"{display_path(file)}: {result.error}")
    with output.ProgressDisplay(f"Writing {out}", enabled=sys.stderr.isatty()) as bar:
        written = stretch_song_file(
            result,
            out,
            spm=spm,
            click=click_mode,
            click_volume_db=click_volume,
            voice=voice,
            every=every,
            max_stretch_pct=max_stretch,
            progress=bar.update,
        )
    if as_json:
        output.print_json(written)
        return
    beat = "one step a beat" if written["steps_per_beat"] == 1 else "half time, two steps a beat"
    clicks = f"{written['clicks']} clicks" if click_mode != "off" else "no click"
    output.note(
        f"Wrote {display_path(out)}: {display_path(file)} at {spm:g} spm "
        f"({written['bpm']:.1f} BPM {written['stretch_pct']:+.1f} %, {beat}"
        f"{'' if written['steady'] else ', beat by beat'}), "
        f"{_minutes(written['duration_s'])}, {clicks}."
    )


def _minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}:{s:02d}"
