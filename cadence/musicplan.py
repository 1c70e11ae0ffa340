"""The music of a whole session: its first timeline, then the changes to it.

A programme's parts with their own rate, and a runner's live changes (tempo,
next or previous song), each start a new :class:`cadence.timeline.Timeline`
at their step (:func:`cadence.timeline.replan`); :class:`MusicPlan` keeps
them in order and renders them one after the other, each joined to the one
before by a short crossfade, the music quieter in the walks without a beat.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from cadence.core.timemap import join_correlated
from cadence.errors import CadenceError, ParameterError
from cadence.timeline import SESSION_CHANNELS, Timeline, replan, songs_at

#: The music is this much quieter in a walk without a beat (dB) ...
WALK_MUSIC_DB = -10.0
#: ... going down and coming back up over this long (seconds).
WALK_FADE_S = 1.0


@dataclass(frozen=True)
class Change:
    """A change of the music at a step: the programme's, or the runner's (live).

    Attributes
    ----------
    at : int
        Stream sample (a step of the music before it).
    offset_spm : float or None
        The live tempo change in force from here (None: the one before).
    skip : int
        1 next song, -1 previous, 0 none.
    new_phrase : bool
        A bar starts here (the programme's next part).
    """

    at: int
    offset_spm: float | None = None
    skip: int = 0
    new_phrase: bool = False


class MusicPlan:
    """The music of a whole session: its first timeline, then its changes.

    The programme's changes of rate (an interval with its own rate) and the
    runner's live changes (tempo, next or previous song) each start a new
    :class:`Timeline` at their step (:func:`replan`); :meth:`music` renders
    them one after the other, each joined to the one before by a short
    crossfade, with the music quieter in the walks that have no beat.
    Deterministic: the live player and its producer process each keep one
    and, given the same live changes, get the same music.

    Parameters
    ----------
    first : Timeline
    rates : list of (int, float), keyword-only
        Stream samples where the programme's parts start, and their music's rate.
    stairs : list of (int, float), keyword-only
        The stairs of a ramp (:func:`cadence.core.mix.ramp_stairs`): steps
        where the rate changes, the bars counting on.
    quiet : list of (int, int), keyword-only
        Stream sample ranges of the walks without a beat.
    max_stretch_pct : float, keyword-only
    ramp_end : int, optional, keyword-only
        Where the ramp is over (live tempo changes wait for it); None: its last stair.
    """

    def __init__(
        self,
        first: Timeline,
        *,
        rates: list[tuple[int, float]] = (),
        stairs: list[tuple[int, float]] = (),
        quiet: list[tuple[int, int]] = (),
        max_stretch_pct: float,
        ramp_end: int | None = None,
    ) -> None:
        self.first = first
        self.rates = sorted(rates)
        self.stairs = sorted(stairs)
        #: Live tempo changes wait for the end of a ramp (its last stair).
        if ramp_end is None:
            ramp_end = self.stairs[-1][0] if self.stairs else 0
        self.ramp_end = ramp_end
        self.quiet = sorted(quiet)
        self.max_stretch_pct = max_stretch_pct
        # The programme's changes, once: (sample, rate) in time order, and as Changes.
        self._rate_changes = sorted(self.rates + self.stairs)
        self._rate_at = [at for at, _ in self._rate_changes]
        planned = [(at, Change(at, new_phrase=True)) for at, _ in self.rates]
        planned += [(at, Change(at)) for at, _ in self.stairs]
        self._planned = [c for _, c in sorted(planned, key=lambda x: x[0])]
        self.live: list[Change] = []
        self._chain: list[tuple[int, Timeline]] = [(first.start, first)]
        self._done = 0  # changes already in the chain
        self._plans: dict = {}  # (path, spm, max stretch) -> SongPlan, shared by the re-plans

    def fresh(self) -> MusicPlan:
        """The same plan without its live changes (for another live run of the session)."""
        plan = MusicPlan(
            self.first,
            rates=self.rates,
            stairs=self.stairs,
            quiet=self.quiet,
            max_stretch_pct=self.max_stretch_pct,
            ramp_end=self.ramp_end,
        )
        plan._plans = self._plans
        return plan

    @property
    def total_samples(self) -> int:
        return self.first.total_samples

    def base_rate(self, sample: int) -> float:
        """The programme's music rate at `sample` (live changes aside)."""
        k = bisect.bisect_right(self._rate_at, sample)
        return self._rate_changes[k - 1][1] if k else self.first.spm

    def offset_at(self, sample: int) -> float:
        """The live tempo change in force at `sample`."""
        offset = 0.0
        for c in self.live:
            if c.at > sample:
                break
            if c.offset_spm is not None:
                offset = c.offset_spm
        return offset

    def _changes(self) -> list[Change]:
        """The programme's and the live changes in time order (the programme's first at a tie)."""
        if not self.live:
            return self._planned
        planned = [(c.at, 0, c) for c in self._planned]
        live = [(c.at, 1, c) for c in self.live]
        return [c for _, _, c in sorted(planned + live, key=lambda x: (x[0], x[1]))]

    def add_live(self, change: Change) -> None:
        """A live change (after every change already made), planned up to its step.

        Raises
        ------
        CadenceError
            If the music cannot follow it (no song fits a rate it leads to);
            the plan is then as it was.
        """
        from cadence.songs import NoSongToPlayError, Skipped

        if self.live and change.at <= self.live[-1].at:
            raise ParameterError("at", "a live change comes after the one before")
        self.chain(until=change.at - 1)  # everything before it planned
        kept = (list(self._chain), self._done)
        self.live.append(change)
        self._chain = [(s, t) for s, t in self._chain if s < change.at]
        self._done = sum(1 for c in self._changes() if c.at < change.at)
        try:
            self.chain(until=change.at)
            # The rest is planned as it plays; but a rate of the programme no
            # song fits with this change in force is refused now, not mid-run.
            offset = self.offset_at(change.at)
            later = {rate for at, rate in self._rate_changes if at > change.at}
            for rate in sorted(later):
                songs = songs_at(
                    self.first.pool,
                    rate + offset,
                    max_stretch_pct=self.max_stretch_pct,
                    plans=self._plans,
                )
                if not songs:
                    raise NoSongToPlayError(
                        f"no song fits {rate + offset:g} spm (a later part) within"
                        f" --max-stretch {self.max_stretch_pct:g} %",
                        Skipped(),
                    )
        except CadenceError:
            self.live.pop()
            self._chain, self._done = kept
            raise

    def chain(self, until: int | None = None) -> list[tuple[int, Timeline]]:
        """The timelines (from their stream sample) up to `until` (None: all)."""
        changes = self._changes()
        while self._done < len(changes) and (until is None or changes[self._done].at <= until):
            c = changes[self._done]
            self._done += 1
            prev = self._chain[-1][1]
            if c.at >= prev.total_samples:
                break
            spm = self.base_rate(c.at) + self.offset_at(c.at)
            if c.new_phrase and spm == prev.spm and prev.on_step(c.at):
                continue  # the music's grid already meets the part's first click
            timeline = replan(
                prev,
                at=c.at,
                spm=spm,
                skip=c.skip,
                new_phrase=c.new_phrase,
                max_stretch_pct=self.max_stretch_pct,
                plans=self._plans,
            )
            self._chain.append((c.at, timeline))
        return list(self._chain) if until is None else [x for x in self._chain if x[0] <= until]

    def _entry_after(self, sample: int) -> tuple[int, Timeline] | None:
        """The first timeline that starts after `sample` (planned as far as that), or None."""
        changes = self._changes()
        while True:
            later = [x for x in self._chain if x[0] > sample]
            if later:
                return later[0]
            if self._done >= len(changes):
                return None
            self.chain(until=changes[self._done].at)

    def timeline_at(self, sample: int) -> Timeline:
        """The timeline in force at `sample`."""
        return self.chain(sample)[-1][1]

    def music(self, *, start: int = 0, cache=None) -> Iterator[np.ndarray]:
        """The music from stream sample `start` (0, or a change's step) to the end.

        The changes are planned as the music gets to them (a ramp's stairs,
        a long programme's parts), not all before the first block.
        """
        current = self.chain(until=start)[-1]
        quiet = _QuietGains(self.quiet, sr=self.first.sr)
        cursor = start
        carry = None  # the old music over the next join
        while current is not None:
            timeline = current[1]
            nxt = self._entry_after(current[0])
            current = nxt
            stop = self.total_samples if nxt is None else nxt[0]
            join = 0 if nxt is None else nxt[1].join
            blocks = timeline.music(cache=cache)
            pos = timeline.start
            need_join = carry
            carry = None
            for block in blocks:
                lo, hi = pos, pos + len(block)
                pos = hi
                if hi <= cursor:
                    continue
                block = block[max(0, cursor - lo) :]
                lo = max(lo, cursor)
                if need_join is not None:  # the first frames: the old music fading into these
                    n = min(len(need_join), len(block))
                    block = block.copy()
                    block[:n] = join_correlated(need_join[:n], block[:n])
                    need_join = need_join[n:] if n < len(need_join) else None
                end = min(hi, stop)
                if end > lo:
                    yield quiet.apply(block[: end - lo], lo)
                    cursor = end
                if hi >= stop:
                    # Keep the old music over the join into the next timeline.
                    carry = block[end - lo : end - lo + join]
                    while len(carry) < join:
                        more = next(blocks, None)
                        if more is None:
                            break
                        carry = np.concatenate([carry, more[: join - len(carry)]])
                    break
        if cursor < self.total_samples:
            yield np.zeros((self.total_samples - cursor, SESSION_CHANNELS), np.float32)


class _QuietGains:
    """The music's gain in the walks without a beat: down, and back up before the run."""

    def __init__(self, ranges: list[tuple[int, int]], *, sr: int) -> None:
        self.ranges = ranges
        self.fade = max(1, round(WALK_FADE_S * sr))
        self.low = 10 ** (WALK_MUSIC_DB / 20)

    def apply(self, block: np.ndarray, start: int) -> np.ndarray:
        end = start + len(block)
        for a, b in self.ranges:
            if a >= end:
                break
            if b <= start:
                continue
            at = np.arange(max(a, start), min(b, end))
            depth = np.minimum(
                np.clip((at - a) / self.fade, 0, 1), np.clip((b - at) / self.fade, 0, 1)
            )
            gain = (1.0 + (self.low - 1.0) * depth).astype(np.float32)
            block = block.copy() if not block.flags.writeable or block.base is not None else block
            block[at - start] *= gain[:, None]
        return block
