"""``cadence bpm`` and ``cadence scan``: the tempo of music files, and the songs that fit."""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

import click

from cadence.cli import (
    INPUT_PATH,
    OUTPUT_PATH,
    ExitStatus,
    analysis_reports,
    default_jobs,
    jobs_option,
    json_option,
    main,
    output,
    refuse_a_song,
    voice_option,
)
from cadence.core.matching import DEFAULT_TOLERANCE_SPM
from cadence.errors import ParameterError


@main.command()
# Plain paths: a missing, unreadable or folder argument is that file's error
# line, and the other files are still measured.
@click.argument("files", nargs=-1, required=True, type=INPUT_PATH)
@json_option("Print a JSON list.")
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
    results = _analyse_each(files, report=partial(analysis_reports.bpm_results, as_json=as_json))
    if any(r.error for r in results):
        sys.exit(ExitStatus.ERROR)


@main.command()
@click.argument("files", nargs=-1, required=True, type=INPUT_PATH)
@json_option("Print a JSON list, with every beat time.")
@click.option(
    "--click",
    "click_out",
    type=OUTPUT_PATH,
    help="Write the song with a click on every beat (accent on downbeats) to this file"
    " (.wav/.flac/.ogg/.mp3); for a single input FILE.",
)
@voice_option("The click's sound (with --click).")
@click.option("--force", is_flag=True, help="Replace an existing --click file of any kind.")
def beats(
    files: tuple[str, ...], as_json: bool, click_out: str | None, voice: str, force: bool
) -> None:
    """Find where every beat of music files falls.

    For each file: the tempo, the number of beats, the steady grid fitted to
    them (first beat, period), how far the beats stray from that grid
    (median and 95th percentile, ms: a few for programmed music, tens for a
    band that drifts), and a confidence. --json prints every beat time too,
    and the downbeats where they can be told. Exit code 1 if any file
    could not be analysed (silence is analysed: it has no beats), or if the
    --click file could not be written; 2 for a --click path refused before
    the analysis (a song, an unknown format, a missing or unwritable folder).

    \b
      cadence beats song.mp3
      cadence beats song.mp3 --click song-beats.wav
      cadence beats *.flac --json
    """
    if click_out is None:
        from click.core import ParameterSource

        ctx = click.get_current_context()
        for name in ("voice", "force"):
            if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT:
                raise ParameterError(
                    name, "needs --click (it is about the clicked file): give --click OUT.wav"
                )
    else:
        from cadence.audio.write import check_render_path

        if len(files) != 1:
            raise ParameterError("click", f"takes one FILE, got {len(files)}")
        song = files[0]
        refuse_a_song(click_out, [song], parameter="click", same="is the song itself")
        check_render_path(click_out, parameter="click", force=force, kind="a file cadence rendered")
    results = _analyse_each(files, report=partial(analysis_reports.beats_results, as_json=as_json))
    if click_out is not None and results[0].beats:
        from cadence.beat_click import write_click_track

        output.note(write_click_track(results[0], click_out, voice=voice))
    elif click_out is not None:
        why = results[0].error or results[0].note or "no beats found"
        output.warn(f"{files[0]}: {why}: --click not written")
    if any(r.error for r in results) or (click_out is not None and not results[0].beats):
        sys.exit(ExitStatus.ERROR)


def _analyse_each(files: tuple[str, ...], *, report) -> list:
    """Analyse the files one by one and report them; when stopped (Ctrl-C, a
    signal), report the ones already measured before the stop goes on."""
    from cadence.analysis import analyze_file
    from cadence.errors import raise_if_stopped

    results = []
    try:
        for f in files:
            results.append(analyze_file(f))
            raise_if_stopped()
    except BaseException:
        if results:
            report(results)
            output.note(f"Stopped after {len(results)} of {len(files)} files.")
        raise
    report(results)
    return results


def _warn_problem(path: str, reason: str) -> None:
    output.warn(f"{path}: {reason}")


@main.command()
@click.argument("folder")
@click.option("--target", type=float, required=True, help="Target cadence, steps/min.")
@click.option(
    "--tolerance",
    type=float,
    default=DEFAULT_TOLERANCE_SPM,
    show_default=True,
    help="Fit within ± this many spm.",
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
    type=OUTPUT_PATH,
    help="Write the fitting tracks to this .m3u8, by tempo.",
)
@click.option(
    "--plot",
    type=OUTPUT_PATH,
    help="Histogram of step tempos with the target band (.png).",
)
@jobs_option("Worker processes.", "-j")
@click.option(
    "--cache",
    "cache_path",
    type=OUTPUT_PATH,
    help="Cache file.  [default: user cache]",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@click.option(
    "--write-tags", is_flag=True, help="Write the measured BPM into each file's tags (atomic)."
)
@click.option(
    "--min-confidence",
    type=float,
    metavar="C",
    help="Count only tempi at least this sure (0-1) as fitting, in the playlist and for "
    "--write-tags.  [default: 0; 0.5 for --write-tags]",
)
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress bar, no summary (problems are still listed)."
)
@click.option(
    "--force",
    is_flag=True,
    help="Let --playlist/--plot replace a file that is not a playlist/picture.",
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
    min_confidence: float | None,
    quiet: bool,
    force: bool,
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
    from cadence.core.matching import check_min_confidence, check_tolerance_spm
    from cadence.library import DEFAULT_TAG_CONFIDENCE, scan_folder

    check_plausible_spm(target, parameter="target")
    check_tolerance_spm(tolerance)
    if min_confidence is not None:
        check_min_confidence(min_confidence)
    if no_cache and cache_path:
        raise ParameterError("no-cache", "give --cache FILE or --no-cache, not both")
    if cache_path:  # a folder of the user's is never made for them (the default one is)
        from cadence.files import check_output_folder

        check_output_folder(cache_path, parameter="cache")
    _check_scan_outputs(playlist=playlist, plot=plot, force=force)

    showing = sys.stderr.isatty() and not quiet
    with output.ProgressDisplay("Analysing", enabled=showing, rate_unit="files") as bar:
        result = scan_folder(
            folder,
            cache_path=cache_path,
            use_cache=not no_cache,
            jobs=jobs or default_jobs(),
            write_tags=write_tags,
            tag_min_confidence=DEFAULT_TAG_CONFIDENCE if min_confidence is None else min_confidence,
            on_problem=_warn_problem,
            on_progress=bar.update,
        )
    if result.tags_written is not None and not quiet:
        analysis_reports.tags_summary(result)
    report = result.report(
        target_spm=target, tolerance_spm=tolerance, min_confidence=min_confidence or 0.0
    )
    analysis_reports.scan_results(report, fmt_name=fmt, show_all=show_all, folder=folder)
    _write_scan_files(report, playlist=playlist, plot=plot, folder=folder, quiet=quiet)
    if not quiet:
        analysis_reports.scan_summary(report)
    if report.exit_code:
        sys.exit(report.exit_code)


def _check_scan_outputs(*, playlist: str | None, plot: str | None, force: bool) -> None:
    """Refuse, before a long scan, outputs that cannot or must not be written."""
    from cadence.files import check_replaceable

    if playlist:
        from cadence.playlist import is_playlist
        from cadence.songs import PLAYLIST_SUFFIXES

        if not playlist.lower().endswith(PLAYLIST_SUFFIXES):  # a player would not open it
            raise ParameterError(
                "playlist",
                f"{playlist}: a playlist is written as .m3u8; give a name such as run.m3u8",
            )
        check_replaceable(
            playlist, parameter="playlist", kind="a playlist", is_own_kind=is_playlist, force=force
        )
    if plot:
        from cadence.plots import check_plot_path

        check_plot_path(plot, force=force)


def _write_scan_files(
    report: Any, *, playlist: str | None, plot: str | None, folder: str, quiet: bool
) -> None:
    """The playlist and the plot a scan was asked for; neither after an interrupted scan."""
    if report.tally.interrupted:
        if playlist or plot:  # a partial list must not replace a complete one
            what = " and ".join(w for w, asked in (("Playlist", playlist), ("plot", plot)) if asked)
            output.note(f"{what[0].upper()}{what[1:]} not written: the scan was interrupted.")
        return
    if playlist:
        _write_scan_playlist(report, playlist, quiet=quiet)
    if plot:
        from cadence.plots import plot_tempo_histogram

        plot_tempo_histogram(
            report.fits,
            plot,
            target=report.target_spm,
            tolerance=report.tolerance_spm,
            folder=folder,
        )
        if not quiet:
            output.note(f"Plot: {plot}")


def _write_scan_playlist(report: Any, playlist: str, *, quiet: bool) -> None:
    """The fitting songs by tempo; cadence's own click renders are left out, one line each."""
    from cadence.audio.write import not_a_song_kind
    from cadence.core.matching import by_step_tempo
    from cadence.files import display_path
    from cadence.playlist import write_playlist

    songs = []
    for fit in by_step_tempo(report.fitting):
        # A metronome or session rendered into the folder fits its own cadence
        # exactly: the table lists it, but it is not a song to run to.
        kind = not_a_song_kind(fit.track.path)
        if kind:
            output.warn(f"playlist: {display_path(fit.track.path)} left out ({kind}, not a song)")
        else:
            songs.append(fit.track)
    if not songs:
        what = "no song fits" if report.fitting else "no track fits"
        output.note(f"Playlist not written: {what} ({playlist} is left as it was).")
        return
    left_out = write_playlist(songs, playlist)
    if left_out:  # a warning, so -q shows it: the playlist is shorter than the list
        output.warn(
            f"playlist: {output.count(left_out, 'track')} left out"
            " (names not UTF-8 or with line breaks)"
        )
    if not quiet:
        kept = output.count(len(songs) - left_out, "track")
        output.note(f"Playlist: {display_path(playlist)} ({kept}, by tempo)")
