"""Reading music files: block by block for analysis, or whole for mixing.

soundfile (libsndfile) reads WAV/FLAC/AIFF first; PyAV (FFmpeg) reads
OGG/Opus, MP3, M4A/AAC/ALAC and the rest first (see :data:`SOUNDFILE_FIRST`),
and each is tried when the other fails. For the analysis, libmpg123 reads
MP3 before either (:mod:`cadence.audio.mpg123`). Files are opened read-only (any
file name works): soundfile through a descriptor (:func:`sound_file`), PyAV
through a Python file object. :mod:`cadence.audio.decode` turns the blocks
into onset envelopes.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from cadence.errors import AudioFileError, stops_deferred
from cadence.files import display_path, not_a_file_reason

#: Extensions the scanner treats as audio.
AUDIO_EXTENSIONS = frozenset(
    {
        ".mp3",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".wav",
        ".aif",
        ".aiff",
        ".m4a",
        ".m4b",
        ".mp4",
        ".aac",
        ".alac",
        ".wma",
        ".ape",
        ".wv",
    }
)


# libsndfile reads PCM and FLAC faster than FFmpeg (43 against 53 ms a minute
# of stereo WAV, 70 against 89 for FLAC); FFmpeg decodes Vorbis in 84 ms a
# minute against libvorbis's 127, Opus in 96 against 275, and MP3 right
# (libsndfile 1.2's mpg123 mis-decodes VBR MP3 read in blocks).
SOUNDFILE_FIRST = {".wav", ".flac", ".aif", ".aiff"}


def in_trial_order(path: str, by_soundfile, by_ffmpeg) -> list:
    """The two readers of a file, in the order to try them (:data:`SOUNDFILE_FIRST`)."""
    if Path(path).suffix.lower() in SOUNDFILE_FIRST:
        return [by_soundfile, by_ffmpeg]
    return [by_ffmpeg, by_soundfile]


def block_readers(path: str) -> list:
    """``(name, reader)`` of the block readers for analysis, in the order to try them on `path`.

    An MP3 is read by libmpg123 first where the library is installed (mono at
    the analysis rate, for a quarter less CPU than FFmpeg: :mod:`cadence.audio.mpg123`).
    """
    from cadence.audio.mpg123 import blocks_mpg123, mpg123_library

    readers = in_trial_order(path, ("soundfile", _blocks_soundfile), ("pyav", _blocks_pyav))
    if Path(path).suffix.lower() == ".mp3" and mpg123_library() is not None:
        readers.insert(0, ("mpg123", blocks_mpg123))
    return readers


@contextlib.contextmanager
def sound_file(path: str | os.PathLike):
    """A soundfile (libsndfile) reader on `path`, opened read-only.

    Through a descriptor, not a Python file object: any file name works
    (soundfile cannot encode names that are not valid UTF-8), and libsndfile
    reads with no callback into Python, so a Ctrl-C is never raised inside
    the decoder. Closed by :func:`closed_whole`: a stop raised inside the
    close made a scan abort with "double free detected" instead of cleaning up.
    """
    import soundfile as sf

    fd = os.open(path, os.O_RDONLY)
    try:
        with closed_whole(sf.SoundFile(fd, "r", closefd=False)) as f:
            yield f
    finally:
        os.close(fd)


class closed_whole:  # noqa: N801 (used as a context manager, like contextlib's)
    """`handle` (a soundfile or MP3 file) as a context manager whose exit (the
    close) runs whole: a Ctrl-C or SIGTERM arriving in it is raised when it is
    done. One raised inside soundfile's close leaves a freed handle that its
    destructor frees again."""

    def __init__(self, handle) -> None:
        self.handle = handle

    def __enter__(self):
        return self.handle.__enter__()

    def __exit__(self, *exc):
        with stops_deferred():
            return self.handle.__exit__(*exc)


def _blocks_soundfile(path: str, blocksize: int, start_s: float = 0.0):
    with sound_file(path) as f:
        yield f.samplerate
        yield f.frames  # may be unknown (0 or huge) for some MP3s
        if start_s > 0:
            f.seek(int(start_s * f.samplerate))
        while True:
            block = np.zeros((blocksize, f.channels), dtype=np.float32)
            got, error = _read_into(f, block)
            if got:
                yield _mean_of([block[:got, c] for c in range(f.channels)])
            if error is not None:
                raise error
            if got < blocksize:
                return


def _read_into(f, out: np.ndarray) -> tuple[int, Exception | None]:
    """Frames of soundfile `f` read into `out` (zeros, float32, one column a
    channel), and the error that stopped the read part-way, if one did.

    soundfile raises for an error in a read (a cut FLAC loses its sync) after
    libsndfile has decoded part of it into `out`: the position says how much.
    """
    start = f.tell()
    try:
        return len(f.read(out=out)), None
    except Exception as exc:
        try:
            got = f.tell() - start
        except Exception:
            got = 0
        return min(max(got, 0), len(out)), exc


def _blocks_pyav(path: str, blocksize: int, start_s: float = 0.0):
    import av

    with open(path, "rb") as fh, av.open(fh, "r") as container:
        if not container.streams.audio:
            raise AudioFileError("no audio stream")
        stream = container.streams.audio[0]
        if stream.codec_context is None:
            raise AudioFileError("no decoder for its audio codec")
        sr = stream.codec_context.sample_rate or stream.rate
        yield sr
        yield int(float(container.duration or 0) / 1_000_000 * (sr or 1))
        if start_s > 0:
            container.seek(int(start_s * av.time_base), any_frame=False)
        # Frames are small (a few hundred to a few thousand samples): an FFmpeg
        # FIFO joins them in C into big blocks, so the per-block work (downmix,
        # resample, spectrogram) runs on big arrays and each frame costs one call.
        fifo = av.AudioFifo()
        channels = 0  # of the frames in the FIFO
        # After a seek FFmpeg decodes from the frame (or Ogg page) before the
        # point asked for, or after it: 20-60 ms from where the caller takes
        # the first sample to be, and every beat of a long file was that late.
        # The first frame's time says where it is: samples before `start_s`
        # are dropped, a gap after it is silence.
        skip = None if start_s > 0 else 0
        # Times count from the stream's start (25 ms into an MP3, FFmpeg's
        # skipped encoder delay), where the first sample of a whole read is.
        origin_s = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        try:
            for frame in container.decode(stream):
                if skip is None:
                    at_s = None if frame.time is None else frame.time - origin_s
                    skip = 0 if at_s is None else round((start_s - at_s) * sr)
                    if skip < 0:
                        if -skip <= sr:  # a time more than a second off is not believed
                            yield np.zeros(-skip, dtype=np.float32)
                        skip = 0
                frame.pts = None  # the FIFO would refuse a gap in the timestamps
                # The FIFO refuses a frame of another sample format or rate, but
                # copies as many channels as its first frame had whatever the
                # frame's layout: a change of either part-way starts a new FIFO.
                # (Asked of every frame, a tuple of the three took 3 ms a minute
                # of a song of short Vorbis frames.)
                taken = frame.layout.nb_channels == channels
                if taken:
                    try:
                        fifo.write(frame)
                    except ValueError:
                        taken = False
                if not taken:
                    if fifo.samples:
                        yield _mono_of(fifo.read())
                    # The blocks are at the rate given above: a frame at another
                    # is an error, after what decoded before it (which the caller keeps).
                    if frame.sample_rate != sr:
                        raise AudioFileError(
                            f"the sample rate changes from {sr} to {frame.sample_rate} Hz"
                        )
                    fifo, channels = av.AudioFifo(), frame.layout.nb_channels
                    fifo.write(frame)
                if skip:
                    dropped = min(skip, fifo.samples)
                    fifo.read(dropped)
                    skip -= dropped
                if fifo.samples >= blocksize:
                    yield _mono_of(fifo.read())
        except Exception:
            # What decoded before the error (up to a block, still in the
            # FIFO) is the caller's: a cut 22 kHz FLAC lost its last 2.8 s.
            if fifo.samples:
                yield _mono_of(fifo.read())
            raise
        rest = fifo.read()
        if rest is not None:
            yield _mono_of(rest)


def _samples_of(frame) -> np.ndarray:
    """A (channels, samples) array of an audio frame, planar or packed."""
    data = frame.to_ndarray()
    if frame.format.is_planar:
        return data
    return data.reshape(-1, len(frame.layout.channels)).T


def _gather_planes(gathered: list[list[bytes]], frame, dtype: np.dtype) -> None:
    """Append a planar frame's samples to `gathered`, one bytes object per channel."""
    n_bytes = frame.samples * dtype.itemsize  # planes may be padded
    for chan, plane in zip(gathered, frame.planes):
        chan.append(bytes(plane)[:n_bytes])


def _join(gathered: list[list[bytes]], dtype: np.dtype) -> np.ndarray:
    """One (channels, samples) block from gathered plane bytes."""
    return np.stack([np.frombuffer(b"".join(chan), dtype=dtype) for chan in gathered])


_PLANAR_DTYPES = {
    "fltp": np.dtype(np.float32),
    "dblp": np.dtype(np.float64),
    "s16p": np.dtype(np.int16),
    "s32p": np.dtype(np.int32),
    "u8p": np.dtype(np.uint8),
}


def _downmix(channels_by_samples: np.ndarray) -> np.ndarray:
    """Mono float32 from a (channels, samples) array of any sample format."""
    return _mean_of(list(_as_float(channels_by_samples)))


def _mono_of(frame) -> np.ndarray:
    """Mono float32 of an audio frame: a planar one read plane by plane, in
    place (PyAV's to_ndarray stacks the planes into a copy first)."""
    dtype = _PLANAR_DTYPES.get(frame.format.name)
    if dtype is None:
        return _downmix(_samples_of(frame))
    n = frame.samples  # planes may be padded
    return _mean_of([_as_float(np.frombuffer(p, dtype=dtype, count=n)) for p in frame.planes])


def _mean_of(channels: list[np.ndarray]) -> np.ndarray:
    """Their mean, float32, added one by one: numpy's ``mean`` over the channel
    axis (bit for bit, but for the sign of a zero), at 1/5 to 1/18 of its cost
    on a few channels."""
    if len(channels) == 1:
        return channels[0].copy()
    total = channels[0] + channels[1]
    for channel in channels[2:]:
        total += channel
    total /= np.float32(len(channels))
    return total


def stereo_at_most(samples: np.ndarray) -> np.ndarray:
    """(n, 1 or 2) samples, as the stretcher and MP3 take them: more channels are
    mixed down to mono."""
    if samples.shape[1] <= 2:
        return samples
    return samples.mean(axis=1, keepdims=True).astype(np.float32)


_MPEG_EXTENSIONS = frozenset({".mp3", ".mp2", ".mpga"})


def libmpg123_silenced(path: str | os.PathLike):
    """For a soundfile read of `path`: libsndfile reads MPEG through libmpg123,
    which prints its notes on the process's stderr (77 lines on a messy folder,
    "Xing stream size off" on a cut MP3), saying nothing cadence's messages do
    not. Silenced for an MPEG file's name; a no-op for any other."""
    if Path(path).suffix.lower() in _MPEG_EXTENSIONS:
        return _c_stderr_silenced()
    return contextlib.nullcontext()


@contextlib.contextmanager
def _c_stderr_silenced():
    """Send what C libraries write to file descriptor 2 nowhere, for a while."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


#: Decoder messages that speak of their own insides, and what they mean for the file.
_INTERNALS = (
    (r"avcodec_open2|codec.*not (found|supported)|decoder not found", "no decoder for its codec"),
    (r"object has no attribute|NoneType", "no decoder for its audio"),
    # FFmpeg's AVERROR_PATCHWELCOME, for a chained Ogg whose next stream has
    # other channels or another rate.
    (
        r"(?i)not yet implemented in ffmpeg",
        "the stream changes part-way in a way FFmpeg cannot follow",
    ),
)


def _reason(exc: BaseException) -> str:
    """A decoder's complaint, short: no errno, no file name, no Python object reprs."""
    import re

    if isinstance(exc, AudioFileError):
        return str(exc)  # ours: already a plain reason, and its case is meant

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for internal, plain in _INTERNALS:
        if re.search(internal, text):
            return plain
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text)
    text = re.sub(r"^error\s*:\s*", "", text, flags=re.IGNORECASE)  # libsndfile's "Error : ..."
    # soundfile names what it opened: a file object, a descriptor's number, a name.
    text = re.sub(r"Error opening (<[^>]*>|\d+|b?'[^']*'):\s*", "", text)
    # A name at the end, and PyAV's error number after it ("...: 'x.ogg' returned 22").
    text = re.sub(r":\s*'[^']*'(\s+returned\s+-?\d+)?$", "", text)
    return text.rstrip(". ")[:120].lower() or type(exc).__name__


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """The whole of a music file as float32 samples, at its own rate and channels.

    A file that breaks off part-way (cut, or damaged where no decoder reads
    on) gives what decoded before the break, as the analysis does.

    Parameters
    ----------
    path : path-like
        A music file (opened read-only).

    Returns
    -------
    samples : numpy.ndarray, shape (n_samples, n_channels), float32
    sr : int
        Its sample rate (Hz).

    Raises
    ------
    AudioFileError
        If the file cannot be opened or decoded (the message names it).
    """
    path = os.fspath(path)
    name = display_path(path)
    if not os.path.isfile(path):
        raise AudioFileError(f"{name}: {not_a_file_reason(path)}")
    errors = []
    broken: tuple[np.ndarray, int] | None = None  # the longest of the reads that broke off
    for reader in in_trial_order(path, _read_soundfile, _read_pyav):
        try:
            samples, sr, broke_off = reader(path)
        except MemoryError:
            raise
        except Exception as exc:  # each decoder has its own error types
            errors.append(_reason(exc))
            continue
        if not len(samples):
            errors.append(broke_off or "no audio in the file")
            continue
        if broke_off is None:
            return samples, sr
        # Cut or damaged part-way: what decoded is used, as the analysis uses
        # it (its note says where it stopped), unless another decoder reads on.
        if broken is None or len(samples) > len(broken[0]):
            broken = samples, sr
    if broken is not None:
        return broken
    raise undecodable(path, name, errors)


def undecodable(path: str | os.PathLike, name: str, errors: list[str]) -> AudioFileError:
    """The error for a file (shown as `name`) that no decoder could read: a cut
    MP4's missing index, or else each decoder's reason, once."""
    from cadence.audio.containers import mp4_cut_before_index

    if mp4_cut_before_index(path):
        reason = "the file ends before its index, the MP4 'moov' box: truncated?"
    else:
        reason = "; ".join(dict.fromkeys(errors))
    return AudioFileError(f"{name}: cannot decode audio ({reason})")


#: Frames read at a time by libsndfile (what decoded before an error is kept).
_SOUNDFILE_BLOCK = 1 << 16


def _read_soundfile(path: str) -> tuple[np.ndarray, int, str | None]:
    """The samples, the rate, and why decoding stopped part-way (None: it did not)."""
    with sound_file(path) as f:
        out = np.zeros((max(f.frames, 0), f.channels), dtype=np.float32)
        done = 0
        while done < len(out):
            got, error = _read_into(f, out[done : done + _SOUNDFILE_BLOCK])
            done += got
            if error is not None:  # libsndfile's error part-way (a cut FLAC loses its sync)
                if done == 0:
                    raise error
                return out[:done], f.samplerate, _reason(error)
            if got == 0:
                break
        return out[:done], f.samplerate, None


def _read_pyav(path: str) -> tuple[np.ndarray, int, str | None]:
    import av

    with open(path, "rb") as fh, av.open(fh, "r") as container:
        if not container.streams.audio:
            raise AudioFileError("no audio stream")
        stream = container.streams.audio[0]
        layout = stream.layout.name if stream.layout else None
        resampler = None
        segments: list[np.ndarray] = []  # (channels, samples) float32, in order
        gathered: list[list[bytes]] = []
        first = None  # (format, channels) of the first frame: the fast path's
        rate = None
        broke_off = None
        try:
            for frame in container.decode(stream):
                rate = rate or frame.sample_rate
                if frame.sample_rate != rate:
                    break  # as the analysis does: what decoded before a change of rate
                shape = (frame.format.name, len(frame.layout.channels))
                first = first or shape
                dtype = _PLANAR_DTYPES.get(shape[0]) if shape == first else None
                if dtype is not None:  # the usual case: one copy a frame, no numpy call
                    if not gathered:
                        gathered = [[] for _ in range(shape[1])]
                    _gather_planes(gathered, frame, dtype)
                    continue
                if gathered:  # a frame of another kind: keep the order
                    segments.append(_as_float(_join(gathered, _PLANAR_DTYPES[first[0]])))
                    gathered = []
                resampler = resampler or av.AudioResampler(format="fltp", layout=layout)
                for out in resampler.resample(frame):
                    segments.append(out.to_ndarray())
        except Exception as exc:  # FFmpeg's error part-way: keep what decoded
            if not (segments or gathered):
                raise
            broke_off = _reason(exc)
        if gathered:
            segments.append(_as_float(_join(gathered, _PLANAR_DTYPES[first[0]])))
        sr = rate or stream.codec_context.sample_rate or stream.rate
    if not segments:
        return np.zeros((0, 1), dtype=np.float32), int(sr or 0), broke_off
    channels = min(len(seg) for seg in segments)  # a layout change: the channels all have
    joined = np.concatenate([seg[:channels] for seg in segments], 1).T
    return np.ascontiguousarray(joined), int(sr), broke_off


def _as_float(x: np.ndarray) -> np.ndarray:
    """float32 samples from samples of any type (any shape), scaled as FFmpeg scales them."""
    if x.dtype == np.uint8:
        return (x.astype(np.float32) - 128) / np.float32(128)
    if x.dtype.kind == "i":
        return x.astype(np.float32) / np.float32(2 ** (8 * x.dtype.itemsize - 1))
    return x.astype(np.float32, copy=False)
