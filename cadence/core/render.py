"""The sample-exact beat renderer.

:class:`BeatRenderer` fills a caller's buffer, block after block, from a
sample counter. The beat times are computed in closed form from the session's
tempo (see :mod:`cadence.core.session`), never by adding up rounded
intervals, so no drift can build up whatever the block size:

* constant tempo: beat k of a beat grid that starts at sample P sounds at
  ``P + round(k * 60 * sr / spm)``;
* a linear ramp: beat k sounds where the running integral of the tempo
  reaches k beats (to the nearest sample);
* a live tempo change (``nudge``) takes effect at the next beat: that beat
  keeps its time and becomes the start of a new beat grid at the new tempo.

:meth:`BeatRenderer.render` is what a real-time audio callback calls. It only
reads precomputed sounds and advances counters: no array allocation, no I/O,
no locks, no printing. Control methods (``nudge``, ``pause``) only set plain
attributes the next ``render`` reads, which is safe across threads in CPython.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cadence.core.session import (
    MAX_SPM,
    MIN_SPM,
    Segment,
    Session,
    count_in_samples,
    iter_segments,
    seconds_to_samples,
)
from cadence.core.synth import SOUND_IDS, VoiceBank, voice_bank
from cadence.errors import ParameterError

#: Sounds that may overlap at once (beats, cue tails); more are dropped.
MAX_ACTIVE = 16
#: Multichannel buffers are mixed in chunks of this many frames.
SCRATCH_FRAMES = 8192
#: Countdown pips sound this many seconds before an interval change.
PIP_LEAD_S = (3.0, 2.0, 1.0)

_BEAT, _ACCENT, _COUNT_IN, _PIP, _CHANGE = (
    SOUND_IDS[k] for k in ("beat", "accent", "count_in", "pip", "change")
)


@dataclass(frozen=True)
class Status:
    """Where a session is, for a status line.

    Attributes
    ----------
    elapsed_s : float
        Session time; negative during the count-in.
    spm : float
        Tempo now, live changes included.
    label : str
        Current interval's label ("count-in" during the count-in).
    part, cycle : int
        Current interval and programme repetition, from 0.
    to_change_s : float or None
        Seconds to the next interval change or the end; None if neither comes.
    remaining_s : float or None
        Seconds to the end of the session, None if it runs until stopped.
    silent : bool
        The current interval has no beat (a walk).
    paused, finished : bool
    detail : str
        What else plays (the song, with music), for the status line.
    """

    elapsed_s: float
    spm: float
    silent: bool
    label: str
    part: int
    cycle: int
    to_change_s: float | None
    remaining_s: float | None
    paused: bool
    finished: bool
    detail: str = ""


def _phase_beats(x: float, *, s0: float, s1: float, length: int | None, sr: int) -> float:
    """Beats elapsed `x` samples into a segment whose tempo goes s0 -> s1 over `length`."""
    if length is None or s0 == s1:
        return s0 * x / (60.0 * sr)
    return (s0 * x + (s1 - s0) * x * x / (2.0 * length)) / (60.0 * sr)


def _samples_to_phase(
    c: float, *, s0: float, s1: float, length: int | None, sr: int
) -> float | None:
    """Samples into a segment at which `c` beats have elapsed (None: not in it)."""
    big_c = c * 60.0 * sr
    if length is None or s0 == s1:
        x = big_c / s0
    else:
        a = (s1 - s0) / (2.0 * length)
        disc = s0 * s0 + 4.0 * a * big_c
        if disc < 0:
            return None
        x = 2.0 * big_c / (s0 + math.sqrt(disc))  # stable form of the quadratic root
    return x if length is None or x < length else None


class BeatRenderer:
    """Render a :class:`~cadence.core.session.Session` into buffers, sample-exactly.

    Parameters
    ----------
    session : Session
        What to play.
    sr : int, keyword-only
        Sample rate in Hz.
    voice : str, keyword-only
        Beat voice (see :data:`cadence.core.synth.VOICES`).
    volume_db : float, keyword-only
        Accent level in dB full scale.
    bank : VoiceBank, optional
        Ready-made sounds (overrides `voice` and `volume_db`).
    tempo_steps : tuple of (int, float), keyword-only
        Tempo changes planned ahead: from the beat at each stream sample, the
        offset (spm) from the session's tempo (a ramp of music, in stairs).

    Attributes
    ----------
    position : int
        Samples rendered so far (pauses not counted).
    total_samples : int or None
        Count-in plus session length, None if endless.
    count_in_samples : int
        Where the session (and its timer) starts.
    beats_played : int
        Beats sounded so far, count-in included.

    Examples
    --------
    >>> r = BeatRenderer(Session(172, duration_s=1.0), sr=8000)
    >>> out = np.empty((441, 1), dtype=np.float32)
    >>> while not r.finished:
    ...     n = r.render(out)
    >>> r.position, r.beats_played
    (8000, 3)
    """

    def __init__(
        self,
        session: Session,
        *,
        sr: int,
        voice: str = "click",
        volume_db: float = -6.0,
        bank: VoiceBank | None = None,
        tempo_steps: tuple[tuple[int, float], ...] = (),
    ) -> None:
        self.session = session
        # (stream sample, tempo offset) in time order: each at a beat of the grid before it.
        self._tempo_steps = tuple(tempo_steps)
        self._tempo_step_i = 0
        self.sr = int(sr)
        bank = bank if bank is not None else voice_bank(voice, sr=self.sr, volume_db=volume_db)
        self._sounds = bank.as_tuple()
        self.count_in_samples = count_in_samples(session, sr=self.sr)
        length_s = session.length_s
        self.total_samples = (
            None
            if length_s is None
            else self.count_in_samples + seconds_to_samples(length_s, sr=self.sr)
        )
        self.position = 0
        self.beats_played = 0
        self.paused = False
        self.finished = False
        lo, hi = session.rate_range_spm()
        self._offset_limits = (MIN_SPM - lo, MAX_SPM - hi)
        self.offset_spm = 0.0  # requested by the control thread
        self._offset = 0.0  # in force for the current beat grid
        self.scheduled: tuple[int, float] | None = None  # (stream sample, offset) to come

        self._scratch = np.zeros(SCRATCH_FRAMES, dtype=np.float32)
        # Sounds in flight: parallel slot lists, reused, never resized.
        self._act_start = [0] * MAX_ACTIVE
        self._act_sid = [-1] * MAX_ACTIVE
        self._n_active = 0

        # Beat schedule (session samples count from the end of the count-in).
        self._segments = iter_segments(session, sr=self.sr)
        self._seg: Segment | None = None
        self._seg_phi0 = 0.0  # beat-grid phase at the segment's first sample
        self._anchor = 0  # session sample where the beat grid starts
        self._k = 0  # next beat index in the grid
        self._step = 0  # steps since the interval began (accents, --every)
        self._count_in_k = 0
        self._status_segs: list[Segment] = []
        self._last_seg: Segment | None = None  # the one that ended last, for the end status
        self._cues: list[tuple[int, int]] = []  # (stream sample, sound id), sorted
        self._cue_i = 0
        self._advance_segment(first=True)
        self._next_beat, self._next_sid = self._schedule_next_beat()

    # --- control (any thread) ---------------------------------------------

    def nudge(self, delta_spm: float) -> float:
        """Change the tempo by `delta_spm` from the next beat on; returns the new offset."""
        self.offset_spm = self.clamp_offset(self.offset_spm + delta_spm)
        return self.offset_spm

    def clamp_offset(self, offset_spm: float) -> float:
        """`offset_spm` within what keeps every rate of the session in the metronome's range."""
        lo, hi = self._offset_limits
        return min(hi, max(lo, float(offset_spm)))

    def nudge_at(self, offset_spm: float, *, at: int) -> float:
        """Change the tempo to `offset_spm` from the session's base from the beat at sample `at`.

        That beat (a beat of the current grid, in stream samples, count-in
        included) keeps its time and starts the new grid; a music player that
        placed its music on the same grid from there stays on the click.
        Returns the offset, clamped to the metronome's range.
        """
        offset = self.clamp_offset(offset_spm)
        self.scheduled = (int(at), offset)  # one reference: the callback sees all or nothing
        return offset

    def pause(self, paused: bool = True) -> None:
        """Pause (silence, the clock stops) or resume."""
        self.paused = bool(paused)

    # --- schedule -----------------------------------------------------------

    def _advance_segment(self, *, first: bool = False) -> None:
        seg = self._seg
        if seg is not None and seg.end is not None:
            s0, s1 = seg.spm_start + self._offset, seg.spm_end + self._offset
            phi_end = self._seg_phi0 + _phase_beats(
                seg.end - seg.start, s0=s0, s1=s1, length=seg.end - seg.start, sr=self.sr
            )
        else:
            phi_end = 0.0
        nxt = next(self._segments, None)
        self._seg = nxt
        if nxt is None:
            return
        self._status_segs.append(nxt)
        if nxt.new_phrase:
            self._anchor, self._seg_phi0, self._k, self._step = nxt.start, 0.0, 0, 0
            self._add_interval_cues(nxt, first=first)
        else:
            self._seg_phi0 = phi_end

    def _add_interval_cues(self, seg: Segment, *, first: bool) -> None:
        if not self.session.cues or not self.session.intervals:
            return
        c = self.count_in_samples
        cues = [] if first else [(c + seg.start, _CHANGE)]
        total = self.total_samples
        end = seg.interval_end
        if end is not None and (total is None or c + end < total):
            for lead_s in PIP_LEAD_S:
                at = end - seconds_to_samples(lead_s, sr=self.sr)
                if at > seg.start + seconds_to_samples(1.0, sr=self.sr):
                    cues.append((c + at, _PIP))
        # Keep what is still to come, then the new cues, in time order.
        self._cues = sorted(self._cues[self._cue_i :] + cues)
        self._cue_i = 0

    def _reanchor(self, at: int) -> None:
        """Start a new beat grid at session sample `at` (a beat) with the requested offset."""
        seg = self._seg
        self._offset = self.offset_spm
        s0, s1 = seg.spm_start + self._offset, seg.spm_end + self._offset
        length = None if seg.end is None else seg.end - seg.start
        self._anchor = at
        self._seg_phi0 = -_phase_beats(at - seg.start, s0=s0, s1=s1, length=length, sr=self.sr)
        self._k = 0

    def _schedule_next_beat(self) -> tuple[int | None, int]:
        """Stream sample and sound id of the next beat (None: no more beats)."""
        session = self.session
        if self._count_in_k < session.count_in:
            k = self._count_in_k
            self._count_in_k += 1
            return round(k * 60 * self.sr / session.start_spm), _COUNT_IN
        while self._seg is not None:
            seg = self._seg
            if seg.silent:
                self._advance_segment()
                continue
            s0, s1 = seg.spm_start + self._offset, seg.spm_end + self._offset
            length = None if seg.end is None else seg.end - seg.start
            if s0 == s1 and self._anchor >= seg.start:
                n = self._anchor + round(self._k * 60 * self.sr / s0)
            else:
                x = _samples_to_phase(
                    self._k - self._seg_phi0, s0=s0, s1=s1, length=length, sr=self.sr
                )
                n = None if x is None else seg.start + round(x)
            if n is None or (seg.end is not None and n >= seg.end):
                self._advance_segment()
                continue
            self._k += 1
            step = self._step
            self._step += 1
            if step % session.every:
                continue
            accent = session.accent > 1 and step % session.accent == 0
            return self.count_in_samples + n, _ACCENT if accent else _BEAT
        return None, _BEAT

    def _after_beat(self, stream_sample: int) -> None:
        """Called once the beat at `stream_sample` is mixed: apply a live change there."""
        steps, i = self._tempo_steps, self._tempo_step_i
        while i < len(steps) and stream_sample >= steps[i][0]:
            self.offset_spm = steps[i][1]
            i += 1
        self._tempo_step_i = i
        scheduled = self.scheduled
        if scheduled is not None and stream_sample >= scheduled[0]:
            self.offset_spm = scheduled[1]
            self.scheduled = None
        if (
            self.offset_spm != self._offset
            and self._seg is not None
            and stream_sample >= self.count_in_samples
        ):
            self._reanchor(stream_sample - self.count_in_samples)
            self._k = 1
        self._next_beat, self._next_sid = self._schedule_next_beat()

    # --- audio --------------------------------------------------------------

    def _start_sound(self, start: int, sid: int) -> None:
        for i in range(MAX_ACTIVE):
            if self._act_sid[i] < 0:
                self._act_start[i] = start
                self._act_sid[i] = sid
                self._n_active += 1
                return

    def render(self, out: np.ndarray) -> int:
        """Fill `out` in place with the next ``len(out)`` samples.

        Parameters
        ----------
        out : numpy.ndarray, shape (frames,) or (frames, channels), float32
            The buffer to fill; every sample is written (silence after the end
            or while paused). All channels get the same signal.

        Returns
        -------
        int
            Frames of session audio written; less than ``len(out)`` only at the
            end (then :attr:`finished` is true), 0 while paused or finished.
        """
        if out.ndim == 1:
            return self._render_mono(out)
        n1 = self._quiet_block_end(out.shape[0])
        if n1 is not None:  # most blocks: nothing sounds, nothing starts
            out.fill(0.0)
            return self._advance(n1)
        # Mix once into the scratch buffer, then copy to each channel (copying
        # between columns of one array would make numpy allocate a temporary).
        scratch = self._scratch
        written = 0
        for i in range(0, out.shape[0], scratch.shape[0]):
            m = min(scratch.shape[0], out.shape[0] - i)
            written += self._render_mono(scratch[:m])
            for c in range(out.shape[1]):
                out[i : i + m, c] = scratch[:m]
        return written

    def _quiet_block_end(self, frames: int) -> int | None:
        """End of the next block if it is pure silence (nothing sounding or starting)."""
        if self.paused or self.finished or self._n_active:
            return None
        n1 = self._block_end(frames)
        if self._next_beat is not None and self._next_beat < n1:
            return None
        if self._cue_i < len(self._cues) and self._cues[self._cue_i][0] < n1:
            return None
        return n1

    def _block_end(self, frames: int) -> int:
        """Sample after a block of `frames` from here, stopped at the session's end."""
        n1 = self.position + frames
        if self.total_samples is not None and n1 > self.total_samples:
            return self.total_samples
        return n1

    def _advance(self, n1: int) -> int:
        """Move the clock to `n1`; return the frames rendered."""
        n0 = self.position
        self.position = n1
        segs = self._status_segs
        while segs and segs[0].end is not None and self.count_in_samples + segs[0].end <= n1:
            self._last_seg = segs[0]
            del segs[0]
        if self.total_samples is not None and n1 >= self.total_samples:
            self.finished = True
        return n1 - n0

    def _render_mono(self, mono: np.ndarray) -> int:
        mono.fill(0.0)
        if self.paused or self.finished:
            return 0
        n0 = self.position
        n1 = self._block_end(mono.shape[0])

        # Start what begins in this block.
        while self._next_beat is not None and self._next_beat < n1:
            self._start_sound(self._next_beat, self._next_sid)
            self.beats_played += 1
            self._after_beat(self._next_beat)
        cues = self._cues
        while self._cue_i < len(cues) and cues[self._cue_i][0] < n1:
            self._start_sound(*cues[self._cue_i])
            self._cue_i += 1

        # Mix everything that sounds in [n0, n1).
        sounds = self._sounds
        lo, hi = n1, n0  # the span anything was mixed into
        for i in range(MAX_ACTIVE if self._n_active else 0):
            sid = self._act_sid[i]
            if sid < 0:
                continue
            start = self._act_start[i]
            snd = sounds[sid]
            stop = start + snd.shape[0]
            a = n0 if n0 > start else start
            b = n1 if n1 < stop else stop
            if a < b:
                target = mono[a - n0 : b - n0]
                np.add(target, snd[a - start : b - start], out=target)
                lo = a if a < lo else lo
                hi = b if b > hi else hi
            if stop <= n1:
                self._act_sid[i] = -1
                self._n_active -= 1
        if lo < hi:  # overlapping sounds may add up past full scale
            span = mono[lo - n0 : hi - n0]
            np.minimum(span, 1.0, out=span)
            np.maximum(span, -1.0, out=span)

        return self._advance(n1)

    # --- status (any thread) ------------------------------------------------

    def status(self) -> Status:
        """Where the session is now, for a status line."""
        sr = self.sr
        pos = self.position - self.count_in_samples
        segs = list(self._status_segs)
        seg = segs[0] if segs else None
        silent = False
        if pos < 0 or seg is None:
            label, part, cycle = ("count-in" if pos < 0 else "end"), 0, 0
            spm = self.session.start_spm
            to_change = -pos / sr if pos < 0 else None
            last = self._last_seg
            if pos >= 0 and last is not None:  # the end: as the last part left it
                part, cycle, silent = last.part, last.cycle, last.silent
                spm = last.spm_end + self.offset_spm
        else:
            label, part, cycle, silent = seg.label, seg.part, seg.cycle, seg.silent
            if seg.end is None or seg.spm_start == seg.spm_end:
                spm = seg.spm_start
            else:
                frac = (pos - seg.start) / (seg.end - seg.start)
                spm = seg.spm_start + (seg.spm_end - seg.spm_start) * frac
            spm += self.offset_spm
            end = seg.interval_end
            to_change = None if end is None else (end - pos) / sr
        remaining = (
            None if self.total_samples is None else (self.total_samples - self.position) / sr
        )
        return Status(
            elapsed_s=pos / sr,
            spm=spm,
            silent=silent,
            label=label,
            part=part,
            cycle=cycle,
            to_change_s=to_change,
            remaining_s=remaining,
            paused=self.paused,
            finished=self.finished,
        )


def render_session(session: Session, *, sr: int, blocksize: int = 65536, **kwargs) -> np.ndarray:
    """Render a whole (finite) session to one mono float32 array.

    Convenient for tests and short files; :func:`cadence.audio.write.write_session`
    streams long sessions instead of holding them in memory.

    Raises
    ------
    ParameterError
        If the session never ends (no duration, endless intervals).
    """
    renderer = BeatRenderer(session, sr=sr, **kwargs)
    if renderer.total_samples is None:
        raise ParameterError("duration", "an endless session cannot be rendered; give a duration")
    out = np.zeros(renderer.total_samples, dtype=np.float32)
    pos = 0
    while not renderer.finished:
        block = out[pos : pos + blocksize]
        pos += renderer.render(block)
    return out
