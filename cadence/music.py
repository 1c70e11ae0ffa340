"""A song at the runner's cadence: stretched so its beats fall on the step grid.

:func:`stretch_song_file` is ``cadence stretch``: decode the song whole,
plan it (:func:`cadence.core.timemap.plan_song`: the speed, one step a beat
or half time, the time map), stretch it piece by piece
(:mod:`cadence.audio.stretch`), mix the metronome's click on the steps if
wanted, and write it atomically, block by block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from cadence.core.songfit import CLICK_MODES, CLICK_VOLUME_DB, MAX_STRETCH_PCT
from cadence.core.songplan import SongPlan, plan_song
from cadence.core.timemap import click_samples
from cadence.core.tracks import TrackResult
from cadence.errors import AudioFileError, ParameterError

#: The music's level under the click (dB), when clicked.
MUSIC_UNDER_CLICK_DB = -3.0
#: Output pieces are this long at most; the first is shorter so a live start is quick.
FIRST_PIECE_S = 4.0
#: A song played from further in than this (output seconds) is stretched from
#: a little before that point, not from its start ...
RESUME_FROM_START_S = 8.0
#: ... this much (source seconds) before it.
RESUME_MARGIN_S = 0.1
#: ... its first piece this long (output seconds): a live change is heard in half a second.
RESUME_FIRST_PIECE_S = 1.5


def plan_for(result: TrackResult, spm: float, *, max_stretch_pct: float = MAX_STRETCH_PCT):
    """The :class:`SongPlan` of an analysed track at `spm`.

    Raises
    ------
    AudioFileError
        If the track could not be analysed or has no beat grid.
    ParameterError
        If it would need more than `max_stretch_pct` (``max_stretch``).
    """
    from cadence.files import display_path

    name = display_path(result.path)
    if result.error:
        raise AudioFileError(f"{name}: {result.error}")
    if not result.beats or result.period_s is None or result.first_beat_s is None:
        raise AudioFileError(f"{name}: {result.note or 'no steady beat found'}")
    try:
        return plan_song(
            np.asarray(list(result.beats), dtype=np.float64),
            first_beat_s=result.first_beat_s,
            period_s=result.period_s,
            residual_p95_ms=(result.grid_residual_ms or {}).get("p95", 0.0),
            duration_s=result.duration_s or float(result.beats[-1]),
            spm=spm,
            downbeats_s=np.asarray(list(result.downbeats or []), dtype=np.float64),
            max_stretch_pct=max_stretch_pct,
        )
    except ParameterError as exc:
        if exc.parameter == "max_stretch" and "needs" in exc.detail:
            raise ParameterError("max_stretch", f"{name}: {exc.detail}") from None
        raise


def stretched_blocks(plan: SongPlan, samples: np.ndarray, *, sr: int) -> Iterator[np.ndarray]:
    """The song stretched by `plan`, block after block, from output second 0."""
    return stretched_from(plan, samples, sr=sr, from_s=0.0)[1]


def stretched_from(
    plan: SongPlan, samples: np.ndarray, *, sr: int, from_s: float
) -> tuple[int, Iterator[np.ndarray]]:
    """The song stretched by `plan` from about output second `from_s` on.

    Returns
    -------
    (int, iterator of numpy.ndarray)
        The output sample of the first block's first frame (at or before
        `from_s`), and the blocks. A song resumed mid-way (a live change) is
        stretched from there, not from its start.
    """
    from cadence.audio.stretch import stretch_pieces
    from cadence.core.timemap import plan_pieces

    duration_s = len(samples) / sr
    start_s, first_piece_s = 0.0, FIRST_PIECE_S
    if from_s > RESUME_FROM_START_S:
        start_s = float(plan.time_map.to_source(from_s)) - RESUME_MARGIN_S
        start_s = min(max(0.0, start_s), max(0.0, duration_s - 1.0 / sr))
        first_piece_s = RESUME_FIRST_PIECE_S
    pieces = plan_pieces(
        plan.time_map,
        duration_s=duration_s,
        beats_s=plan.beats_s,
        first_piece_s=first_piece_s,
        start_s=start_s,
    )
    origin = round(pieces[0].output_start_s * sr) if pieces else 0
    return origin, stretch_pieces(samples, pieces, sr=sr)


def step_clicks(plan: SongPlan, *, sr: int, n_samples: int, spm: float, every: int = 1):
    """The samples of the steps (the click grid) and which are accented downbeats."""
    anchor = round(plan.grid_start_s * sr)
    steps = click_samples(anchor, spm=spm, sr=sr, n_samples=n_samples, every=every)
    accents = np.zeros(len(steps), dtype=bool)
    if len(plan.downbeats_s) and len(steps):
        down = np.round(plan.time_map.to_output(plan.downbeats_s) * sr)
        nearest = np.searchsorted(steps, down)
        for d, k in zip(down, nearest):
            for j in (k - 1, k):
                if 0 <= j < len(steps) and abs(steps[j] - d) <= 0.1 * sr:
                    accents[j] = True
    return steps, accents


def stretch_song_file(
    result: TrackResult,
    out_path: str,
    *,
    spm: float,
    click: str = "on",
    click_volume_db: float = CLICK_VOLUME_DB,
    voice: str = "click",
    every: int = 1,
    max_stretch_pct: float = MAX_STRETCH_PCT,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Write `result`'s song stretched to `spm` steps a minute, clicked or not.

    Parameters
    ----------
    result : TrackResult
        The analysed song (its beats and grid).
    out_path : str
        Output file (.wav/.flac/.ogg/.mp3), written atomically.
    spm : float, keyword-only
        The cadence (steps a minute).
    click : {"on", "off", "accent"}, keyword-only
        A click on every step, none, or with downbeats accented.
    click_volume_db : float, keyword-only
        The click's level (dB full scale).
    voice : str, keyword-only
        The click's sound (as the metronome's).
    every : int, keyword-only
        Click every `every`-th step.
    max_stretch_pct : float, keyword-only
        Refuse a song that needs a bigger speed change (%).
    progress : callable, optional
        Called as ``progress(samples_done, samples_total)``.

    Returns
    -------
    dict
        JSON-ready: ``path, output, spm, bpm, steps_per_beat, stretch_pct,
        steady, sr, duration_s, clicks, time_map`` (each beat's source second
        and output second).

    Raises
    ------
    AudioFileError
        The song cannot be decoded or has no beat; the output cannot be written.
    ParameterError
        A bad option, or a song beyond `max_stretch_pct`.
    """
    from cadence.audio.readers import read_audio, stereo_at_most
    from cadence.audio.write import STRETCH_COMMENT, fitted_for_output, write_blocks
    from cadence.core.synth import add_clicks, check_volume_db, db_to_gain, voice_bank

    if click not in CLICK_MODES:
        raise ParameterError("click", f"must be one of {', '.join(CLICK_MODES)}, got {click!r}")
    check_volume_db(click_volume_db)
    plan = plan_for(result, spm, max_stretch_pct=max_stretch_pct)
    samples, sr = read_audio(result.path)
    samples, sr = fitted_for_output(stereo_at_most(samples), sr, out_path)  # 96 kHz to MP3
    total = round(plan.time_map.to_output(len(samples) / sr) * sr)
    if click == "off":
        steps, accents = np.zeros(0, np.int64), np.zeros(0, bool)
    else:
        steps, accents = step_clicks(plan, sr=sr, n_samples=total, spm=spm, every=every)
        if click == "on":
            accents[:] = False
    bank = voice_bank(voice, sr=sr, volume_db=click_volume_db)
    music_gain = np.float32(db_to_gain(0.0 if click == "off" else MUSIC_UNDER_CLICK_DB))

    def mixed():
        done = 0
        for block in stretched_blocks(plan, samples, sr=sr):
            block = block * music_gain
            add_clicks(block, start=done, click_samples=steps, accents=accents, bank=bank)
            np.clip(block, -1.0, 1.0, out=block)
            yield block
            done += len(block)
            if progress is not None:
                progress(min(done, total), total)

    written = write_blocks(
        Path(out_path), mixed(), sr=sr, channels=samples.shape[1], comment=STRETCH_COMMENT
    )
    out_beats = plan.output_beats_s
    return {
        "path": result.path,
        "output": out_path,
        "spm": spm,
        "bpm": round(60.0 / result.period_s, 2),
        "steps_per_beat": plan.fit.steps_per_beat,
        "stretch_pct": round(plan.fit.stretch_pct, 2) + 0.0,  # + 0.0: no "-0.0"
        "steady": plan.steady,
        "grid_residual_ms": result.grid_residual_ms,
        "sr": sr,
        "duration_s": round(written / sr, 3),
        "clicks": len(steps),
        "grid_start_s": round(plan.grid_start_s, 6),
        "time_map": [
            [round(float(s), 4), round(float(o), 4)] for s, o in zip(plan.beats_s, out_beats)
        ],
    }
