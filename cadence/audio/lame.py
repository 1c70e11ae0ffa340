"""MP3 encoding with the system's LAME library (Debian's ``libmp3lame0``), through ctypes.

Why not soundfile's MP3 writer: the copy of LAME inside soundfile's wheel (and
PyAV's) is built differently (likely without LAME's SSE code) and encodes the
same stream, byte for byte the same size, 2.5-3x slower than the system's
library; it was half of what a 30-minute ``play -o session.mp3`` cost.
:class:`LameWriter` writes the stream the same way libsndfile does (an ID3v2
tag with the comment, the frames, an ID3v1 trailer, then the LAME info frame
filled in at the front so players know the exact length), as VBR ``-V 2`` at
LAME's own default algorithm quality. Where the library is missing,
:func:`lame_library` says None and writing falls back to soundfile's encoder.
"""

from __future__ import annotations

import ctypes
import functools
import os

import numpy as np

from cadence.audio.clib import load_library
from cadence.errors import stops_deferred

#: Sample rates an MPEG-1/2/2.5 layer III stream can carry (Hz).
LAME_RATES = frozenset((8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000))
#: VBR quality (LAME's ``-V``; 0 best, 9 smallest): -V 2 is ~190 kbit/s,
#: transparent for nearly all music.
VBR_QUALITY = 2
#: Frames handed to LAME per call; its output buffer is sized for this.
CHUNK = 65536
_VBR_DEFAULT = 4  # lame.h's vbr_default (the mtrh VBR mode)


class LameError(OSError):
    """LAME refused a setting or a block (its return code in the message)."""


@functools.cache
def lame_library() -> ctypes.CDLL | None:
    """The system's libmp3lame with its functions' signatures declared, or None
    (also for an old LAME without the float entry points)."""
    return load_library("mp3lame", fallback="libmp3lame.so.0", signatures=_signatures)


def _signatures(_lib: ctypes.CDLL) -> dict:
    gfp, i, f, p = ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.c_char_p
    return {
        "lame_init": (gfp, []),
        "lame_close": (i, [gfp]),
        "lame_set_in_samplerate": (i, [gfp, i]),
        "lame_set_out_samplerate": (i, [gfp, i]),
        "lame_set_num_channels": (i, [gfp, i]),
        "lame_set_VBR": (i, [gfp, i]),
        "lame_set_VBR_quality": (i, [gfp, f]),
        "lame_set_write_id3tag_automatic": (None, [gfp, i]),
        "lame_init_params": (i, [gfp]),
        "lame_encode_buffer_ieee_float": (i, [gfp, gfp, gfp, i, gfp, i]),
        "lame_encode_buffer_interleaved_ieee_float": (i, [gfp, gfp, i, gfp, i]),
        "lame_encode_flush": (i, [gfp, gfp, i]),
        "lame_get_lametag_frame": (ctypes.c_size_t, [gfp, gfp, ctypes.c_size_t]),
        "id3tag_init": (None, [gfp]),
        "id3tag_add_v2": (None, [gfp]),
        "id3tag_set_comment": (None, [gfp, p]),
        "lame_get_id3v2_tag": (ctypes.c_size_t, [gfp, gfp, ctypes.c_size_t]),
        "lame_get_id3v1_tag": (ctypes.c_size_t, [gfp, gfp, ctypes.c_size_t]),
    }


class LameWriter:
    """An MP3 file written block by block, like a ``soundfile.SoundFile`` opened for writing.

    Parameters
    ----------
    path : path-like
        The file to create (or truncate).
    samplerate : int
        Hz; one of :data:`LAME_RATES`.
    channels : int
        1 or 2.

    Set :attr:`comment` before the first :meth:`write`; it goes into the
    ID3 tags. Raises :class:`LameError` (an ``OSError``) if LAME refuses.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "run.mp3")
    ...     with LameWriter(path, samplerate=44100, channels=2) as f:
    ...         f.comment = "rendered by cadence play"
    ...         f.write(np.zeros((44100, 2), np.float32))
    ...     size = os.path.getsize(path)
    >>> 1000 < size < 20000  # a second of silence at -V 2
    True
    """

    def __init__(self, path: str | os.PathLike, *, samplerate: int, channels: int) -> None:
        lib = lame_library()
        if lib is None:
            raise LameError("the LAME library (libmp3lame0) is not installed")
        if samplerate not in LAME_RATES or channels not in (1, 2):
            raise LameError(f"MP3 cannot hold {channels} channels at {samplerate} Hz")
        self._lib = lib
        self.channels = channels
        self.comment: str | None = None
        self._gfp = lib.lame_init()
        if not self._gfp:
            raise LameError("lame_init failed")
        self._file = None
        self._started = False
        self._tag_at = 0
        try:
            lib.lame_set_in_samplerate(self._gfp, samplerate)
            lib.lame_set_out_samplerate(self._gfp, samplerate)
            lib.lame_set_num_channels(self._gfp, channels)
            lib.lame_set_VBR(self._gfp, _VBR_DEFAULT)
            lib.lame_set_VBR_quality(self._gfp, float(VBR_QUALITY))
            lib.lame_set_write_id3tag_automatic(self._gfp, 0)  # written here, in order
            self._check(lib.lame_init_params(self._gfp), "lame_init_params")
            self._out = ctypes.create_string_buffer(CHUNK * 5 // 4 + 7200)
            self._file = open(path, "w+b")  # noqa: SIM115 (closed by close())
        except BaseException:
            self._release()
            raise

    def __enter__(self) -> LameWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:  # the file is going anyway (a full disk, Ctrl-C): no flush to fail again
            self._release()

    @property
    def closed(self) -> bool:
        return self._file is None

    def write(self, data: np.ndarray) -> None:
        """Encode float samples, shape (n,) or (n, channels), nominally in [-1, 1]."""
        if self._file is None:
            raise LameError("write to a closed MP3 file")
        if np.ndim(data) == 2 and np.shape(data)[1] != self.channels:
            raise LameError(
                f"a block of {np.shape(data)[1]} channels to a {self.channels}-channel MP3"
            )
        self._start()
        pcm = np.ascontiguousarray(data, dtype=np.float32).reshape(-1, self.channels)
        for i in range(0, len(pcm), CHUNK):
            part = pcm[i : i + CHUNK]
            if self.channels == 2:
                n = self._lib.lame_encode_buffer_interleaved_ieee_float(
                    self._gfp, part.ctypes.data, len(part), self._out, len(self._out)
                )
            else:
                n = self._lib.lame_encode_buffer_ieee_float(
                    self._gfp, part.ctypes.data, None, len(part), self._out, len(self._out)
                )
            self._file.write(self._out.raw[: self._check(n, "lame_encode_buffer")])

    def close(self) -> None:
        """Flush the encoder, write the trailer and the info frame, close the file."""
        if self._file is None:
            return
        try:
            self._start()
            lib, gfp = self._lib, self._gfp
            n = self._check(lib.lame_encode_flush(gfp, self._out, len(self._out)), "flush")
            self._file.write(self._out.raw[:n])
            self._file.write(self._bytes(lib.lame_get_id3v1_tag))
            info = self._bytes(lib.lame_get_lametag_frame)
            if info:  # LAME left room for it in its first frame
                self._file.seek(self._tag_at)
                self._file.write(info)
            self._file.flush()
        finally:
            self._release()

    def _start(self) -> None:
        """Write the ID3v2 tag (with the comment) once, before any audio."""
        if self._started:
            return
        self._started = True
        self._lib.id3tag_init(self._gfp)
        self._lib.id3tag_add_v2(self._gfp)  # a v2 tag too, as taggers expect
        if self.comment:
            self._lib.id3tag_set_comment(self._gfp, self.comment.encode("latin-1", "replace"))
        tag = self._bytes(self._lib.lame_get_id3v2_tag)
        self._file.write(tag)
        self._tag_at = len(tag)

    def _bytes(self, getter) -> bytes:
        """What one of LAME's ``get_*_tag``/``frame`` functions gives (asked for its size first)."""
        size = getter(self._gfp, None, 0)
        if not size:
            return b""
        buf = ctypes.create_string_buffer(size)
        got = getter(self._gfp, buf, size)  # before reading buf.raw, which copies
        return buf.raw[:got]

    @staticmethod
    def _check(code: int, what: str) -> int:
        if code < 0:
            raise LameError(f"MP3 encoder: {what} failed (LAME code {code})")
        return code

    def _release(self) -> None:
        with stops_deferred():  # lame_close frees: a stop between it and None frees twice
            if self._gfp:
                self._lib.lame_close(self._gfp)
                self._gfp = None
            if self._file is not None:
                self._file.close()
                self._file = None
