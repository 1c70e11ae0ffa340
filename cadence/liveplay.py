"""Music at a cadence, live: a producer process fills a shared feed ahead of the playhead.

Stretching and decoding hold the interpreter for tens of milliseconds at a
time, longer than an audio period, so they run in another process: it
renders the session's music (:meth:`cadence.timeline.Timeline.music`) into
a :class:`~cadence.core.ring.MusicFeed` in shared memory, and the audio
callback (:class:`~cadence.core.musicrender.MusicRenderer`) only copies from
it. :class:`LiveMusic` is also the renderer's live control: a tempo change
or a skip is re-planned from a step a little ahead (:func:`cadence.timeline.replan`,
here and in the producer, which gets only the step, the rate and the skip),
the producer fills the feed's spare ring from that step, crossfading from
what was there, and the click changes tempo on that same step. The producer
ends with the player (and with this process, even after a ``kill -9``, on
Linux); a ring left by a killed run is removed by the next.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path

import numpy as np

from cadence.core.ring import (
    CONTROL,
    COUNTERS,
    DONE,
    FAILED,
    FrameRing,
    MusicFeed,
)
from cadence.errors import AudioFileError, CadenceError, stops_deferred

#: Seconds of music each ring holds ahead of the playhead.
RING_S = 8.0
#: Playback starts once this much music is ready (or the session's music is complete).
START_AHEAD_S = 1.0
#: A live change starts at the first step this long (seconds) after the
#: playhead: the producer re-plans and stretches a first piece in that time.
CHANGE_LEAD_S = 0.5
#: A refused change is said in the status line for this long (seconds).
MESSAGE_S = 4.0
#: Bytes kept for the producer's error message.
ERROR_BYTES = 1024
PREFIX = "cadence-ring-"
SHM_FOLDER = Path("/dev/shm")


def remove_stale_rings() -> int:
    """Remove the rings of runs that died without cleaning up (their pid is gone)."""
    removed = 0
    if not SHM_FOLDER.is_dir():
        return 0
    for entry in SHM_FOLDER.glob(f"{PREFIX}*"):
        try:
            pid = int(entry.name[len(PREFIX) :].split("-")[0])
        except ValueError:
            continue
        try:
            os.kill(pid, 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # another user's, alive
        with contextlib.suppress(OSError):
            entry.unlink()
            removed += 1
    return removed


def _views(buf, capacity: int, channels: int):
    """The feed and the error message over one shared buffer."""
    frame_bytes = capacity * channels * 4
    frames = [
        np.ndarray((capacity, channels), dtype=np.float32, buffer=buf, offset=i * frame_bytes)
        for i in (0, 1)
    ]
    at = 2 * frame_bytes
    counters = [
        np.ndarray(COUNTERS, dtype=np.int64, buffer=buf, offset=at + i * 8 * COUNTERS)
        for i in (0, 1)
    ]
    at += 2 * 8 * COUNTERS
    control = np.ndarray(CONTROL, dtype=np.int64, buffer=buf, offset=at)
    message = np.ndarray(ERROR_BYTES, dtype=np.uint8, buffer=buf, offset=at + 8 * CONTROL)
    rings = (FrameRing(frames[0], counters[0]), FrameRing(frames[1], counters[1]))
    return MusicFeed(rings, control), message


def _size(capacity: int, channels: int) -> int:
    return 2 * capacity * channels * 4 + 2 * 8 * COUNTERS + 8 * CONTROL + ERROR_BYTES


def _mono(block: np.ndarray, channels: int) -> np.ndarray:
    return block.mean(axis=1, keepdims=True) if channels == 1 else block


class _Producer:
    """The producer process's loop: the music into the feed, live changes as they come."""

    def __init__(self, plan, feed: MusicFeed, commands, parent_pid: int) -> None:
        from cadence.timeline import SongCache

        self.plan = plan
        self.feed = feed
        self.commands = commands
        self.parent_pid = parent_pid
        self.cache = SongCache(2)
        self.blocks = self.plan.music(start=0, cache=self.cache)
        self.block: np.ndarray | None = None  # the part of a block not yet written
        # The step of the first live change not yet switched to (the spare ring busy).
        self.waiting_at: int | None = None
        self.fetching = None  # the thread decoding the next song ahead

    def _orphaned(self) -> bool:
        return os.getppid() != self.parent_pid

    def _next_block(self) -> np.ndarray | None:
        if self.block is None or not len(self.block):
            block = next(self.blocks, None)
            self.block = None if block is None else _mono(block, self.feed.channels)
        return self.block

    def _change(self, at: int) -> None:
        """The music from `at` into the spare ring, fading in from what was there; posted."""
        from cadence.core.timemap import join_correlated

        join = max(1, self.plan.timeline_at(at).join)
        blocks = self.plan.music(start=at, cache=self.cache)
        head, got = [], 0
        while got < join:
            block = next(blocks, None)
            if block is None:
                break
            head.append(_mono(block, self.feed.channels))
            got += len(block)
        new = np.concatenate(head) if head else np.zeros((0, self.feed.channels), np.float32)
        n = min(join, len(new))
        new[:n] = join_correlated(self.feed.ring.peek(at, n), new[:n])
        self.feed.begin_switch(at)
        written = self.feed.write(new)
        self.blocks, self.block = blocks, new[written:]
        self.feed.post_switch()

    def _prefetch(self) -> None:
        """Decode the song after the one being written, in a thread (a change never waits)."""
        import threading

        at = self.feed.ring.written_to
        timeline = self.plan.timeline_at(at)
        for p in timeline.placements:
            if p.start > at:
                path = timeline.songs[p.song].result.path
                if path not in self.cache and not (self.fetching and self.fetching.is_alive()):
                    self.fetching = threading.Thread(
                        target=self._fetch, args=(path, timeline.sr), daemon=True
                    )
                    self.fetching.start()
                return

    def _fetch(self, path: str, sr: int) -> None:
        with contextlib.suppress(Exception):  # it is decoded again, and said, when it plays
            self.cache.get(path, sr=sr)

    def run(self) -> None:
        from cadence.musicplan import Change

        feed = self.feed
        prefetched = False
        while True:
            while self.commands.poll():
                at, offset_spm, skip = self.commands.recv()
                self.plan.add_live(Change(at, offset_spm, skip))  # as the player did
                if self.waiting_at is None:
                    self.waiting_at = at
            if self.waiting_at is not None and feed.can_switch():
                at = self.waiting_at
                block = self._next_block()
                if feed.ring.written_to >= at + self.plan.timeline_at(at).join or block is None:
                    # The music from there holds every change received so far
                    # (keys pressed in a row): one switch for all of them.
                    self._change(at)
                    self.waiting_at = None
                    prefetched = False
                    continue
            block = self._next_block()
            if block is None:  # all written: wait for a change or the end
                feed.control[DONE] = 1
                if self._orphaned():
                    return
                self.commands.poll(0.05)
                continue
            n = feed.write(block)
            self.block = block[n:]
            if n == 0:
                if self._orphaned():
                    return
                if not prefetched:
                    self._prefetch()
                    prefetched = True
                    continue
                self.commands.poll(0.005)


def _produce(plan, name: str, capacity: int, channels: int, parent_pid: int, commands) -> None:
    """The producer process: the session's music into the feed, until the end or orphaned."""
    from multiprocessing import shared_memory

    from cadence.library import _worker_init

    _worker_init(parent_pid)
    shm = shared_memory.SharedMemory(name=name)
    feed, message = _views(shm.buf, capacity, channels)
    try:
        _Producer(plan, feed, commands, parent_pid).run()
    except Exception as exc:  # the player says it; the music stops, the click goes on
        text = str(exc).encode("utf-8", "replace")[: ERROR_BYTES - 1]
        message[: len(text)] = np.frombuffer(text, dtype=np.uint8)
        feed.control[FAILED] = 1
        feed.control[DONE] = 1
    finally:
        del feed, message
        shm.close()


class LiveMusic:
    """A session's music rendered ahead by a producer process; its live control.

    Parameters
    ----------
    session : cadence.mixer.MusicSession
    channels : int, keyword-only
        1 or 2, as the output device.

    Attributes
    ----------
    feed : MusicFeed
        What the renderer reads.
    message : str
        The last live change refused (no song fits the tempo), for the status line.
    """

    def __init__(self, session, *, channels: int = 2) -> None:
        import multiprocessing
        from multiprocessing import shared_memory

        remove_stale_rings()
        self.session = session
        self.sr = session.sr
        self.capacity = round(RING_S * session.sr)
        name = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        size = _size(self.capacity, channels)
        self._shm = shared_memory.SharedMemory(name=name, create=True, size=size)
        self.feed, self._message = _views(self._shm.buf, self.capacity, channels)
        self.feed.control[:] = 0
        for ring in self.feed.rings:
            ring.reset(0)
        # The player's plan and the producer's (its copy, by the fork) take the same changes.
        self.plan = session.plan.fresh()
        context = multiprocessing.get_context("fork")
        receive, self._commands = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_produce,
            args=(self.plan, name, self.capacity, channels, os.getpid(), receive),
            name="cadence-music",
            daemon=True,
        )
        self._process.start()
        receive.close()
        self.click = None  # the renderer's BeatRenderer, once attached
        self.offset_spm = 0.0  # the tempo change asked for, from the session's cadence
        self.message = ""
        self._message_until = 0.0
        self._coming: tuple[str, int] | None = None  # a skip's song, said until it comes in

    # --- the producer ------------------------------------------------------

    def wait_ready(self, *, timeout_s: float = 30.0) -> None:
        """Wait until :data:`START_AHEAD_S` of music is ready (or all of it).

        Raises
        ------
        AudioFileError
            If the producer failed before that (a song that cannot be decoded).
        """
        need = min(self.capacity, round(START_AHEAD_S * self.sr))
        deadline = time.monotonic() + timeout_s
        while self.feed.ring.available < need and not self.feed.done:
            if not self._process.is_alive():
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if self.error:
            raise AudioFileError(self.error)

    @property
    def ring(self) -> FrameRing:
        """The ring the music starts in (before any live change)."""
        return self.feed.rings[0]

    @property
    def error(self) -> str | None:
        """The producer's error message, if it failed."""
        if not self.feed.control[FAILED]:
            return None
        raw = bytes(self._message).split(b"\0", 1)[0]
        return raw.decode("utf-8", "replace") or "the music stopped"

    # --- live control (the key loop's thread, never the callback) -----------

    def attach(self, renderer) -> None:
        """Control `renderer` (a MusicRenderer reading :attr:`feed`): its click follows changes."""
        self.click = renderer.click
        renderer.control = self

    @property
    def timelines(self) -> list:
        """The music's timelines so far, (from stream sample, Timeline), in time order."""
        return self.plan.chain()

    def _change_step(self) -> int | None:
        """The step a change starts at: ahead of the playhead and of the last change.

        Not in a crossfade of two songs; on the grid in force there (a
        programme's change of rate on the way moves it onto the new grid).
        """
        plan = self.plan
        position = 0 if self.click is None else self.click.position
        at = position + round(CHANGE_LEAD_S * self.sr)
        if plan.live:
            at = max(at, plan.live[-1].at + 1)
        for _ in range(1000):
            timeline = plan.timeline_at(at)
            step = timeline.next_step(max(at, timeline.anchor))
            if step >= plan.total_samples:
                return None
            if plan.timeline_at(step) is not timeline:  # a change of rate on the way
                at = step
                continue
            playing = timeline.playing(step)
            if len(playing) == 1:
                return step
            at = playing[0].stop  # after the crossfade
        return None

    def _refuse(self, message: str) -> bool:
        self.message = message
        self._message_until = time.monotonic() + MESSAGE_S
        return False

    def _request(self, offset_spm: float, skip: int) -> bool:
        from cadence.core.durations import format_clock
        from cadence.musicplan import Change

        at = self._change_step()
        if at is None:
            return self._refuse("the session is ending")
        if not skip and at < self.plan.ramp_end:
            until = (self.plan.ramp_end - self.session.anchor) / self.sr
            return self._refuse(f"tempo: ramp until {format_clock(until)}")
        try:
            self.plan.add_live(Change(at, offset_spm, skip))
        except CadenceError as exc:
            return self._refuse(str(exc))
        self._commands.send((at, offset_spm, skip))
        if self.click is not None and not skip:
            # The click's tempo is the session's (a ramp's start): the offset from there.
            self.click.nudge_at(offset_spm + self.session.click_offset_spm, at=at)
        self.offset_spm = offset_spm
        self.message = ""
        if skip:
            self._coming = self._song_coming(at, skip)
        return True

    def _song_coming(self, at: int, skip: int) -> tuple[str, int] | None:
        """What a skip at `at` brings in, and the sample where it does."""
        timeline = self.plan.timeline_at(at)
        if len(timeline.placements) < 2:
            return None
        going = timeline.songs[timeline.placements[0].song].result.path
        coming = timeline.placements[1]
        path = timeline.songs[coming.song].result.path
        name = Path(path).stem
        said = (
            f"{name} from its start"
            if path == going
            else f"{'next' if skip > 0 else 'back'}: {name}"
        )
        return said, coming.start

    def nudge(self, delta_spm: float) -> float:
        """Music and click `delta_spm` faster from a step ahead; the tempo offset asked for."""
        target = self.offset_spm + delta_spm
        if self.click is not None:
            extra = self.session.click_offset_spm
            target = self.click.clamp_offset(target + extra) - extra
        if target != self.offset_spm:
            self._request(target, 0)
        return self.offset_spm

    def skip(self, songs: int) -> None:
        """The next song (1) or the previous one (-1), on a bar a second or two ahead."""
        self._request(self.offset_spm, 1 if songs > 0 else -1)

    def describe(self, position: int) -> str:
        """The song heard at `position`: its name, its own BPM, its stretch."""
        if self.message and time.monotonic() < self._message_until:
            return self.message
        if self._coming is not None and position < self._coming[1]:
            return self._coming[0]
        timeline = self.plan.timeline_at(position)
        playing = timeline.playing(position)
        if not playing:
            return ""
        song = timeline.songs[playing[-1].song]
        name = Path(song.result.path).stem
        bpm = 60.0 / song.result.period_s
        stretch = round(song.plan.fit.stretch_pct, 1) + 0.0
        return f"{name} {bpm:.0f} BPM {stretch:+.1f} %"

    def close(self) -> None:
        """Stop the producer and free the feed."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        with contextlib.suppress(Exception):
            self._commands.close()
        del self.feed, self._message
        # Whole: a stop between its os.close and the descriptor's reset would
        # let the destructor close the same number again, by then another file's.
        with stops_deferred(), contextlib.suppress(Exception):
            self._shm.close()
        with contextlib.suppress(FileNotFoundError):
            self._shm.unlink()

    def __enter__(self) -> LiveMusic:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
