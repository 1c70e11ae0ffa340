"""A session of songs at the runner's cadence: placed, stretched, crossfaded, clicked.

:class:`MusicSession` is ``cadence play``'s engine. The songs' plans
(:mod:`cadence.core.songplan`) put each song's beats on the step grid; the
placement (:func:`cadence.core.mix.place_songs`) puts each song's downbeat
on a bar of that grid and fades each into the next. :meth:`MusicSession.music`
renders the music, song after song, block by block (one song decoded at a
time: memory does not grow with the session); the click is the metronome's
own renderer (:class:`cadence.core.render.BeatRenderer`) on the same steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from cadence.core.mix import Placement, SongTiming, loudness_gain, place_songs
from cadence.core.songfit import CLICK_MODES, CLICK_VOLUME_DB
from cadence.core.songplan import SongPlan
from cadence.core.timemap import crossfade_gains
from cadence.core.tracks import TrackResult
from cadence.errors import CadenceError, ParameterError

#: The session's sample rate (Hz) and channels: songs at another rate are resampled.
SESSION_SR = 44100
SESSION_CHANNELS = 2


@dataclass(frozen=True)
class SessionSong:
    """A song of the session: its analysis and its plan at the cadence."""

    result: TrackResult
    plan: SongPlan


def song_timing(plan: SongPlan, *, sr: int) -> SongTiming:
    """What :func:`cadence.core.mix.place_songs` needs of a planned song, in samples."""
    beats = plan.output_beats_s
    downbeat_s = (
        float(plan.time_map.to_output(plan.downbeats_s[0]))
        if len(plan.downbeats_s)
        else float(plan.grid_start_s)
    )
    length = round(plan.output_duration_s * sr)
    last = min(round(float(beats[-1]) * sr), length - 1)
    return SongTiming(length=length, downbeat=min(round(downbeat_s * sr), last), last_beat=last)


def _channels(samples: np.ndarray, channels: int) -> np.ndarray:
    if samples.shape[1] == channels:
        return samples
    mono = samples.mean(axis=1, keepdims=True)
    return np.repeat(mono, channels, axis=1).astype(np.float32)


class MusicSession:
    """The songs of a session, placed on one step grid.

    Parameters
    ----------
    songs : list of SessionSong
        In playing order (played again from the start while `duration_s` lasts).
    spm : float
        The cadence.
    duration_s : float, optional, keyword-only
        Session length after the count-in; None: the songs once.
    count_in : int, keyword-only
        Clicks before the music starts.
    click : {"on", "off", "accent"}, keyword-only
    click_volume_db : float, keyword-only
    voice : str, keyword-only
    every : int, keyword-only
        Click every `every`-th step.
    sr : int, keyword-only

    Attributes
    ----------
    placements : list of Placement
    total_samples : int
        The whole session, count-in included.
    anchor : int
        Sample of step 0: where the music starts.
    """

    def __init__(
        self,
        songs: list[SessionSong],
        spm: float,
        *,
        duration_s: float | None = None,
        count_in: int = 0,
        click: str = "on",
        click_volume_db: float = CLICK_VOLUME_DB,
        voice: str = "click",
        every: int = 1,
        sr: int = SESSION_SR,
    ) -> None:
        from cadence.core.session import Session, count_in_samples

        if click not in CLICK_MODES:
            raise ParameterError("click", f"must be one of {', '.join(CLICK_MODES)}, got {click!r}")
        if not songs:
            raise CadenceError("no song to play")
        self.songs = songs
        self.spm = float(spm)
        self.sr = int(sr)
        self.click = click
        self.click_volume_db = click_volume_db
        self.voice = voice
        #: What makes the same session at another sample rate: ``MusicSession(songs, spm,
        #: sr=..., **options)``.
        self.options = {
            "duration_s": duration_s,
            "count_in": count_in,
            "click": click,
            "click_volume_db": click_volume_db,
            "voice": voice,
            "every": every,
        }
        options = {"count_in": count_in, "every": every, "accent": 4 if click == "accent" else 0}
        self.anchor = count_in_samples(Session(spm, **options), sr=self.sr)
        total = None if duration_s is None else self.anchor + round(duration_s * self.sr)
        timings = [song_timing(s.plan, sr=self.sr) for s in songs]
        self.placements: list[Placement] = place_songs(
            timings, sr=self.sr, spm=self.spm, anchor=self.anchor, total=total
        )
        self.total_samples = total if total is not None else self.placements[-1].stop
        self.session = Session(
            spm, duration_s=(self.total_samples - self.anchor) / self.sr, cues=False, **options
        )

    def beat_renderer(self):
        """A fresh renderer of the session's steps (it keeps the session's time,
        clicked or not: ``click="off"`` only leaves its sound out)."""
        from cadence.core.render import BeatRenderer

        return BeatRenderer(
            self.session, sr=self.sr, voice=self.voice, volume_db=self.click_volume_db
        )

    def click_renderer(self):
        """A fresh renderer of the session's clicks; None with ``click="off"``."""
        return None if self.click == "off" else self.beat_renderer()

    def _window(self, p: Placement):
        """The placed part of one song, gained and faded, block by block."""
        from cadence.audio.readers import read_audio
        from cadence.music import stretched_blocks

        song = self.songs[p.song]
        samples, sr = read_audio(song.result.path)
        if sr != self.sr:
            import soxr

            samples = soxr.resample(samples, sr, self.sr, quality="HQ").astype(np.float32)
        samples = _channels(samples, SESSION_CHANNELS)
        fade_in = crossfade_gains(p.fade_in)[1][:, None]
        fade_out = crossfade_gains(p.fade_out)[0][:, None]
        gain = np.float32(loudness_gain(samples, sr=self.sr))
        own = 0
        for block in stretched_blocks(song.plan, samples, sr=self.sr):
            lo, hi = max(own, p.first), min(own + len(block), p.end)
            if hi > lo:
                piece = block[lo - own : hi - own] * gain
                # The fades, where this block holds them.
                a = max(0, p.first + p.fade_in - lo)
                if a:
                    k = lo - p.first
                    piece[: min(a, len(piece))] *= fade_in[k : k + min(a, len(piece))]
                b0 = p.end - p.fade_out
                if hi > b0:
                    s = max(lo, b0)
                    piece[s - lo :] *= fade_out[s - b0 : hi - b0]
                yield piece
            own += len(block)
            if own >= p.end:
                break
        played = max(0, min(own, p.end) - p.first)
        if played < p.end - p.first:  # the stretcher ended early: silence to the end
            yield np.zeros((p.end - p.first - played, SESSION_CHANNELS), np.float32)

    def music(self) -> Iterator[np.ndarray]:
        """The session's music (no click), from sample 0, block by block.

        Raises
        ------
        AudioFileError
            If a song cannot be decoded.
        """
        cursor = 0  # session samples yielded so far
        held = np.zeros((0, SESSION_CHANNELS), np.float32)  # from `cursor` on, already mixed
        for k, p in enumerate(self.placements):
            nxt = self.placements[k + 1].start if k + 1 < len(self.placements) else None
            gap = p.start - (cursor + len(held))
            if gap > 0:
                held = np.concatenate([held, np.zeros((gap, SESSION_CHANNELS), np.float32)])
            pos = p.start
            for block in self._window(p):
                off = pos - cursor
                n = max(0, min(len(held) - off, len(block)))
                if n:
                    held[off : off + n] += block[:n]
                held = np.concatenate([held, block[n:]]) if n < len(block) else held
                pos += len(block)
                limit = len(held) if nxt is None else min(len(held), nxt - cursor)
                if limit > 0:
                    yield held[:limit]
                    held, cursor = held[limit:], cursor + limit
        if len(held):
            yield held
            cursor += len(held)
        if cursor < self.total_samples:
            yield np.zeros((self.total_samples - cursor, SESSION_CHANNELS), np.float32)

    def report(self) -> list[dict]:
        """JSON-ready: for each placed song its path, where it plays, its stretch, its time map."""
        out = []
        for p in self.placements:
            song = self.songs[p.song]
            plan, sr = song.plan, self.sr
            src = plan.beats_s
            at = plan.output_beats_s * sr
            inside = (at >= p.first) & (at < p.end)
            session_s = (p.start + at[inside] - p.first) / sr
            out.append(
                {
                    "path": song.result.path,
                    "start_s": round(p.start / sr, 6),
                    "end_s": round(p.stop / sr, 6),
                    "source_start_s": round(float(plan.time_map.to_source(p.first / sr)), 4),
                    "bpm": round(60.0 / song.result.period_s, 2),
                    "steps_per_beat": plan.fit.steps_per_beat,
                    "stretch_pct": round(plan.fit.stretch_pct, 2),
                    "speed": round(plan.fit.speed, 6),
                    "steady": plan.steady,
                    "time_map": [
                        [round(float(s), 4), round(float(o), 4)]
                        for s, o in zip(src[inside], session_s, strict=True)
                    ],
                }
            )
        return out


def stem_paths(path: str) -> tuple[str, str]:
    """``run.mp3`` → ``run.music.mp3``, ``run.click.mp3``: the stems beside a rendered session."""
    from pathlib import Path

    p = Path(path)
    return (
        str(p.with_name(f"{p.stem}.music{p.suffix}")),
        str(p.with_name(f"{p.stem}.click{p.suffix}")),
    )


def render_session_file(
    session: MusicSession,
    path: str,
    *,
    stems: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Render `session` into `path` (and its stems, if asked), atomically.

    Returns
    -------
    dict
        JSON-ready: ``output, stems, sr, duration_s, count_in_s, songs``
        (:meth:`MusicSession.report`).

    Raises
    ------
    AudioFileError
        A song cannot be decoded; a file cannot be written.
    """
    from pathlib import Path

    from cadence.audio.write import SESSION_MUSIC_COMMENT, write_many

    renderer = session.click_renderer()
    total = session.total_samples
    targets = [path, *stem_paths(path)] if stems else [path]
    scratch = np.zeros((1 << 16, SESSION_CHANNELS), np.float32)

    def blocks():
        done = 0
        for music in session.music():
            for a in range(0, len(music), len(scratch)):
                part = music[a : a + len(scratch)]
                n = len(part)
                click = scratch[:n]
                if renderer is not None and not renderer.finished:
                    renderer.render(click)  # writes every sample
                else:
                    click[:] = 0.0
                mixed = np.clip(part + click, -1.0, 1.0)
                yield (mixed, part, click) if stems else (mixed,)
                done += n
                if progress is not None:
                    progress(min(done, total), total)

    written = write_many(
        [Path(t) for t in targets],
        blocks(),
        sr=session.sr,
        channels=SESSION_CHANNELS,
        comment=SESSION_MUSIC_COMMENT,
    )
    return {
        "output": path,
        "stems": {"music": targets[1], "click": targets[2]} if stems else None,
        "spm": session.spm,
        "sr": session.sr,
        "duration_s": round(written / session.sr, 6),
        "count_in_s": round(session.anchor / session.sr, 6),
        "click": session.click,
        "songs": session.report(),
    }
