"""Rings of audio frames between a producer and the real-time callback (numpy, no locks).

One producer writes, one consumer reads; each owns its counters (frames
written, frames read), so neither ever waits for the other. The frames and
the counters are plain numpy arrays, which may live in shared memory: the
producer can be another process (stretching holds the interpreter for tens of
milliseconds at a time, longer than an audio period). :meth:`FrameRing.read_into`
is what the callback calls: slices and copies into its buffer, no allocation.

A :class:`MusicFeed` is two rings and a control block, so that the producer
can replace the music from a session sample on (a live tempo change, the
next song) while the callback plays what is already there: the producer
fills the spare ring from that sample and posts the switch; the callback
moves over when it gets there. Every frame is read at its session sample:
frames that came too late are skipped, so the music never falls behind the
click.
"""

from __future__ import annotations

import numpy as np

from cadence.errors import ParameterError

#: Slots of a ring's counters: frames written, frames read, session sample of frame 0.
WRITTEN, READ, BASE = range(3)
COUNTERS = 3
#: Slots of a feed's control block: the ring the callback reads, a switch
#: posted, its session sample, the producer's end (and failure).
ACTIVE, PENDING, SWITCH_AT, DONE, FAILED = range(5)
CONTROL = 5


class FrameRing:
    """Frames in a ring: ``frames`` (capacity, channels) float32, ``counters`` (3,) int64.

    Examples
    --------
    >>> ring = FrameRing(np.zeros((8, 1), np.float32), np.zeros(COUNTERS, np.int64))
    >>> ring.write(np.arange(6, dtype=np.float32)[:, None])
    6
    >>> out = np.zeros((4, 1), np.float32)
    >>> ring.read_into(out), out[:, 0].tolist()
    (4, [0.0, 1.0, 2.0, 3.0])
    >>> ring.write(np.arange(6, 12, dtype=np.float32)[:, None])  # wraps round
    6
    >>> ring.read_into(out), ring.read_into(out), out[:, 0].tolist()
    (4, 4, [8.0, 9.0, 10.0, 11.0])
    """

    def __init__(self, frames: np.ndarray, counters: np.ndarray) -> None:
        if frames.ndim != 2 or frames.dtype != np.float32:
            raise ParameterError("frames", "must be a float32 (capacity, channels) array")
        if counters.shape != (COUNTERS,) or counters.dtype != np.int64:
            raise ParameterError("counters", f"must be an int64 array of {COUNTERS}")
        self.frames = frames
        self.counters = counters
        self.capacity = len(frames)

    @property
    def available(self) -> int:
        """Frames written and not yet read."""
        return int(self.counters[WRITTEN] - self.counters[READ])

    @property
    def room(self) -> int:
        """Frames the producer may write now."""
        return self.capacity - self.available

    @property
    def written_to(self) -> int:
        """The session sample after the last one written."""
        return int(self.counters[BASE] + self.counters[WRITTEN])

    def reset(self, base: int) -> None:
        """Empty the ring; its next frame is session sample `base` (producer side, unread ring)."""
        self.counters[WRITTEN] = 0
        self.counters[READ] = 0
        self.counters[BASE] = base

    def write(self, block: np.ndarray) -> int:
        """Write as much of `block` as there is room for (producer side); frames written."""
        n = min(len(block), self.room)
        start = int(self.counters[WRITTEN] % self.capacity)
        first = min(n, self.capacity - start)
        self.frames[start : start + first] = block[:first]
        self.frames[: n - first] = block[first:n]
        self.counters[WRITTEN] += n  # after the frames: the reader sees only whole frames
        return n

    def peek(self, at: int, n: int) -> np.ndarray:
        """A copy of the frames of session samples ``[at, at + n)`` (producer side).

        Only frames written and not yet read are there; the others are zeros.
        """
        out = np.zeros((n, self.frames.shape[1]), np.float32)
        lo = max(at, int(self.counters[BASE] + self.counters[READ]))
        hi = min(at + n, self.written_to)
        if hi > lo:
            where = (np.arange(lo, hi) - int(self.counters[BASE])) % self.capacity
            out[lo - at : hi - at] = self.frames[where]
        return out

    def read_into(self, out: np.ndarray) -> int:
        """Copy up to ``len(out)`` frames into `out` (consumer side); frames copied.

        No allocation: the real-time callback calls this.
        """
        n = min(len(out), self.available)
        start = int(self.counters[READ] % self.capacity)
        first = min(n, self.capacity - start)
        np.copyto(out[:first], self.frames[start : start + first])
        np.copyto(out[first:n], self.frames[: n - first])
        self.counters[READ] += n
        return n

    def read_at(self, out: np.ndarray, position: int) -> int:
        """Fill `out` with session samples from `position` (consumer side); frames missing.

        Frames before `position` not yet read are skipped (they came too
        late); frames not yet written are zeros.
        """
        want = position - int(self.counters[BASE])
        if want > self.counters[READ]:
            self.counters[READ] = min(want, int(self.counters[WRITTEN]))
        got = self.read_into(out) if want == self.counters[READ] else 0
        out[got:] = 0.0
        return len(out) - got


class MusicFeed:
    """Two rings and a control block: music the producer may replace from a sample on.

    Parameters
    ----------
    rings : tuple of two FrameRing
        Of the same shape.
    control : numpy.ndarray, shape (5,), int64
        Zeros at first: the callback reads ring 0 from session sample 0.
    """

    def __init__(self, rings: tuple[FrameRing, FrameRing], control: np.ndarray) -> None:
        if len(rings) != 2 or rings[0].frames.shape != rings[1].frames.shape:
            raise ParameterError("rings", "must be two rings of one shape")
        if control.shape != (CONTROL,) or control.dtype != np.int64:
            raise ParameterError("control", f"must be an int64 array of {CONTROL}")
        self.rings = rings
        self.control = control
        self.channels = rings[0].frames.shape[1]
        self.writing = int(control[ACTIVE])  # the producer's own: which ring it fills

    # --- consumer (the callback) -------------------------------------------

    @property
    def done(self) -> bool:
        """The producer has written all of the music (or failed)."""
        return bool(self.control[DONE])

    def ready(self, position: int, frames: int) -> bool:
        """Session samples ``[position, position + frames)`` are written (or the music is done)."""
        c = self.control
        ring = self.rings[int(c[ACTIVE])]
        if c[PENDING] and position + frames > c[SWITCH_AT]:
            ring = self.rings[1 - int(c[ACTIVE])]
        return bool(c[DONE]) or ring.written_to >= position + frames

    def read_at(self, out: np.ndarray, position: int) -> int:
        """Fill `out` with the music of session samples from `position`; frames missing.

        Moves to the other ring at a posted switch. No allocation.
        """
        c = self.control
        k = 0
        missing = 0
        if c[PENDING]:
            at = int(c[SWITCH_AT])
            if position + len(out) > at:
                k = min(len(out), max(0, at - position))
                if k:
                    missing += self.rings[int(c[ACTIVE])].read_at(out[:k], position)
                c[ACTIVE] = 1 - c[ACTIVE]
                c[PENDING] = 0
        return missing + self.rings[int(c[ACTIVE])].read_at(out[k:], position + k)

    # --- producer ----------------------------------------------------------

    @property
    def ring(self) -> FrameRing:
        """The ring the producer fills."""
        return self.rings[self.writing]

    def write(self, block: np.ndarray) -> int:
        """Write what fits of `block` after the music written so far; frames written."""
        return self.ring.write(block)

    def can_switch(self) -> bool:
        """The spare ring is free: the callback reads the ring the producer fills."""
        return not self.control[PENDING] and int(self.control[ACTIVE]) == self.writing

    def begin_switch(self, at: int) -> FrameRing:
        """Start filling the spare ring with the music from session sample `at`.

        Write its first frames, then :meth:`post_switch`.
        """
        if not self.can_switch():
            raise ParameterError("at", "a switch is already on its way")
        self.writing = 1 - self.writing
        self.ring.reset(at)
        return self.ring

    def post_switch(self) -> None:
        """Tell the callback to move to the ring begun by :meth:`begin_switch`."""
        self.control[DONE] = 0
        self.control[SWITCH_AT] = self.ring.counters[BASE]
        self.control[PENDING] = 1  # last: the callback sees the sample first
