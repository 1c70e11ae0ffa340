"""Music at a cadence, live: a producer process fills a shared ring ahead of the playhead.

Stretching and decoding hold the interpreter for tens of milliseconds at a
time, longer than an audio period, so they run in another process: it
renders the session's music (:meth:`cadence.mixer.MusicSession.music`) into
a :class:`~cadence.core.ring.FrameRing` in shared memory, and the audio
callback (:class:`~cadence.core.musicrender.MusicRenderer`) only copies from
it. The producer ends with the player (and with this process, even after a
``kill -9``, on Linux); a ring left by a killed run is removed by the next.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path

import numpy as np

from cadence.core.ring import COUNTERS, DONE, FAILED, FrameRing
from cadence.errors import AudioFileError

#: Seconds of music the ring holds ahead of the playhead.
RING_S = 8.0
#: Playback starts once this much music is ready (or the session's music is complete).
START_AHEAD_S = 1.0
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
    frames = np.ndarray((capacity, channels), dtype=np.float32, buffer=buf)
    counters = np.ndarray(COUNTERS, dtype=np.int64, buffer=buf, offset=frames.nbytes)
    message = np.ndarray(
        ERROR_BYTES, dtype=np.uint8, buffer=buf, offset=frames.nbytes + 8 * COUNTERS
    )
    return frames, counters, message


def _produce(session, name: str, capacity: int, channels: int, parent_pid: int) -> None:
    """The producer process: the session's music into the ring, until done or orphaned."""
    from multiprocessing import shared_memory

    from cadence.library import _worker_init

    _worker_init(parent_pid)
    shm = shared_memory.SharedMemory(name=name)
    frames, counters, message = _views(shm.buf, capacity, channels)
    ring = FrameRing(frames, counters)
    try:
        for block in session.music():
            if channels == 1:
                block = block.mean(axis=1, keepdims=True)
            while len(block):
                n = ring.write(block)
                block = block[n:]
                if n == 0:
                    if os.getppid() != parent_pid:
                        return
                    time.sleep(0.005)
        counters[DONE] = 1
    except Exception as exc:  # the player says it; the music stops, the click goes on
        text = str(exc).encode("utf-8", "replace")[: ERROR_BYTES - 1]
        message[: len(text)] = np.frombuffer(text, dtype=np.uint8)
        counters[FAILED] = 1
        counters[DONE] = 1
    finally:
        del frames, counters, message, ring
        shm.close()


class LiveMusic:
    """A session's music rendered ahead by a producer process into a shared ring.

    Parameters
    ----------
    session : cadence.mixer.MusicSession
    channels : int, keyword-only
        1 or 2, as the output device.
    """

    def __init__(self, session, *, channels: int = 2) -> None:
        import multiprocessing
        from multiprocessing import shared_memory

        remove_stale_rings()
        self.sr = session.sr
        self.capacity = round(RING_S * session.sr)
        size = self.capacity * channels * 4 + 8 * COUNTERS + ERROR_BYTES
        name = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._shm = shared_memory.SharedMemory(name=name, create=True, size=size)
        frames, counters, self._message = _views(self._shm.buf, self.capacity, channels)
        counters[:] = 0
        self.ring = FrameRing(frames, counters)
        context = multiprocessing.get_context("fork")
        self._process = context.Process(
            target=_produce,
            args=(session, name, self.capacity, channels, os.getpid()),
            name="cadence-music",
            daemon=True,
        )
        self._process.start()

    def wait_ready(self, *, timeout_s: float = 30.0) -> None:
        """Wait until :data:`START_AHEAD_S` of music is ready (or all of it).

        Raises
        ------
        AudioFileError
            If the producer failed before that (a song that cannot be decoded).
        """
        need = min(self.capacity, round(START_AHEAD_S * self.sr))
        deadline = time.monotonic() + timeout_s
        while self.ring.available < need and not self.ring.counters[DONE]:
            if not self._process.is_alive():
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if self.error:
            raise AudioFileError(self.error)

    @property
    def error(self) -> str | None:
        """The producer's error message, if it failed."""
        if not self.ring.counters[FAILED]:
            return None
        raw = bytes(self._message).split(b"\0", 1)[0]
        return raw.decode("utf-8", "replace") or "the music stopped"

    def close(self) -> None:
        """Stop the producer and free the ring."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        del self.ring, self._message
        with contextlib.suppress(Exception):
            self._shm.close()
        with contextlib.suppress(FileNotFoundError):
            self._shm.unlink()

    def __enter__(self) -> LiveMusic:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
