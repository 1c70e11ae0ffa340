"""The music of a session on its step grid: songs placed, stretched, faded, block by block.

A :class:`Timeline` is the music from one stream sample on, at one step
rate: the songs' plans (:mod:`cadence.core.songplan`) put each song's beats
on the steps, the placement (:func:`cadence.core.mix.place_songs`) puts each
song's downbeat on a bar and fades each into the next, and
:meth:`Timeline.music` renders it song after song (one decoded at a time:
memory does not grow with the session). :func:`replan` is a live change: the
music from a step on, at another rate or with another song, the playing song
going on from the same point of its source.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from cadence.core.mix import (
    CROSSFADE_STEPS,
    Placement,
    SongTiming,
    first_step_at,
    loudness_gain,
    place_songs,
)
from cadence.core.songplan import SongPlan
from cadence.core.timemap import crossfade_gains
from cadence.core.tracks import TrackResult
from cadence.errors import CadenceError, ParameterError

#: The session's sample rate (Hz) and channels: songs at another rate are resampled.
SESSION_SR = 44100
SESSION_CHANNELS = 2
#: "Previous song" after this long into a song starts it again (seconds), as players do.
RESTART_AFTER_S = 5.0
#: A live "next song" fades in at the first bar this long (seconds) after the
#: change's step, so the producer has time to decode it.
SKIP_LEAD_S = 1.0
#: The music before a change fades into the music after it over this long
#: (seconds): two renders of the same point of a song.
JOIN_S = 0.02
#: A change of song at a change of rate (the playing song does not fit the
#: new rate) crossfades the two over this long (seconds).
CUT_JOIN_S = 0.3


@dataclass(frozen=True)
class SessionSong:
    """A song of the session: its analysis and its plan at the cadence."""

    result: TrackResult
    plan: SongPlan


def song_timing(plan: SongPlan, *, sr: int) -> SongTiming:
    """What :func:`cadence.core.mix.place_songs` needs of a planned song, in samples."""
    beats = plan.output_beats_s
    downbeat_s = float(plan.grid_start_s)
    if len(plan.downbeats_s):
        # The grid's beat nearest the first downbeat goes on the bar, not the
        # tracked beat itself: a steady song's clicks follow its grid, and one
        # beat that strays from it by 8 ms had put all its clicks 8 ms off.
        period_s = 60.0 / plan.fit.target_bpm
        at_s = float(plan.time_map.to_output(plan.downbeats_s[0]))
        downbeat_s += round((at_s - downbeat_s) / period_s) * period_s
    length = round(plan.output_duration_s * sr)
    last = min(round(float(beats[-1]) * sr), length - 1)
    return SongTiming(length=length, downbeat=min(round(downbeat_s * sr), last), last_beat=last)


def _channels(samples: np.ndarray, channels: int) -> np.ndarray:
    if samples.shape[1] == channels:
        return samples
    mono = samples.mean(axis=1, keepdims=True)
    return np.repeat(mono, channels, axis=1).astype(np.float32)


class SongCache:
    """Decoded songs at the session's rate and channels, with their gain: the last `size`.

    The live producer keeps one, so a live change re-renders the playing
    song without decoding it again and the next song is ready before a skip.
    """

    def __init__(self, size: int = 2) -> None:
        import threading

        self.size = size
        self._songs: dict[str, tuple[np.ndarray, float]] = {}
        self._lock = threading.Lock()  # a prefetching thread (never the audio callback)

    def get(self, path: str, *, sr: int) -> tuple[np.ndarray, float]:
        """The song's samples and loudness gain (decoded now if not held)."""
        with self._lock:
            if path in self._songs:
                self._songs[path] = self._songs.pop(path)  # the most recent last
                return self._songs[path]
        found = decode_for_session(path, sr=sr)
        with self._lock:
            if self.size > 0:
                self._songs[path] = found
                while len(self._songs) > self.size:
                    del self._songs[next(iter(self._songs))]
        return found

    def __contains__(self, path: str) -> bool:
        return path in self._songs


def decode_for_session(path: str, *, sr: int) -> tuple[np.ndarray, float]:
    """A song decoded at `sr`, in the session's channels, and its loudness gain."""
    from cadence.audio.readers import read_audio

    samples, own_sr = read_audio(path)
    if own_sr != sr:
        import soxr

        samples = soxr.resample(samples, own_sr, sr, quality="HQ").astype(np.float32)
    samples = _channels(samples, SESSION_CHANNELS)
    return samples, float(loudness_gain(samples, sr=sr))


class Timeline:
    """The music of a session from one sample on: songs placed on one step grid.

    Parameters
    ----------
    songs : list of SessionSong
        In playing order (again from the first while `total` lasts).
    spm : float, keyword-only
        The step rate of this stretch of the session.
    sr : int, keyword-only
    anchor : int, keyword-only
        Stream sample of step 0 (after the count-in, or where a live change begins).
    total : int or None, keyword-only
        The session's end (stream samples); None: the songs once.
    resume, first_end, bar_phase : optional, keyword-only
        As :func:`cadence.core.mix.place_songs`: the first song already playing.
    pool : list of SessionSong, optional, keyword-only
        All the session's songs, of which a re-plan takes those that fit
        (default: `songs`).
    join : int, keyword-only
        Samples over which the music before this timeline fades into it.
    """

    def __init__(
        self,
        songs: list[SessionSong],
        *,
        spm: float,
        sr: int,
        anchor: int,
        total: int | None,
        start: int = 0,
        resume: int | None = None,
        first_end: int | None = None,
        bar_phase: int = 0,
        pool: list[SessionSong] | None = None,
        join: int = 0,
    ) -> None:
        if not songs:
            raise CadenceError("no song to play")
        self.songs = songs
        self.pool = songs if pool is None else pool
        self.first_end = first_end  # a first song cut for the next (a skip on its way)
        self.spm = float(spm)
        self.sr = int(sr)
        self.anchor = int(anchor)
        self.start = int(start)
        self.bar_phase = bar_phase
        timings = [song_timing(s.plan, sr=self.sr) for s in songs]
        self.placements: list[Placement] = place_songs(
            timings,
            sr=self.sr,
            spm=self.spm,
            anchor=self.anchor,
            total=total,
            resume=resume,
            first_end=first_end,
            bar_phase=bar_phase,
        )
        self.total_samples = total if total is not None else self.placements[-1].stop
        #: Samples over which the music before fades into this one: a song cut
        #: for another also covers any silence before the other's first note.
        self.join = join + (max(0, self.placements[0].start - self.start) if join else 0)

    def step_index(self, sample: int) -> float:
        """Steps from the anchor to `sample` (a whole number at a step)."""
        return (sample - self.anchor) * self.spm / (60.0 * self.sr)

    def on_step(self, sample: int) -> bool:
        """`sample` is a step of this timeline (to a sample)."""
        j = self.step_index(sample)
        return sample >= self.anchor and abs(j - round(j)) * 60.0 * self.sr / self.spm <= 1.0

    def next_step(self, sample: int) -> int:
        """The first step at or after `sample`."""
        return first_step_at(sample, anchor=self.anchor, spm=self.spm, sr=self.sr)

    def playing(self, sample: int) -> list[Placement]:
        """The placements heard at `sample` (two in a crossfade), in playing order."""
        return [p for p in self.placements if p.start <= sample < p.stop]

    def _window(self, p: Placement, cache: SongCache | None):
        """The placed part of one song, gained and faded, block by block."""
        from cadence.music import stretched_from

        song = self.songs[p.song]
        if cache is None:
            samples, gain = decode_for_session(song.result.path, sr=self.sr)
        else:
            samples, gain = cache.get(song.result.path, sr=self.sr)
        fade_in = crossfade_gains(p.fade_in)[1][:, None]
        fade_out = crossfade_gains(p.fade_out)[0][:, None]
        gain = np.float32(gain)
        own, blocks = stretched_from(song.plan, samples, sr=self.sr, from_s=p.first / self.sr)
        for block in blocks:
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

    def music(self, *, cache: SongCache | None = None) -> Iterator[np.ndarray]:
        """The music (no click) from stream sample :attr:`start`, block by block.

        Raises
        ------
        AudioFileError
            If a song cannot be decoded.
        """
        cursor = self.start  # stream samples yielded so far
        held = np.zeros((0, SESSION_CHANNELS), np.float32)  # from `cursor` on, already mixed
        for k, p in enumerate(self.placements):
            nxt = self.placements[k + 1].start if k + 1 < len(self.placements) else None
            gap = p.start - (cursor + len(held))
            if gap > 0:
                held = np.concatenate([held, np.zeros((gap, SESSION_CHANNELS), np.float32)])
            pos = p.start
            for block in self._window(p, cache):
                off = pos - cursor
                n = max(0, min(len(held) - off, len(block)))
                if n:
                    held[off : off + n] += block[:n]
                held = np.concatenate([held, block[n:]]) if n < len(block) else held
                pos += len(block)
                # Final up to `pos` (the songs before are done; this one adds from
                # there on), and only up to the next song's start.
                limit = min(len(held), pos - cursor)
                if nxt is not None:
                    limit = min(limit, nxt - cursor)
                if limit > 0:
                    yield held[:limit]
                    held, cursor = held[limit:], cursor + limit
        if len(held):
            yield held
            cursor += len(held)
        if cursor < self.total_samples:
            yield np.zeros((self.total_samples - cursor, SESSION_CHANNELS), np.float32)

    def report(self, *, window: tuple[int, int] | None = None) -> list[dict]:
        """JSON-ready: for each placed song its path, where it plays, its stretch, its time map.

        With `window` (stream samples), only what plays inside it.
        """
        out = []
        lo_w, hi_w = window if window is not None else (0, self.total_samples)
        for p in self.placements:
            lo, hi = max(p.start, lo_w), min(p.stop, hi_w)
            if hi <= lo:
                continue
            song = self.songs[p.song]
            plan, sr = song.plan, self.sr
            src = plan.beats_s
            at = plan.output_beats_s * sr
            first, end = p.first + lo - p.start, p.first + hi - p.start
            inside = (at >= first) & (at < end)
            session_s = (p.start + at[inside] - p.first) / sr
            out.append(
                {
                    "path": song.result.path,
                    "start_s": round(lo / sr, 6),
                    "end_s": round(hi / sr, 6),
                    "source_start_s": round(float(plan.time_map.to_source(first / sr)), 4),
                    "bpm": round(60.0 / song.result.period_s, 2),
                    "steps_per_beat": plan.fit.steps_per_beat,
                    "stretch_pct": round(plan.fit.stretch_pct, 2) + 0.0,  # + 0.0: no "-0.0"
                    "speed": round(plan.fit.speed, 6),
                    "steady": plan.steady,
                    "grid_residual_ms": song.result.grid_residual_ms,
                    "time_map": [
                        [round(float(s), 4), round(float(o), 4)]
                        for s, o in zip(src[inside], session_s, strict=True)
                    ],
                }
            )
        return out


def _planned(result: TrackResult, spm: float, *, max_stretch_pct: float, plans: dict | None):
    """``plan_for`` (memoised in `plans`): the SongPlan, or None beyond `max_stretch_pct`."""
    from cadence.music import plan_for

    key = (result.path, float(spm), float(max_stretch_pct))
    if plans is not None and key in plans:
        return plans[key]
    try:
        plan = plan_for(result, spm, max_stretch_pct=max_stretch_pct)
    except CadenceError:
        plan = None
    if plans is not None:
        plans[key] = plan
    return plan


def songs_at(
    pool: list[SessionSong], spm: float, *, max_stretch_pct: float, plans: dict | None = None
) -> list[SessionSong]:
    """The songs of `pool` that fit `spm` within `max_stretch_pct`, planned at `spm`, in order."""
    out = []
    for s in pool:
        plan = _planned(s.result, spm, max_stretch_pct=max_stretch_pct, plans=plans)
        if plan is not None:
            out.append(SessionSong(s.result, plan))
    return out


def replan(
    timeline: Timeline,
    *,
    at: int,
    spm: float,
    skip: int = 0,
    max_stretch_pct: float,
    new_phrase: bool = False,
    plans: dict | None = None,
) -> Timeline:
    """The music from stream sample `at` (a step of `timeline`) at `spm`, or another song.

    The song playing at `at` goes on from the same point of its source, now
    at `spm` (``skip=0``: a tempo change), or fades out while the next
    (``skip=1``) or the previous one (``skip=-1``; the same one from its
    start if it has played for more than :data:`RESTART_AFTER_S`) fades in
    on a bar. A playing song that does not fit `spm` within
    `max_stretch_pct` gives way at once to the next that does, its downbeat
    on `at`. The songs that follow are those of the timeline's pool that fit
    `spm`, in the pool's order. Deterministic: the live player and its
    producer each compute it and get the same.

    Parameters
    ----------
    new_phrase : bool, keyword-only
        A bar starts at `at` (the programme's next part), rather than
        counting on from the bars before; `at` may then lie off the grid
        (the playing song goes on from its beat nearest `at`, put on `at`).
    plans : dict, optional, keyword-only
        Song plans already made, by (path, spm, max stretch): filled here.

    Raises
    ------
    NoSongToPlayError
        If no song fits `spm`.
    ParameterError
        If `at` is not a step of `timeline`, or lies after its end.
    """
    from cadence.core.mix import BAR_STEPS
    from cadence.songs import NoSongToPlayError, Skipped

    sr = timeline.sr
    j = timeline.step_index(at)
    if not (new_phrase or timeline.on_step(at)):
        raise ParameterError("at", f"sample {at} is not a step of the music")
    playing = timeline.playing(at)
    if not playing or at >= timeline.total_samples:
        raise ParameterError("at", f"sample {at} is after the end of the music")
    p = playing[-1]  # in a crossfade, the song coming in
    pool = timeline.pool
    current = timeline.songs[p.song]
    index = next(i for i, s in enumerate(pool) if s.result.path == current.result.path)
    own = at - p.start + p.first
    # A skip on its way (the first song cut, the next not yet in) goes on through this change.
    cutting = (
        timeline.first_end is not None
        and p is timeline.placements[0]
        and (len(timeline.placements) < 2 or at < timeline.placements[1].start)
    )
    if skip < 0:
        restart = (own - song_timing(current.plan, sr=sr).downbeat) / sr >= RESTART_AFTER_S
        first_next = index if restart else (index - 1) % len(pool)
        queue = pool[first_next:] + pool[:first_next]
    else:  # the songs as this timeline plays them after this one, then the others
        after = timeline.songs[p.song + 1 :] + timeline.songs[: p.song + 1] + pool
        seen, queue = {current.result.path}, []
        for s in after:
            if s.result.path not in seen:
                seen.add(s.result.path)
                queue.append(s)
        queue.append(current)  # and this one again last
        if skip > 0 and cutting:
            queue = queue[1:] + queue[:1]  # the next is already coming: the one after it
    fitting = songs_at(queue, spm, max_stretch_pct=max_stretch_pct, plans=plans)
    if not fitting:
        raise NoSongToPlayError(
            f"no song fits {spm:g} spm within --max-stretch {max_stretch_pct:g} %", Skipped()
        )
    bar_phase = 0 if new_phrase else (timeline.bar_phase + round(j)) % BAR_STEPS
    options = {"spm": spm, "sr": sr, "anchor": at, "start": at, "total": timeline.total_samples}
    options.update(pool=pool, bar_phase=bar_phase)
    plan = _planned(current.result, spm, max_stretch_pct=max_stretch_pct, plans=plans)
    if plan is None:  # the playing song cannot go on at this rate: the next one, now
        return Timeline(fitting, join=round(CUT_JOIN_S * sr), **options)
    # The playing song, at the new rate from the same point of its source ...
    source_s = float(current.plan.time_map.to_source(own / sr))
    if not timeline.on_step(at):
        # ... or from its beat nearest `at`, which lands on it: a part that
        # starts off the music's grid (a live change of rate before it).
        beats = current.plan.beats_s
        source_s = float(beats[np.argmin(np.abs(beats - source_s))])
    resume = min(
        round(float(plan.time_map.to_output(source_s)) * sr), round(plan.output_duration_s * sr) - 1
    )
    first_end = None
    if skip:
        xfade = round(CROSSFADE_STEPS * 60.0 * sr / spm)
        first_end = resume + xfade + round(SKIP_LEAD_S * sr)
    elif cutting:  # where the cut was, in this plan's time
        end_s = float(current.plan.time_map.to_source(timeline.first_end / sr))
        first_end = max(resume + 1, round(float(plan.time_map.to_output(end_s)) * sr))
    return Timeline(
        [SessionSong(current.result, plan), *fitting],
        resume=resume,
        first_end=first_end,
        join=round(JOIN_S * sr),
        **options,
    )
