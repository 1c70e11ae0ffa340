"""``cadence stretch``: a song at the runner's cadence, its beats on the step grid."""

from __future__ import annotations

import os
import sys

import click

from cadence.cli import (
    INPUT_PATH,
    OUTPUT_PATH,
    default_jobs,
    jobs_option,
    json_option,
    main,
    output,
    refuse_a_song,
    voice_option,
)
from cadence.cli.analysis_reports import OFF_GRID_NOTE, off_grid, print_off_grid_names
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
                type=click.IntRange(1, 16),
                default=1,
                show_default=True,
                help="Click only every Nth step (2: once per stride).",
            ),
        ]
    ):
        func = option(func)
    return func


def max_stretch_option(func):
    from cadence.core.songfit import MAX_STRETCH_PCT, STRETCH_LIMIT_PCT

    return click.option(
        "--max-stretch",
        type=click.FloatRange(min=1, max=STRETCH_LIMIT_PCT),
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
    refuse_a_song(out, [file], same="is the song itself")
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
        f"({written['bpm']:.1f} BPM {round(written['stretch_pct'], 1) + 0.0:+.1f} %, {beat}"
        f"{'' if written['steady'] else ', beat by beat'}), "
        f"{_minutes(written['duration_s'])}, {clicks}."
    )
    for caveat in (result.note, off_grid(written["grid_residual_ms"]) and OFF_GRID_NOTE):
        if caveat:  # a cut or short file, beats that leave the grid
            output.warn(f"{display_path(file)}: {caveat}")


def _minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}:{s:02d}"


@main.command()
@click.argument("spm", type=float)
@click.argument("sources", nargs=-1, required=True, type=INPUT_PATH)
@click.option(
    "-o",
    "--output",
    "out",
    type=OUTPUT_PATH,
    help="Render the session to this file (.wav/.flac/.ogg/.mp3), for a phone or a watch.",
)
@click.option("--duration", help="Session length (20m, 1h, 45:00); default: the songs once.")
@click.option("--stems", is_flag=True, help="Also write the music and the click beside --output.")
@click_options
@max_stretch_option
@click.option(
    "--order",
    type=click.Choice(["fit", "tempo", "shuffle"]),
    default="fit",
    show_default=True,
    help="Closest to the cadence first, slowest step rate first, or shuffled (--seed).",
)
@click.option("--seed", type=int, help="Shuffle the same way every time.")
@click.option(
    "--min-confidence", type=click.FloatRange(0, 1), default=0.0, help="Leave out unsure tempi."
)
@click.option(
    "--count-in",
    type=click.IntRange(0, 64),
    default=0,
    help="Clicks before the music (not counted in --duration).",
)
@click.option(
    "--intervals",
    metavar="SPEC",
    help="Run/walk programme, e.g. run:4m,walk:1m (the music plays on 10 dB down in a"
    " silent walk) or 2m,1m@150 (the music follows a part's own rate).",
)
@click.option("--repeat", type=int, metavar="N", help="Play the --intervals programme N times.")
@click.option(
    "--ramp-from",
    type=float,
    metavar="SPM",
    help="Start at this cadence and ramp to SPM (music and click, in 0.5 spm stairs) ...",
)
@click.option("--ramp-over", metavar="TIME", help="... over this long (with --ramp-from).")
@jobs_option("Worker processes for a folder scan.")
@click.option("--cache", "cache_path", type=OUTPUT_PATH, help="The scan cache file.")
@click.option("--no-cache", is_flag=True, help="Analyse the songs afresh, without the cache.")
@click.option("--device", help="Output device (name or number; see `cadence devices`).")
@click.option(
    "--latency", default="high", show_default=True, help="Output latency: low, high or seconds."
)
@click.option("--force", is_flag=True, help="Replace an existing output file of any kind.")
@json_option("Print the session at the end: each song, where it starts, its stretch, its time map.")
def play(
    spm: float,
    sources: tuple[str, ...],
    out: str | None,
    duration: str | None,
    stems: bool,
    click_mode: str,
    click_volume: float,
    voice: str,
    every: int,
    max_stretch: float,
    order: str,
    seed: int | None,
    min_confidence: float,
    count_in: int,
    intervals: str | None,
    repeat: int | None,
    ramp_from: float | None,
    ramp_over: str | None,
    jobs: int | None,
    cache_path: str | None,
    no_cache: bool,
    device: str | None,
    latency: str,
    force: bool,
    as_json: bool,
) -> None:
    """Run to your own music at exactly SPM steps a minute.

    The songs of the FOLDERs, playlists (.m3u8) and FILEs that fit within
    --max-stretch (at a step a beat, or at half time) are time-stretched to
    the cadence, pitch unchanged, their beats on the metronome's steps, each
    fading into the next on the beat. A folder is scanned first (cached, as
    `cadence scan`). Songs that cannot be used are left out, one line each
    (those of a folder too far from SPM in one line that counts them).
    Without -o the session plays live: up/down change the tempo by 1 spm
    (music and click together, from a step or two ahead), n/p (or right/left)
    go to the next or the previous song on the next bars, c turns the click
    on and off, [ and ] turn the music down and up, space pauses, q quits.
    The status line shows the song, its own BPM and its stretch. With
    --intervals the click follows the programme as in `metronome`; in a walk
    without a beat the music plays on, 10 dB down, and a part with its own
    rate gets songs that fit it (each part is made a whole number of bars
    long, so the music's beat and the click meet at every change). A ramp
    with --intervals ramps the runs, on the session's clock: a walk holds
    its rate, and the next run starts where the ramp has got to.

    \b
      cadence play 170 ~/Music --duration 30m
      cadence play 170 ~/Music -o run-170.mp3 --duration 30m
      cadence play 165 run.m3u8 -o run.flac --click accent --stems --json
      cadence play 170 ~/Music --intervals run:4m,walk:1m --repeat 6
      cadence play 170 ~/Music --ramp-from 160 --ramp-over 10m --duration 30m
      cadence play 170 ~/Music --ramp-from 160 --ramp-over 20m --intervals 4m,1m
    """
    from cadence.audio.write import check_render_path
    from cadence.core.durations import parse_duration_s
    from cadence.core.session import check_metronome_spm
    from cadence.core.synth import check_volume_db

    check_metronome_spm(spm)
    check_volume_db(click_volume, parameter="click_volume")
    duration_s = None if duration is None else parse_duration_s(duration, parameter="duration")
    from cadence.core.session import Session, parse_intervals

    programme = parse_intervals(intervals) if intervals is not None else ()
    ramp_over_s = None if ramp_over is None else parse_duration_s(ramp_over, parameter="ramp-over")
    Session(  # refused before any work
        spm,
        duration_s=duration_s,
        count_in=count_in,
        every=every,
        intervals=programme,
        repeat=repeat,
        ramp_from_spm=ramp_from,
        ramp_over_s=ramp_over_s,
    )
    if seed is not None and order != "shuffle":
        raise ParameterError("seed", "only orders a shuffle: give --order shuffle too")
    if stems and out is None:
        raise ParameterError("stems", "needs --output")
    from cadence.mixer import stem_paths

    for target in [] if out is None else [out, *(stem_paths(out) if stems else [])]:
        refuse_a_song(target, sources)
        check_render_path(target, parameter="output", force=force, kind="a file cadence rendered")

    session, skipped = _session(
        spm,
        sources,
        duration_s=duration_s,
        count_in=count_in,
        click=click_mode,
        click_volume_db=click_volume,
        voice=voice,
        every=every,
        intervals=programme,
        repeat=repeat,
        ramp_from_spm=ramp_from,
        ramp_over_s=ramp_over_s,
        max_stretch_pct=max_stretch,
        order=order,
        seed=seed,
        min_confidence=min_confidence,
        jobs=jobs,
        cache_path=cache_path,
        use_cache=not no_cache,
    )
    if out is not None:  # a playlist's songs, known only now
        for target in [out, *(stem_paths(out) if stems else [])]:
            refuse_a_song(target, [s.result.path for s in session.songs])
    if out is None:
        _play_live(session, device=device, latency=latency, as_json=as_json)
        return
    from cadence.mixer import render_session_file

    showing = sys.stderr.isatty()
    with output.ProgressDisplay(f"Rendering {out}", enabled=showing) as bar:
        written = render_session_file(session, out, stems=stems, progress=bar.update)
    if as_json:
        output.print_json(written)
    else:
        _session_table(written, skipped)


def _session(spm: float, sources: tuple[str, ...], *, jobs, cache_path, use_cache, **options):
    """The session of the songs the sources hold that fit; the skipped ones reported."""
    from cadence.core.session import music_rates
    from cadence.mixer import MusicSession
    from cadence.songs import NoSongToPlayError, choose_songs, gather_tracks

    def problem(path: str, reason: str) -> None:
        output.warn(f"{path}: {reason}")

    showing = sys.stderr.isatty()
    with output.ProgressDisplay("Analysing", enabled=showing, rate_unit="files") as bar:
        tracks, from_folders = gather_tracks(
            list(sources),
            cache_path=cache_path,
            use_cache=use_cache,
            jobs=jobs or default_jobs(),
            on_problem=problem,
            on_progress=bar.update,
        )
    session_keys = ("duration_s", "count_in", "click", "click_volume_db", "voice", "every")
    session_keys += ("intervals", "repeat", "ramp_from_spm", "ramp_over_s")
    session_options = {k: options.pop(k) for k in session_keys}
    try:
        songs, skipped = choose_songs(tracks, spm, from_folders=from_folders, **options)
    except NoSongToPlayError as exc:
        for path, reason in exc.skipped.reasons:
            problem(path, f"left out: {reason}")
        raise
    programme = session_options["intervals"]
    rates = music_rates(programme, spm=spm) if programme else [spm]
    if session_options["ramp_from_spm"] is not None:
        rates.append(session_options["ramp_from_spm"])
    songs, skipped = _songs_at_rates(songs, skipped, tracks, spm, rates, from_folders, options)
    for path, reason in skipped.reasons:
        problem(path, f"left out: {reason}")
    if skipped.too_far_in_folders:
        folders = sum(os.path.isdir(source) for source in sources)
        output.note(
            f"Left out, beyond --max-stretch {options['max_stretch_pct']:g} %:"
            f" {output.count(skipped.too_far_in_folders, 'song')}"
            f" of the {'folder' if folders == 1 else 'folders'}."
        )
    return (
        MusicSession(songs, spm, max_stretch_pct=options["max_stretch_pct"], **session_options),
        skipped,
    )


def _songs_at_rates(songs, skipped, tracks, spm, rates, from_folders, options):
    """With parts at their own rates (or a ramp), the songs that fit those too (after SPM's)."""
    from cadence.songs import NoSongToPlayError, choose_songs

    rates = sorted(set(rates))
    have = {s.result.path for s in songs}
    for rate in rates:
        if rate == spm:
            continue
        try:
            more, _ = choose_songs(tracks, rate, from_folders=from_folders, **options)
        except NoSongToPlayError:
            continue  # the session says which part has no song
        songs += [s for s in more if s.result.path not in have]
        have |= {s.result.path for s in more}
    if len(rates) > 1:  # a song that fits another part's rate is not left out
        skipped.reasons = [(p, r) for p, r in skipped.reasons if p not in have]
    return songs, skipped


def _rate(written: dict) -> str:
    """``168``, or a ramp's ``160→168`` (as far as it got)."""
    ramp = written.get("ramp_spm")
    return f"{written['spm']:g}" if ramp is None else f"{ramp[0]:g}→{ramp[1]:g}"


def _session_table(written: dict, skipped) -> None:
    from cadence.files import display_path

    # One row for each song played: a song that goes on through a change of
    # rate (a ramp's stair, a part of a programme) is one song, its stretch a range.
    rows: list[dict] = []
    for s in written["songs"]:
        last = rows[-1] if rows else None
        if (
            last
            and last["path"] == s["path"]
            and (abs(last["end_s"] - s["start_s"]) < 1e-3 or last["end_s"] - last["start_s"] < 2)
        ):
            last["end_s"] = s["end_s"]
            last["stretches"].append(s["stretch_pct"])
            last["steady"] = last["steady"] and s["steady"]
            continue
        rows.append({**s, "stretches": [s["stretch_pct"]]})
    folder, names = output.common_folder([display_path(s["path"]) for s in rows])
    t = output.table(
        ("Start", "right"),
        ("BPM", "right"),
        ("Stretch", "right"),
        ("Beat", "left"),
        ("Song", "left"),
    )
    off = {}  # the names of songs off their grid, once each
    for s, name in zip(rows, names, strict=True):
        if off_grid(s["grid_residual_ms"]):
            off[name] = None
        beat = "½ time" if s["steps_per_beat"] == 2 else "1 step"
        if not s["steady"]:
            beat += ", mapped"
        lo, hi = (round(x, 1) + 0.0 for x in (min(s["stretches"]), max(s["stretches"])))
        stretch = f"{lo:+.1f} %" if lo == hi else f"{lo:+.1f}…{hi:+.1f} %"
        t.add_row(
            _minutes(s["start_s"]),
            f"{s['bpm']:.1f}" + ("~" if name in off else ""),
            stretch,
            beat,
            name,
        )
    if folder:  # once, on a line of its own: a narrow table keeps the names whole
        click.echo(f"Songs in {output.one_line(folder)}:")
    output.print_rich(t)
    if off:
        print_off_grid_names(list(off))
    played = len(rows)
    left_out = len(skipped.reasons) + skipped.too_far_in_folders  # each line above, and the count
    stems = written["stems"]
    output.note(
        f"Wrote {display_path(written['output'])}: {_minutes(written['duration_s'])} at"
        f" {_rate(written)} spm, {output.count(played, 'song')} played"
        + (f", {left_out} left out" if left_out else "")
        + (
            f"; stems {display_path(stems['music'])}, {display_path(stems['click'])}"
            if stems
            else ""
        )
        + "."
    )


def _play_live(session, *, device: str | None, latency: str, as_json: bool) -> None:
    """Play the session through the output device until its end, q or Ctrl-C."""
    from cadence.cli.metronome import _parse_latency, play_on_terminal
    from cadence.core.musicrender import MusicRenderer
    from cadence.liveplay import LiveMusic
    from cadence.mixer import MusicSession
    from cadence.playback import Player

    lives = []

    def make_renderer(device_sr: int):
        at_rate = MusicSession(session.songs, session.spm, sr=device_sr, **session.options)
        live = LiveMusic(at_rate)
        lives.append(live)
        live.wait_ready()
        renderer = MusicRenderer(
            at_rate.beat_renderer(), live.feed, click_on=session.click != "off"
        )
        live.attach(renderer)
        return renderer

    try:
        player = Player(make_renderer, device=device, latency=_parse_latency(latency))
        with player:
            names = ", ".join(output.one_line(s.result.path) for s in session.songs[:3])
            more = f" and {len(session.songs) - 3} more" if len(session.songs) > 3 else ""
            output.note(
                f"Playing {output.count(len(session.songs), 'song')} at {session.spm:g} spm"
                f" on {player.device.name}: {names}{more}. q or Ctrl-C stops."
            )
            result = play_on_terminal(player, clean_up=lambda: [live.close() for live in lives])
            music_late_s = player.renderer.music_late / player.sr
    finally:
        for live in lives:
            error = live.error
            live.close()
            if error:
                output.warn(f"the music stopped: {error}")
    summary = {**result.to_dict(), "music_late_s": round(music_late_s, 3)}
    if as_json:
        output.print_json(summary)
    else:
        from cadence.cli import reports

        reports.play_summary(result)
        if music_late_s:
            output.warn(f"{music_late_s:.2f} s of music was not ready in time (played as silence)")
