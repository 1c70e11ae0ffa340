"""The real-time renderer of music at a cadence: the music from a feed, the click on top.

:class:`MusicRenderer` stands where the metronome's
:class:`~cadence.core.render.BeatRenderer` stands (the player and the live
loop use either): each :meth:`~MusicRenderer.render` copies the next frames
of the music, stretched ahead of time by a producer into a
:class:`~cadence.core.ring.MusicFeed`, and adds the metronome's own click,
rendered by a BeatRenderer on the same sample counter. No allocation, no
decoding, no stretching, no locks: frames not ready in time are silence (and
counted), never a wait, and the music stays on its session samples.

Live changes (tempo, next or previous song) are a controller's work, off the
callback: it re-plans the music from a step a little ahead, has the
producer fill the feed's spare ring from there, and schedules the click's
tempo change on that same step (:meth:`BeatRenderer.nudge_at`).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np

from cadence.core.render import BeatRenderer, Status
from cadence.core.ring import MusicFeed
from cadence.errors import ParameterError

#: Keys that go to the next and the previous song.
NEXT_KEYS = ("n", "N", "right")
PREVIOUS_KEYS = ("p", "P", "left")


class MusicControl(Protocol):
    """What a live controller offers the renderer (see :class:`cadence.liveplay.LiveMusic`)."""

    def nudge(self, delta_spm: float) -> float: ...
    def skip(self, songs: int) -> None: ...
    def describe(self, position: int) -> str: ...


class MusicRenderer:
    """Music from `feed` with `click`'s clicks added, sample for sample.

    Parameters
    ----------
    click : BeatRenderer
        The session's click renderer: it sets the session's length and the
        step grid the music was placed on.
    feed : MusicFeed
        The music, frame 0 at the session's sample 0.
    click_on : bool, keyword-only
        False: the clicks are rendered (for the timing and the status) but not heard.
    max_frames : int, keyword-only
        The largest buffer `render` is given (its scratch is made now).
    control : MusicControl, optional, keyword-only
        Live tempo and song changes; None: the tempo is the music's and
        the songs play in order.

    Attributes
    ----------
    music_late : int
        Frames of music that were not ready in time (played as silence).
    music_db : float
        The music's level change (dB, live: ``[`` and ``]``).
    """

    #: What the live loop shows for the keys (cadence.live reads it).
    help_line = "↑↓ ±1 spm · n/p song · c click · [ ] music · space pause · q quit"
    #: Limits of the music's level change (dB).
    MUSIC_DB_RANGE = (-30.0, 6.0)

    def __init__(
        self,
        click: BeatRenderer,
        feed: MusicFeed,
        *,
        click_on: bool = True,
        max_frames: int = 8192,
        control: MusicControl | None = None,
    ) -> None:
        if feed.channels not in (1, 2):
            raise ParameterError("feed", "must hold 1 or 2 channels")
        self.click = click
        self.feed = feed
        self.click_on = click_on
        self.control = control
        self.session = click.session
        self.sr = click.sr
        self.total_samples = click.total_samples
        self.count_in_samples = click.count_in_samples
        self.music_late = 0
        self.music_db = 0.0
        self._music_gain = np.float32(1.0)
        self._scratch = np.zeros((max_frames, feed.channels), dtype=np.float32)
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
        """Change the tempo of music and click by `delta_spm`, within a beat or two."""
        if self.control is None:
            return self.click.offset_spm
        return self.control.nudge(delta_spm)

    def key(self, key: str) -> bool:
        """Act on a live key of its own (``c``, ``[``, ``]``, ``n``, ``p``); False if it is not one.

        Only plain attributes change here: the callback reads them at its next block.
        """
        if key in ("c", "C"):
            self.click_on = not self.click_on
        elif key in ("[", "]"):
            lo, hi = self.MUSIC_DB_RANGE
            self.music_db = min(hi, max(lo, self.music_db + (3.0 if key == "]" else -3.0)))
            self._music_gain = np.float32(10 ** (self.music_db / 20))
        elif key in NEXT_KEYS or key in PREVIOUS_KEYS:
            if self.control is not None:
                self.control.skip(1 if key in NEXT_KEYS else -1)
        else:
            return False
        return True

    def status(self) -> Status:
        st = self.click.status()
        said = [] if self.control is None else [self.control.describe(self.click.position)]
        if not self.click_on:
            said.append("click off")
        if self.music_db:
            said.append(f"music {self.music_db:+.0f} dB")
        return dataclasses.replace(st, detail=" · ".join(x for x in said if x))

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
        position = self.click.position
        n = self.click.render(scratch)  # the click advances the session's counter
        if not self.click_on:
            scratch[:] = 0.0
        if paused or n == 0:
            out[:] = scratch
            return n
        if channels == self.feed.channels:
            missing = self.feed.read_at(out[:n], position)
        else:  # a mono device: the stereo music mixed down
            missing = self.feed.read_at(self._stereo[:n], position)
            np.add(self._stereo[:n, 0], self._stereo[:n, 1], out=out[:n, 0])
            out[:n] *= 0.5
        if missing and not self.feed.done:
            self.music_late += missing
        out[n:] = 0.0
        if self._music_gain != 1.0:
            np.multiply(out[:n], self._music_gain, out=out[:n])
        np.add(out[:n], scratch[:n], out=out[:n])
        np.clip(out[:n], -1.0, 1.0, out=out[:n])
        return n
