"""The real-time renderer of music at a cadence: the music from a ring, the click on top.

:class:`MusicRenderer` stands where the metronome's
:class:`~cadence.core.render.BeatRenderer` stands (the player and the live
loop use either): each :meth:`~MusicRenderer.render` copies the next frames
of the music, stretched ahead of time by a producer into a
:class:`~cadence.core.ring.FrameRing`, and adds the metronome's own click,
rendered by a BeatRenderer on the same sample counter. No allocation, no
decoding, no stretching, no locks: frames not ready in time are silence (and
counted), never a wait.
"""

from __future__ import annotations

import numpy as np

from cadence.core.render import BeatRenderer, Status
from cadence.core.ring import DONE, FrameRing
from cadence.errors import ParameterError


class MusicRenderer:
    """Music from `ring` with `click`'s clicks added, sample for sample.

    Parameters
    ----------
    click : BeatRenderer
        The session's click renderer: it sets the session's length and the
        step grid the music was placed on.
    ring : FrameRing
        The music, frame 0 at the session's sample 0.
    click_on : bool, keyword-only
        False: the clicks are rendered (for the timing and the status) but not heard.
    max_frames : int, keyword-only
        The largest buffer `render` is given (its scratch is made now).

    Attributes
    ----------
    music_late : int
        Frames of music that were not ready in time (played as silence).
    music_db : float
        The music's level change (dB, live: ``[`` and ``]``).
    """

    #: What the live loop shows for the keys (cadence.live reads it).
    help_line = "c click on/off · [ ] music −/+3 dB · space pause · q quit"
    #: Limits of the music's level change (dB).
    MUSIC_DB_RANGE = (-30.0, 6.0)

    def __init__(
        self, click: BeatRenderer, ring: FrameRing, *, click_on: bool = True, max_frames: int = 8192
    ) -> None:
        if ring.frames.shape[1] not in (1, 2):
            raise ParameterError("ring", "must hold 1 or 2 channels")
        self.click = click
        self.ring = ring
        self.click_on = click_on
        self.session = click.session
        self.sr = click.sr
        self.total_samples = click.total_samples
        self.count_in_samples = click.count_in_samples
        self.music_late = 0
        self.music_db = 0.0
        self._music_gain = np.float32(1.0)
        self._scratch = np.zeros((max_frames, ring.frames.shape[1]), dtype=np.float32)
        self._stereo = np.zeros((max_frames, 2), dtype=np.float32)  # a mono output's music

    # What the player and the live loop read of a renderer.
    @property
    def position(self) -> int:
        return self.click.position

    @property
    def beats_played(self) -> int:
        return self.click.beats_played

    @property
    def finished(self) -> bool:
        return self.click.finished

    @property
    def paused(self) -> bool:
        return self.click.paused

    def pause(self, paused: bool = True) -> None:
        self.click.pause(paused)

    def nudge(self, delta_spm: float) -> float:
        """No live tempo change: the music was stretched to this cadence (the click stays on it)."""
        return self.click.offset_spm

    def key(self, key: str) -> bool:
        """Act on a live key of its own (``c``, ``[``, ``]``); False if it is not one.

        Only plain attributes change: the callback reads them at its next block.
        """
        if key in ("c", "C"):
            self.click_on = not self.click_on
        elif key in ("[", "]"):
            lo, hi = self.MUSIC_DB_RANGE
            self.music_db = min(hi, max(lo, self.music_db + (3.0 if key == "]" else -3.0)))
            self._music_gain = np.float32(10 ** (self.music_db / 20))
        else:
            return False
        return True

    def status(self) -> Status:
        return self.click.status()

    def render(self, out: np.ndarray) -> int:
        """Fill `out` (frames, 1 or 2 channels) with music and click; frames of session rendered.

        The frames after the session's end are silence.
        """
        frames = len(out)
        if frames > len(self._scratch):
            raise ParameterError("out", f"at most {len(self._scratch)} frames, got {frames}")
        channels = out.shape[1]
        scratch = self._scratch[:frames, :channels]
        paused = self.click.paused
        n = self.click.render(scratch)  # the click advances the session's counter
        if not self.click_on:
            scratch[:] = 0.0
        if paused or n == 0:
            out[:] = scratch
            return n
        if channels == self.ring.frames.shape[1]:
            got = self.ring.read_into(out[:n])
        else:  # a mono device: the stereo music mixed down
            got = self.ring.read_into(self._stereo[:n])
            np.add(self._stereo[:got, 0], self._stereo[:got, 1], out=out[:got, 0])
            out[:got] *= 0.5
        if got < n:
            out[got:n] = 0.0
            if not self.ring.counters[DONE]:
                self.music_late += n - got
        out[n:] = 0.0
        if self._music_gain != 1.0:
            np.multiply(out[:got], self._music_gain, out=out[:got])
        np.add(out[:n], scratch[:n], out=out[:n])
        np.clip(out[:n], -1.0, 1.0, out=out[:n])
        return n
