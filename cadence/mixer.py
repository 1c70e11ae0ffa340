"""A session of songs at the runner's cadence: placed, stretched, crossfaded, clicked.

:class:`MusicSession` is ``cadence play``'s engine: its music is a
:class:`cadence.timeline.Timeline` (each song's downbeat on a bar of the
step grid, each fading into the next), its click the metronome's own
renderer (:class:`cadence.core.render.BeatRenderer`) on the same steps;
:func:`render_session_file` writes both, for a phone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from cadence.core.mix import ramp_stairs
from cadence.core.songfit import CLICK_MODES, CLICK_VOLUME_DB, MAX_STRETCH_PCT
from cadence.errors import CadenceError, ParameterError
from cadence.musicplan import MusicPlan
from cadence.timeline import (
    SESSION_CHANNELS,
    SESSION_SR,
    SessionSong,
    SongCache,
    Timeline,
    songs_at,
)

#: The longest "songs once" session looked at (seconds): a day.
MAX_SONGS_ONCE_S = 24 * 3600.0

__all__ = ["SESSION_CHANNELS", "SESSION_SR", "MusicSession", "SessionSong", "render_session_file"]


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
    max_stretch_pct : float, keyword-only
        The largest stretch (%) of a song, at the programme's rates and after a live change.
    intervals : tuple of Interval, keyword-only
        A run/walk programme (:func:`cadence.core.session.parse_intervals`):
        each part made whole bars long; the music follows a part's own rate
        (the songs that fit it) and plays on, 10 dB down, through a walk
        without a beat.
    repeat : int, optional, keyword-only
        How often the programme runs (None: until `duration_s`, or the songs once).
    ramp_from_spm, ramp_over_s : float, optional, keyword-only
        Start at `ramp_from_spm` and ramp to `spm` over `ramp_over_s`, in
        stairs of at most 0.5 spm (:func:`cadence.core.mix.ramp_stairs`),
        music and click together; with `intervals`, the runs ramp
        (:func:`cadence.core.mix.ramped_programme`).
    sr : int, keyword-only

    Attributes
    ----------
    timeline : Timeline
        The music: :attr:`Timeline.placements`, :meth:`Timeline.music`.
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
        max_stretch_pct: float = MAX_STRETCH_PCT,
        intervals: tuple = (),
        repeat: int | None = None,
        ramp_from_spm: float | None = None,
        ramp_over_s: float | None = None,
        sr: int = SESSION_SR,
    ) -> None:
        from cadence.core.session import (
            Session,
            bar_aligned_intervals,
            count_in_samples,
            iter_segments,
            music_rates,
            seconds_to_samples,
        )

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
        self.max_stretch_pct = max_stretch_pct
        #: What makes the same session at another sample rate: ``MusicSession(songs, spm,
        #: sr=..., **options)``.
        self.options = {
            "duration_s": duration_s,
            "count_in": count_in,
            "click": click,
            "click_volume_db": click_volume_db,
            "voice": voice,
            "every": every,
            "max_stretch_pct": max_stretch_pct,
            "intervals": intervals,
            "repeat": repeat,
            "ramp_from_spm": ramp_from_spm,
            "ramp_over_s": ramp_over_s,
        }
        accent = 4 if click == "accent" else 0
        if ramp_from_spm is not None and duration_s is None and repeat is None:
            # The songs once: as long as they last with the ramp's stairs (a
            # first plan at the ramp's start would play the first one again).
            longest_s = sum(float(s.result.duration_s or 600.0) for s in songs)
            longest_s = min(MAX_SONGS_ONCE_S, longest_s / (1 - max_stretch_pct / 100) + 60.0)
            once = MusicSession(songs, spm, sr=sr, **{**self.options, "duration_s": longest_s})
            duration_s = once.songs_once_s()
            self.options["duration_s"] = duration_s
        if ramp_from_spm is not None and intervals:
            self._ramped_programme(
                songs,
                tuple(intervals),
                duration_s=duration_s,
                count_in=count_in,
                every=every,
                accent=accent,
                repeat=repeat,
                ramp_from_spm=ramp_from_spm,
                ramp_over_s=ramp_over_s,
            )
            return
        # Each part of a programme lasts whole bars of its music, so the music's
        # grid and the click's meet at every change.
        intervals = bar_aligned_intervals(tuple(intervals), spm=spm) if intervals else ()
        click_options = {
            "count_in": count_in,
            "every": every,
            "accent": accent,
            "intervals": intervals,
            "repeat": repeat,
        }
        ramp = {"ramp_from_spm": ramp_from_spm, "ramp_over_s": ramp_over_s}
        asked = Session(spm, duration_s=duration_s, **click_options, **ramp)
        self.anchor = count_in_samples(asked, sr=self.sr)
        length_s = asked.length_s
        total = None if length_s is None else self.anchor + seconds_to_samples(length_s, sr=sr)
        rates = music_rates(intervals, spm=spm) if intervals else [self.spm]
        stairs = []
        if ramp_from_spm is not None:  # the music ramps in stairs, the click on them
            rates = [float(ramp_from_spm), self.spm]
            stairs = ramp_stairs(
                ramp_from_spm, self.spm, over_s=ramp_over_s, anchor=self.anchor, sr=self.sr
            )
        first = self._first_songs(rates[0], sorted(set(rates)), ramp=bool(stairs))
        self.timeline = Timeline(
            first, spm=rates[0], sr=self.sr, anchor=self.anchor, total=total, pool=songs
        )
        self.placements = self.timeline.placements
        self.total_samples = self.timeline.total_samples
        # The click: the session's own, or (a ramp) at the ramp's start with
        # the music's stairs as tempo steps.
        self.session = Session(
            rates[0] if stairs else spm,
            duration_s=(self.total_samples - self.anchor) / self.sr,
            cues=bool(intervals),
            **click_options,
        )
        self.click_steps = tuple((at, rate - rates[0]) for at, rate in stairs)
        #: What a live tempo change adds to the click's offset (its tempo is the ramp's start).
        self.click_offset_spm = self.spm - rates[0] if stairs else 0.0
        # The programme's changes: of the music's rate, and the walks without a beat.
        changes, quiet = [], []
        for seg in iter_segments(self.session, sr=self.sr):
            if not seg.new_phrase:
                continue
            at = self.anchor + seg.start
            if at > self.anchor:  # each part: its rate (the music follows if it is off the grid)
                changes.append((at, rates[seg.part]))
            if seg.silent and seg.interval_end is not None:
                quiet.append((at, self.anchor + seg.interval_end))
        self._ramp_rates = list(stairs)
        self._plan_music(changes, stairs=stairs, quiet=quiet)

    def _first_songs(self, rate: float, rates: list[float], *, ramp: bool) -> list[SessionSong]:
        """The songs at `rate`, once every rate of the session is known to have one."""
        from cadence.songs import NoSongToPlayError, Skipped

        self._song_plans: dict = {}  # song plans by (path, rate, stretch), for every re-plan
        for rate_k in rates:
            if not songs_at(
                self.songs, rate_k, max_stretch_pct=self.max_stretch_pct, plans=self._song_plans
            ):
                what = "the ramp's start" if ramp else "a part of --intervals"
                fix = "start the ramp nearer" if ramp else "give that part @off"
                raise NoSongToPlayError(
                    f"no song fits {rate_k:g} spm ({what}) within"
                    f" --max-stretch {self.max_stretch_pct:g} %; {fix}, or give songs at that rate",
                    Skipped(),
                )
        return songs_at(
            self.songs, rate, max_stretch_pct=self.max_stretch_pct, plans=self._song_plans
        )

    def _plan_music(self, changes, *, stairs, quiet, ramp_end: int | None = None) -> None:
        from cadence.songs import NoSongToPlayError

        self.plan = MusicPlan(
            self.timeline,
            rates=changes,
            stairs=stairs,
            quiet=quiet,
            max_stretch_pct=self.max_stretch_pct,
            ramp_end=ramp_end,
        )
        self.plan._plans.update(self._song_plans)
        try:
            self.plan.chain()  # all of it now: errors before any sound
        except NoSongToPlayError as exc:
            if not stairs:
                raise
            raise NoSongToPlayError(
                f"{exc} (a stair of the ramp to {self.spm:g}); start the ramp nearer,"
                " or give songs at the rates between",
                exc.skipped,
            ) from None

    def _ramped_programme(
        self,
        songs,
        intervals,
        *,
        duration_s,
        count_in,
        every,
        accent,
        repeat,
        ramp_from_spm,
        ramp_over_s,
    ) -> None:
        """A programme whose runs ramp (:func:`cadence.core.mix.ramped_programme`).

        The music changes rate at each part and at each stair of the ramp,
        every part whole bars of it; the click holds the target with the
        ramp as offsets from it (0 in a part with its own rate), its
        count-in at the first rate.
        """
        from cadence.core.mix import ramped_programme
        from cadence.core.session import Session, count_in_samples, seconds_to_samples

        options = {"count_in": count_in, "every": every, "accent": accent, "repeat": repeat}
        ramp = {"ramp_from_spm": ramp_from_spm, "ramp_over_s": ramp_over_s}
        asked = Session(self.spm, duration_s=duration_s, intervals=intervals, **options, **ramp)
        sr = self.sr
        self.anchor = anchor = count_in_samples(asked, sr=sr)
        # A length or rounds: without either, __init__ has measured the songs once.
        limit = None if duration_s is None else seconds_to_samples(duration_s, sr=sr)
        programme = ramped_programme(
            intervals, spm=self.spm, sr=sr, total=limit, repeat=repeat, **ramp
        )
        rates = sorted({*programme.part_rates, self.spm, float(ramp_from_spm)})
        first = self._first_songs(programme.part_rates[0], rates, ramp=True)
        total = anchor + min(x for x in (limit, programme.part_ends[-1]) if x is not None)
        self.timeline = Timeline(
            first, spm=programme.part_rates[0], sr=sr, anchor=anchor, total=total, pool=songs
        )
        self.placements = self.timeline.placements
        self.total_samples = self.timeline.total_samples
        self.session = Session(
            self.spm,
            duration_s=(self.total_samples - anchor) / sr,
            intervals=intervals,
            cues=True,
            part_ends_s=tuple(end / sr for end in programme.part_ends),
            count_in_spm=asked.start_spm,
            **options,
        )
        starts = programme.part_starts
        steps = [(at, rate - self.spm) for at, rate in programme.stairs]
        changes, quiet = [], []
        for k, (start, end) in enumerate(zip(starts, programme.part_ends, strict=True)):
            interval = intervals[k % len(intervals)]
            rate = programme.part_rates[k]
            if start > 0:
                changes.append((anchor + start, rate))
            if interval.silent:
                quiet.append((anchor + start, anchor + end))
            elif start <= programme.ramp_end:  # the click's offset for this part
                steps.append((start, rate - self.spm if programme.ramped[k] else 0.0))
        self.click_steps = tuple(sorted((anchor + at, offset) for at, offset in steps))
        self.click_offset_spm = 0.0
        stairs = [(anchor + at, rate) for at, rate in programme.stairs]
        self._ramp_rates = stairs + [
            (anchor + at, rate)
            for at, rate, ramped in zip(starts, programme.part_rates, programme.ramped, strict=True)
            if ramped
        ]
        self._plan_music(changes, stairs=stairs, quiet=quiet, ramp_end=anchor + programme.ramp_end)

    def beat_renderer(self):
        """A fresh renderer of the session's steps (it keeps the session's time,
        clicked or not: ``click="off"`` only leaves its sound out)."""
        from cadence.core.render import BeatRenderer

        return BeatRenderer(
            self.session,
            sr=self.sr,
            voice=self.voice,
            volume_db=self.click_volume_db,
            tempo_steps=self.click_steps,
        )

    def click_renderer(self):
        """A fresh renderer of the session's clicks; None with ``click="off"``."""
        return None if self.click == "off" else self.beat_renderer()

    def music(self, *, cache: SongCache | None = None) -> Iterator[np.ndarray]:
        """The session's music (no click), from sample 0, block by block."""
        return self.plan.music(cache=cache)

    def songs_once_s(self) -> float:
        """Seconds after the count-in until every song has played once (or the session's end)."""
        seen: set[str] = set()
        chain = self.plan.chain()
        for i, (start, timeline) in enumerate(chain):
            stop = chain[i + 1][0] if i + 1 < len(chain) else self.total_samples
            for p in timeline.placements:
                resumed = p.start == start and p.fade_in == 0 and p.first > 0
                if not start <= p.start < stop or resumed:
                    continue
                path = timeline.songs[p.song].result.path
                if path in seen:  # the first played again: the one before ends as it fades in
                    return (p.start + p.fade_in - self.anchor) / self.sr
                seen.add(path)
        return (self.total_samples - self.anchor) / self.sr

    def ramp_reached(self) -> list[float] | None:
        """A ramp's start and the rate it reached by the end (None without a ramp)."""
        start = self.options["ramp_from_spm"]
        if start is None:
            return None
        heard = [rate for at, rate in sorted(self._ramp_rates) if at < self.total_samples]
        return [float(start), float(heard[-1]) if heard else float(start)]

    def parts(self) -> list[dict]:
        """JSON-ready: the programme's parts as played (none without ``intervals``).

        Each: ``label``, ``round`` (from 1), ``start_s``, ``end_s`` (seconds in
        the output, count-in included), ``spm`` (the music's rate as it
        starts) and ``click`` (False in a walk without a beat).
        """
        if not self.session.intervals:
            return []
        from cadence.core.session import iter_segments

        out = []
        for seg in iter_segments(self.session, sr=self.sr):
            if not seg.new_phrase:
                continue
            start = self.anchor + seg.start
            end = self.anchor + (seg.interval_end if seg.interval_end is not None else seg.end)
            out.append(
                {
                    "label": seg.label,
                    "round": seg.cycle + 1,
                    "start_s": round(start / self.sr, 3),
                    "end_s": round(end / self.sr, 3),
                    "spm": round(self.plan.base_rate(start), 2),
                    "click": not seg.silent,
                }
            )
        return out

    def report(self) -> list[dict]:
        """JSON-ready: each song as it plays, a new entry where a change re-plans it."""
        chain = self.plan.chain()
        out = []
        for i, (start, timeline) in enumerate(chain):
            stop = chain[i + 1][0] if i + 1 < len(chain) else self.total_samples
            out += timeline.report(window=(start, stop))
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
        JSON-ready: ``output, stems, sr, duration_s, count_in_s, ramp_spm``
        (a ramp's start and the rate it reached, or None), ``parts, songs``
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
        total_samples=total,
    )
    return {
        "output": path,
        "stems": {"music": targets[1], "click": targets[2]} if stems else None,
        "spm": session.spm,
        "sr": session.sr,
        "duration_s": round(written / session.sr, 6),
        "count_in_s": round(session.anchor / session.sr, 6),
        "click": session.click,
        "ramp_spm": session.ramp_reached(),
        "parts": session.parts(),
        "songs": session.report(),
    }
