"""Decoding music for analysis: the only module that talks to librosa.

:func:`onset_envelope` decodes a music file block by block (soundfile first
for WAV/FLAC/AIFF; libmpg123 first for MP3, at a quarter of its rate; PyAV's
FFmpeg first for OGG/Opus, M4A/AAC/ALAC and the rest, and for MP3 next; each
when another fails or breaks off sooner), downmixes, resamples to 11025 Hz with
soxr and turns it into onset-strength envelopes, one chunk at a time:
spectral flux of a log mel spectrogram (librosa's mel filters) at 86 frames
a second, for the tempo, and a finer flux at 172 frames a second, for placing
the beats. A whole song is analysed (at most the middle 30 minutes of a long
recording); memory stays bounded whatever the file's length; files are
opened read-only.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cadence.audio.readers import (  # noqa: F401 (read_audio and the readers, from here too)
    _blocks_pyav,
    _blocks_soundfile,
    _reason,
    block_readers,
    libmpg123_silenced,
    read_audio,
    undecodable,
)
from cadence.errors import AudioFileError, raise_if_stopped
from cadence.files import display_path, not_a_file_reason

#: Analysis sample rate, FFT size and hop: 86.1 envelope frames per second.
ANALYSIS_SR = 11025
ANALYSIS_N_FFT = 1024
ANALYSIS_HOP = 128
FRAME_RATE_HZ = ANALYSIS_SR / ANALYSIS_HOP
#: The fine onset function that places beats: a 23 ms window every 5.8 ms
#: (the long window above smears an attack over 93 ms, too coarse to place a
#: beat). Every 2.9 ms placed the development sets' beats no better (median
#: and 95th-percentile offsets within 0.5 ms) at twice the cost.
FINE_N_FFT = 256
FINE_HOP = 64
FINE_RATE_HZ = ANALYSIS_SR / FINE_HOP
#: Bands (log-spaced FFT bins) of the fine onset function.
FINE_N_BANDS = 8
#: How long after the centre of the window where it peaks in the fine onset
#: function an attack starts (the peak comes as the attack enters the
#: window's second half): measured on generated drum hits with known onsets,
#: through the whole decoder (tests/test_beats.py checks it), seconds.
FINE_ATTACK_AFTER_PEAK_S = 0.0053
ANALYSIS_N_MELS = 40
ANALYSIS_FMAX_HZ = 5000.0
#: Mel power floor (-40 dB; full scale is about +40 dB): flux below it is noise.
MEL_FLOOR = 1e-4
#: Mel bands (from the bottom) that make the low-band envelope (up to ~300 Hz).
LOW_BANDS = 12
#: Zeros before the audio: frame k of the envelope is centred on sample k * hop.
LEAD_SAMPLES = ANALYSIS_N_FFT // 2
#: Mel bands that hold the kick and the bass line, not a snare's body (below ~150 Hz).
BASS_BANDS = 2
#: Frames per block of a spectrogram (a few hundred kB, so it stays in cache).
SPECTRUM_BLOCK_FRAMES = 256
#: Samples (at the analysis rate) per spectrogram chunk.
CHUNK_SAMPLES = 30 * ANALYSIS_SR
#: Audio analysed per file, at most: the whole of a song (its beats are
#: wanted to the end), the middle 30 minutes of a longer recording.
MAX_ANALYSIS_S = 1800.0
#: A frame "sounds" when its power is above that of a -60 dBFS signal (the
#: sum of a Hann-windowed 1024-point power spectrum of RMS 1e-3 is about 0.2).
SOUNDING_FRAME_POWER = 0.2
#: When less than this share of the middle window sounds (a long silent tail,
#: a hidden track after minutes of silence), the start is read as well and the
#: window with more sound is analysed.
MIN_SOUNDING_SHARE = 0.5


def _numba_cache_dir() -> str:
    """A folder this user can write numba's compiled functions to.

    numba caches beside the library by default: for a user who cannot write
    there (a system-wide install, another user's venv), librosa's functions
    fail with "cannot cache function ... no locator available".
    """
    import tempfile

    from platformdirs import user_cache_path

    for folder in (
        user_cache_path("cadence", appauthor=False) / "numba",
        Path(tempfile.gettempdir())
        / f"cadence-numba-{os.getuid() if hasattr(os, 'getuid') else 0}",
    ):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK | os.X_OK):
            return str(folder)
    return tempfile.mkdtemp(prefix="cadence-numba-")


def _librosa():
    """librosa, imported with numba's cache where this user can write."""
    if "librosa" not in sys.modules and "NUMBA_CACHE_DIR" not in os.environ:
        os.environ["NUMBA_CACHE_DIR"] = _numba_cache_dir()
    import librosa
    import librosa.filters

    return librosa


def warm_up() -> None:
    """Import the decoders and librosa now (before forking workers)."""
    import av  # noqa: F401

    _librosa()
    import soundfile  # noqa: F401
    import soxr  # noqa: F401


@dataclass(frozen=True)
class Envelope:
    """Onset strength of a piece of audio.

    Attributes
    ----------
    bands : numpy.ndarray, shape (3, n_frames), float32
        Row 0: full-band spectral flux; row 1: low-band flux; row 2: the
        bass's level (dB, below ~150 Hz), which tells a downbeat's kick and bass from
        the other beats' (flux, a rise in dB, hardly does).
    frame_rate_hz : float
        Frames per second.
    fine : numpy.ndarray, shape (n_fine,), float32
        The fine onset function (:data:`FINE_RATE_HZ` frames a second).
    frame_start_s, fine_start_s : float
        Second of the file at which frame 0 of `bands` (its window's centre)
        and frame 0 of `fine` (where an attack there peaks) fall.
    duration_s : float
        Length of the file (seconds), as far as it could be decoded.
    analysed_s : float
        Seconds of audio the envelope covers.
    sounding_s : float
        Seconds of it above -60 dBFS (the rest is silence).
    warning : str or None
        What went wrong while decoding, if the file broke off early
        (truncated or corrupt part-way); the envelope holds what decoded.
    broke_off : str or None
        Where and why the decoder stopped at an error part-way, if it did
        ("decoding stopped at 11.9 s (...)").
    """

    bands: np.ndarray
    frame_rate_hz: float
    duration_s: float
    analysed_s: float
    sounding_s: float
    warning: str | None = None
    broke_off: str | None = None
    fine: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    frame_start_s: float = 0.0
    fine_start_s: float = (
        FINE_N_FFT / 2 - ANALYSIS_N_FFT / 2
    ) / ANALYSIS_SR + FINE_ATTACK_AFTER_PEAK_S


@functools.cache
def _filters() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The mel filters, the two windows and the fine bands' edges (made once: 0.5 ms a file)."""
    mel = (
        _librosa()
        .filters.mel(
            sr=ANALYSIS_SR, n_fft=ANALYSIS_N_FFT, n_mels=ANALYSIS_N_MELS, fmax=ANALYSIS_FMAX_HZ
        )
        .astype(np.float32)
    )
    window = np.hanning(ANALYSIS_N_FFT + 1)[:-1].astype(np.float32)
    fine_window = np.hanning(FINE_N_FFT + 1)[:-1].astype(np.float32)
    n_bins = FINE_N_FFT // 2 + 1
    fine_edges = np.unique(np.geomspace(2, n_bins, FINE_N_BANDS + 1).round().astype(int))
    for a in (mel, window, fine_window, fine_edges):
        a.flags.writeable = False  # shared by every builder
    return mel, window, fine_window, fine_edges


class _EnvelopeBuilder:
    """Turns a stream of mono blocks at any rate into a bounded onset envelope."""

    def __init__(self, source_sr: int, *, max_samples: int) -> None:
        import scipy.fft
        import soxr

        # scipy's FFT keeps float32 and is 3-10 times numpy's on these short frames.
        self._rfft = scipy.fft.rfft
        self._resampler = (
            None
            if source_sr == ANALYSIS_SR
            else soxr.ResampleStream(source_sr, ANALYSIS_SR, 1, dtype="float32", quality="MQ")
        )
        self._mel, self._window, self._fine_window, self._fine_edges = _filters()
        self._last_fine: np.ndarray | None = None
        self._fine: list[np.ndarray] = []
        # Half a window of silence first, so frame 0 is centred on the first
        # sample and an attack there shows (without it, a song that starts on
        # the beat lost its first beats).
        self._pending = np.zeros(LEAD_SAMPLES, dtype=np.float32)
        self._pieces: list[np.ndarray] = []
        self._pieces_len = 0
        self._last_log_mel: np.ndarray | None = None
        self._flux: list[np.ndarray] = []
        self.samples_in = 0
        self._loud: list[np.ndarray] = []
        self.max_samples = max_samples

    @property
    def full(self) -> bool:
        return self.samples_in >= self.max_samples

    def add(self, mono: np.ndarray, *, last: bool = False) -> None:
        y = mono if self._resampler is None else self._resampler.resample_chunk(mono, last=last)
        room = self.max_samples - self.samples_in
        y = y[:room]
        self.samples_in += len(y)
        self._pieces.append(y.astype(np.float32, copy=False))
        self._pieces_len += len(y)
        if self._pieces_len >= CHUNK_SAMPLES or last or self.full:
            self._frames()

    def _frames(self) -> None:
        if self._pieces:
            self._pending = np.concatenate([self._pending, *self._pieces])
            self._pieces, self._pieces_len = [], 0
        n_frames = (len(self._pending) - ANALYSIS_N_FFT) // ANALYSIS_HOP + 1
        if n_frames <= 0:
            return
        mel = np.empty((n_frames, ANALYSIS_N_MELS), dtype=np.float32)
        loud = np.empty(n_frames, dtype=bool)
        for at, spec in self._power(
            n_frames, n_fft=ANALYSIS_N_FFT, hop=ANALYSIS_HOP, window=self._window
        ):
            loud[at : at + len(spec)] = spec.sum(axis=1) > SOUNDING_FRAME_POWER
            np.matmul(spec, self._mel.T, out=mel[at : at + len(spec)])
        self._loud.append(loud)
        log_mel = 10.0 * np.log10(np.maximum(mel, MEL_FLOOR)).T  # (n_mels, n_frames)
        if self._last_log_mel is not None:
            log_mel_prev = np.concatenate([self._last_log_mel[:, None], log_mel], axis=1)
        else:
            log_mel_prev = np.concatenate([log_mel[:, :1], log_mel], axis=1)
        flux = np.maximum(0.0, np.diff(log_mel_prev, axis=1))
        self._flux.append(
            np.stack(
                [
                    flux.mean(axis=0),
                    flux[:LOW_BANDS].mean(axis=0),
                    log_mel[:BASS_BANDS].mean(axis=0),
                ]
            ).astype(np.float32)
        )
        self._last_log_mel = log_mel[:, -1]
        self._fine_frames(n_frames * (ANALYSIS_HOP // FINE_HOP))
        self._pending = self._pending[n_frames * ANALYSIS_HOP :].copy()

    def _power(self, n_frames: int, *, n_fft: int, hop: int, window: np.ndarray):
        """Power spectra of `n_frames` windowed frames of the pending samples, `hop` apart.

        Yields (first frame, spectra) a block of frames at a time: blocks that
        stay in the CPU's cache take 25-40 % less time than one 30 s chunk.
        """
        span = self._pending[: (n_frames - 1) * hop + n_fft]
        frames = np.lib.stride_tricks.sliding_window_view(span, n_fft)[::hop]
        for at in range(0, n_frames, SPECTRUM_BLOCK_FRAMES):
            spec = np.abs(self._rfft(frames[at : at + SPECTRUM_BLOCK_FRAMES] * window, axis=1))
            yield at, np.multiply(spec, spec, out=spec)

    def _fine_frames(self, n_fine: int) -> None:
        """The fine flux of the `n_fine` short frames that start in the consumed samples."""
        edges = self._fine_edges
        bands = np.empty((n_fine, len(edges) - 1), dtype=np.float32)
        for at, spec in self._power(
            n_fine, n_fft=FINE_N_FFT, hop=FINE_HOP, window=self._fine_window
        ):
            bands[at : at + len(spec)] = np.add.reduceat(spec[:, : edges[-1]], edges[:-1], axis=1)
        log_bands = 10.0 * np.log10(np.maximum(bands, MEL_FLOOR))
        prev = log_bands[:1] if self._last_fine is None else self._last_fine[None, :]
        flux = np.maximum(0.0, np.diff(np.concatenate([prev, log_bands]), axis=0))
        self._fine.append(flux.mean(axis=1).astype(np.float32))
        self._last_fine = log_bands[-1]

    @property
    def sounding_s(self) -> float:
        """Seconds of the window that hold a frame above -60 dBFS.

        Counted by the second, so the quiet between two drum hits is not silence.
        """
        if not self._loud:
            return 0.0
        loud = np.concatenate(self._loud)
        per_second = np.logical_or.reduceat(loud, np.arange(0, len(loud), round(FRAME_RATE_HZ)))
        # A last, partial second counts only for what it holds.
        return min(float(np.count_nonzero(per_second)), self.samples_in / ANALYSIS_SR)

    def finish(self) -> np.ndarray:
        if self._resampler is not None and not self.full:
            self.add(np.zeros(0, dtype=np.float32), last=True)
        self._frames()
        if not self._flux:
            return np.zeros((3, 0), dtype=np.float32)
        return np.concatenate(self._flux, axis=1)

    def fine(self) -> np.ndarray:
        """The fine onset function (after :meth:`finish`)."""
        return np.concatenate(self._fine) if self._fine else np.zeros(0, dtype=np.float32)


def onset_envelope(path: str | os.PathLike, *, max_analysis_s: float = MAX_ANALYSIS_S) -> Envelope:
    """Decode `path` block by block into an onset-strength envelope.

    Parameters
    ----------
    path : path-like
        A music file (opened read-only).
    max_analysis_s : float, keyword-only
        Analyse at most this many seconds (default :data:`MAX_ANALYSIS_S`,
        30 minutes), from the middle of a longer file.

    Returns
    -------
    Envelope

    Raises
    ------
    AudioFileError
        If the file cannot be opened or decoded; the message names the file
        and the reason. A file that breaks off part-way (truncated) is used as
        far as it decodes.
    """
    path = os.fspath(path)
    name = display_path(path)
    if not os.path.isfile(path):
        raise AudioFileError(f"{name}: {not_a_file_reason(path)}")
    if not os.access(path, os.R_OK):
        raise AudioFileError(f"{name}: cannot read (permission denied)")
    if os.path.getsize(path) == 0:
        raise AudioFileError(f"{name}: empty file (0 bytes)")
    errors = []
    broken: Envelope | None = None  # the furthest read of those that broke off part-way
    for decoder_name, decoder in block_readers(path):
        try:
            mpg123 = decoder_name in ("soundfile", "mpg123")
            with libmpg123_silenced(path) if mpg123 else contextlib.nullcontext():
                env = _decode(path, decoder, decoder_name, max_analysis_s=max_analysis_s)
        except MemoryError:
            raise
        except Exception as exc:  # each decoder has its own error types
            errors.append(_reason(exc))
            continue
        if broken is None or env.analysed_s > broken.analysed_s + 1.0:
            # One that stops at a broken stretch (libsndfile, losing a FLAC
            # stream's sync) gives way to one that reads on past it, by more
            # than a second (ending without an error is not reading further).
            if env.broke_off is None:
                if broken is None:
                    return env
                passed = f"{broken.broke_off}; another decoder read on past it"
                return replace(env, warning="; ".join(filter(None, [passed, env.warning])))
            broken = env
    if broken is not None:
        return broken
    raise undecodable(path, name, errors)


def _decode(path: str, decoder, decoder_name: str, *, max_analysis_s: float) -> Envelope:
    """Decode with one decoder; a long file is analysed from its middle.

    Where the middle is mostly silent (a performance followed by minutes of
    silence, a hidden track), the start is read too, and the window with more
    sound is analysed.
    """
    probe = decoder(path, 65536)
    source_sr = int(next(probe))
    declared_frames = int(next(probe))
    probe.close()
    if source_sr <= 0:
        raise AudioFileError("no sample rate")
    # The middle of a long track speaks for it better than its intro.
    start_s = _middle_start(declared_frames / source_sr, max_analysis_s)
    best: Envelope | None = None
    cut_short: Envelope | None = None
    tried = set()
    while start_s not in tried:
        tried.add(start_s)
        env = _read_window(
            path,
            decoder,
            decoder_name,
            start_s=start_s,
            max_analysis_s=max_analysis_s,
            source_sr=source_sr,
            declared_frames=declared_frames,
        )
        if env is None:
            start_s = 0.0  # nothing decodes after the seek: read it from the start
            continue
        if start_s > 0 and env.analysed_s < max_analysis_s - 1 / ANALYSIS_SR:
            # The window ended early: the file is shorter than it says (a VBR
            # MP3 without a header has its length guessed from its first
            # frame: after a quiet intro's low bit rate, 40 s was taken for
            # 103 and 3 s of the end read). Its middle, now that its length is known.
            cut_short = env
            start_s = _middle_start(env.duration_s, max_analysis_s)
            continue
        if best is None or env.sounding_s > best.sounding_s:
            best = env
        if best.sounding_s >= MIN_SOUNDING_SHARE * best.analysed_s:
            break
        start_s = 0.0  # a mostly silent middle: the start is read too
    if best is None:
        best = cut_short
    elif cut_short is not None:
        # What the early end showed: the true length, and a truncation it may tell.
        warning = best.warning or cut_short.warning
        best = replace(best, duration_s=cut_short.duration_s, warning=warning)
    if best is None:
        raise AudioFileError("no audio in the file")
    return best


def _middle_start(length_s: float, max_analysis_s: float) -> float:
    """Where the middle `max_analysis_s` of `length_s` seconds starts (0 if it all fits)."""
    return max(0.0, (length_s - max_analysis_s) / 2)


def _read_window(
    path: str,
    decoder,
    decoder_name: str,
    *,
    start_s: float,
    max_analysis_s: float,
    source_sr: int,
    declared_frames: int,
) -> Envelope | None:
    """Envelope of up to `max_analysis_s` from `start_s`; None if nothing decodes after a seek."""
    builder = _EnvelopeBuilder(source_sr, max_samples=int(max_analysis_s * ANALYSIS_SR))
    blocks = decoder(path, 65536, start_s)
    next(blocks), next(blocks)
    decoded = 0
    broke_off = None
    try:
        for mono in blocks:
            raise_if_stopped()  # a Ctrl-C swallowed inside the decoder's callback
            decoded += len(mono)
            builder.add(mono)
            if builder.full:
                break  # the rest of a long file is not needed
    except Exception as exc:
        if decoded == 0:
            raise
        broke_off = _reason(exc)  # truncated or corrupt part-way: keep what decoded
    finally:
        blocks.close()
    if decoded == 0:
        if start_s > 0:
            return None
        raise AudioFileError("no audio in the file")
    bands = builder.finish()
    read_to = start_s * source_sr + decoded
    frames = max(read_to, declared_frames) if builder.full else read_to
    warning = None
    if broke_off is not None:
        from cadence.audio.containers import length_beyond

        length = length_beyond(path, read_to, declared_frames, source_sr, decoder_name)
        of = f" of the {length / source_sr:.1f} s it declares" if length else ""
        broke_off = f"decoding stopped at {read_to / source_sr:.1f} s{of} ({broke_off})"
        warning = f"{broke_off}: used what decoded"
    elif not builder.full:
        from cadence.audio.containers import ends_early_note

        warning = ends_early_note(path, read_to, declared_frames, source_sr, decoder_name)
    return Envelope(
        bands=bands,
        fine=builder.fine(),
        frame_start_s=start_s + (ANALYSIS_N_FFT / 2 - LEAD_SAMPLES) / ANALYSIS_SR,
        fine_start_s=start_s
        + (FINE_N_FFT / 2 - LEAD_SAMPLES) / ANALYSIS_SR
        + FINE_ATTACK_AFTER_PEAK_S,
        frame_rate_hz=FRAME_RATE_HZ,
        duration_s=frames / source_sr,
        analysed_s=builder.samples_in / ANALYSIS_SR,
        sounding_s=builder.sounding_s,
        warning=warning,
        broke_off=broke_off,
    )
