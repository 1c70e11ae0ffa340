"""A ring of audio frames between a producer and the real-time callback (numpy, no locks).

One producer writes, one consumer reads; each owns one counter (frames
written, frames read), so neither ever waits for the other. The frames and
the counters are plain numpy arrays, which may live in shared memory: the
producer can be another process (stretching holds the interpreter for tens of
milliseconds at a time, longer than an audio period). :meth:`FrameRing.read_into`
is what the callback calls: slices and copies into its buffer, no allocation.
"""

from __future__ import annotations

import numpy as np

from cadence.errors import ParameterError

#: Slots of the counters array.
WRITTEN, READ, DONE, FAILED = range(4)
COUNTERS = 4


class FrameRing:
    """Frames in a ring: ``frames`` (capacity, channels) float32, ``counters`` (4,) int64.

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

    def write(self, block: np.ndarray) -> int:
        """Write as much of `block` as there is room for (producer side); frames written."""
        n = min(len(block), self.room)
        start = int(self.counters[WRITTEN] % self.capacity)
        first = min(n, self.capacity - start)
        self.frames[start : start + first] = block[:first]
        self.frames[: n - first] = block[first:n]
        self.counters[WRITTEN] += n  # after the frames: the reader sees only whole frames
        return n

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
