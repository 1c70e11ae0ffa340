"""MP3 decoding for the analysis: the system's libmpg123 (Debian's ``libmpg123-0``), via ctypes.

The analysis wants mono at 11025 Hz. libmpg123 can give just that for less
than FFmpeg's decode, downmix and resampling: it mixes the two channels
before its inverse MDCT and synthesis filterbank (which then run once, not
twice), and at a half or a quarter of the stream's rate it synthesises only
the subbands below the new Nyquist frequency. The samples are those of the
full decode, mixed and resampled, delayed by one sample period of the
stream (21-45 microseconds), to within -50 dB up to 4.5 kHz (the analysis
reads up to 5 kHz); at the stream's own rate, the same mix to float rounding.
:func:`blocks_mpg123` is a block reader like those in
:mod:`cadence.audio.readers`; where the library is missing,
:func:`mpg123_library` says None and MP3 is read by FFmpeg, as before.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
from dataclasses import dataclass

import numpy as np

from cadence.audio.clib import load_library
from cadence.errors import AudioFileError, stops_deferred

#: The lowest output rate wanted (Hz): the analysis rate,
#: :data:`cadence.audio.decode.ANALYSIS_SR`. A stream is decoded at its rate
#: halved as often as that stays at or above this (44.1 kHz at a quarter).
MIN_RATE_HZ = 11025

# mpg123.h
_FLAGS, _DOWN_SAMPLE = 1, 4  # enum mpg123_parms
_MONO_MIX, _QUIET, _GAPLESS, _NO_RESYNC = 0x4, 0x20, 0x40, 0x80  # enum mpg123_param_flags
_FORCE_FLOAT = 0x400
_OK, _DONE, _NEW_FORMAT = 0, -12, -11  # enum mpg123_errors
_ENC_FLOAT_32 = 0x200
_SEEK_SET = 0


class Mpg123Error(AudioFileError):
    """libmpg123 could not open or decode a stream (its own words in the message)."""


@functools.cache
def mpg123_library() -> ctypes.CDLL | None:
    """The system's libmpg123 with its functions' signatures declared, or None."""
    lib = load_library("mpg123", fallback="libmpg123.so.0", signatures=_signatures)
    if lib is None:
        return None
    suffix = _offset_suffix(lib)
    lib.cadence_open_fd = getattr(lib, f"mpg123_open_fd{suffix}")
    lib.cadence_length = getattr(lib, f"mpg123_length{suffix}")
    lib.cadence_seek = getattr(lib, f"mpg123_seek{suffix}")
    return lib


def _offset_suffix(lib: ctypes.CDLL) -> str:
    # The _64 entry points take a 64-bit offset whatever off_t is; older
    # libraries have only the plain ones (off_t, 64 bits on a 64-bit system).
    return "_64" if hasattr(lib, "mpg123_open_fd_64") else ""


def _signatures(lib: ctypes.CDLL) -> dict:
    h, i, lng, sz, off = (
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_long,
        ctypes.c_size_t,
        ctypes.c_int64,
    )
    suffix = _offset_suffix(lib)
    return {
        "mpg123_new": (h, [ctypes.c_char_p, ctypes.POINTER(i)]),
        "mpg123_delete": (None, [h]),
        "mpg123_param": (i, [h, i, lng, ctypes.c_double]),
        "mpg123_getformat": (i, [h, ctypes.POINTER(lng), ctypes.POINTER(i), ctypes.POINTER(i)]),
        "mpg123_read": (i, [h, h, sz, ctypes.POINTER(sz)]),
        "mpg123_close": (i, [h]),
        "mpg123_scan": (i, [h]),
        "mpg123_strerror": (ctypes.c_char_p, [h]),
        "mpg123_plain_strerror": (ctypes.c_char_p, [i]),
        f"mpg123_open_fd{suffix}": (i, [h, i]),
        f"mpg123_length{suffix}": (off, [h]),
        f"mpg123_seek{suffix}": (off, [h, off, i]),
    }


#: Sample rates (Hz) by MPEG version bits (MPEG-1, 2, 2.5) and rate index.
_RATES_HZ = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True)
class FirstFrame:
    """The first MPEG audio frame of a file: where it starts, its rate, its first bytes."""

    offset: int
    rate_hz: int
    data: bytes

    @property
    def gives_length(self) -> bool:
        """Whether it is a LAME/Xing (or VBRI) frame that gives the stream's
        length in frames."""
        data = self.data
        if len(data) < 40:
            return False
        mpeg1 = data[1] >> 3 & 3 == 3
        mono = data[3] >> 6 == 3
        side_info = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
        if data[4 + side_info : 8 + side_info] in (b"Xing", b"Info"):
            return bool(data[11 + side_info] & 1)  # the flag for the frame count
        return data[36:40] == b"VBRI"


def first_frame(path: str | os.PathLike) -> FirstFrame | None:
    """The frame an MP3 file starts with, at its start or right after its
    ID3v2 tag; None if none is there.

    Only a header with a valid version, layer, bit rate and sample rate counts
    (ADTS AAC's sync word has layer 0; a FLAC or WAV after an ID3 tag has no
    header): libmpg123 hunts for frames anywhere and reads other files named
    .mp3 as noise, which FFmpeg, looking at what a file is, reads right.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(10)
            at = 0
            if head[:3] == b"ID3" and len(head) == 10:
                footer = 10 if head[5] & 0x10 else 0
                at = 10 + footer + (head[6] << 21 | head[7] << 14 | head[8] << 7 | head[9])
            f.seek(at)
            data = f.read(200)
    except OSError:
        return None
    if len(data) < 4 or data[0] != 0xFF or data[1] & 0xE0 != 0xE0:
        return None
    version, layer = data[1] >> 3 & 3, data[1] >> 1 & 3
    bitrate_index, rate_index = data[2] >> 4, data[2] >> 2 & 3
    if version == 1 or layer == 0 or bitrate_index == 15 or rate_index == 3:
        return None
    return FirstFrame(offset=at, rate_hz=_RATES_HZ[version][rate_index], data=data)


def length_in_header(path: str) -> bool:
    """Whether an MP3 file's first frame gives the stream's length in frames
    (:attr:`FirstFrame.gives_length`). Without one, decoders guess the length
    from the first frame's bit rate (4.6 s for a 20 s VBR file), so a file that
    ends before it can be told truncated only with one."""
    frame = first_frame(path)
    return frame is not None and frame.gives_length


class _Stream:
    """One libmpg123 handle on an open descriptor, decoding mono float32."""

    def __init__(self, lib: ctypes.CDLL, fd: int, *, down_sample: int) -> None:
        self._lib = lib
        self.down_sample = down_sample
        self._failure: str | None = None  # after some samples: raised by the next read
        err = ctypes.c_int()
        self._mh = lib.mpg123_new(None, ctypes.byref(err))
        if not self._mh:
            raise Mpg123Error(_plain(lib, err.value))
        try:
            # No resync past a broken stretch: skipping it would shorten the
            # song unseen, and every beat after it would come early (37-100 ms
            # after 20-100 kB of zeros). The decode stops; FFmpeg is tried next.
            flags = _MONO_MIX | _QUIET | _GAPLESS | _FORCE_FLOAT | _NO_RESYNC
            self._check(lib.mpg123_param(self._mh, _FLAGS, flags, 0.0))
            self._check(lib.mpg123_param(self._mh, _DOWN_SAMPLE, down_sample, 0.0))
            self._check(lib.cadence_open_fd(self._mh, fd))
            self.rate, channels, encoding = self._format()
        except BaseException:
            self.close()
            raise
        self.mono_float = channels == 1 and encoding == _ENC_FLOAT_32

    def _format(self) -> tuple[int, int, int]:
        """The stream's (rate, channels, encoding) now."""
        rate, channels, encoding = ctypes.c_long(), ctypes.c_int(), ctypes.c_int()
        self._check(
            self._lib.mpg123_getformat(
                self._mh, ctypes.byref(rate), ctypes.byref(channels), ctypes.byref(encoding)
            )
        )
        return rate.value, channels.value, encoding.value

    def _check(self, code: int) -> None:
        if code != _OK:
            raise Mpg123Error(self._message(code))

    def _message(self, code: int) -> str:
        message = self._lib.mpg123_strerror(self._mh) if self._mh else None
        text = (message or b"").decode(errors="replace") or _plain(self._lib, code)
        text = re.sub(r"[.!]?\s*\(code -?\d+\)$", "", text)  # libmpg123's own numbering
        if text.startswith("Lost track in the bytestream"):  # "... and did not attempt resync"
            return "a damaged stretch in the stream"
        return text[:1].lower() + text[1:]

    def length(self) -> int:
        """Samples at the output rate: exact from a LAME/Xing frame or after
        :meth:`scan`, else a guess from the bit rate."""
        n = self._lib.cadence_length(self._mh)
        return max(int(n), 0)

    def scan(self) -> None:
        """Count the stream's frames for an exact :meth:`length` (then back to its start)."""
        self._check(self._lib.mpg123_scan(self._mh))

    def seek(self, sample: int) -> None:
        if self._lib.cadence_seek(self._mh, sample, _SEEK_SET) < 0:
            self._check(-1)

    def read(self, blocksize: int) -> np.ndarray:
        """Up to `blocksize` samples; none at the end of the stream.

        A stream that breaks off after some samples gives them first; the
        failure is raised by the next read.
        """
        if self._failure is not None:
            raise Mpg123Error(self._failure)
        block = np.empty(blocksize, dtype=np.float32)
        done = ctypes.c_size_t()
        while True:
            code = self._lib.mpg123_read(
                self._mh, block.ctypes.data, block.nbytes, ctypes.byref(done)
            )
            if code != _NEW_FORMAT or done.value:
                break
            if failure := self._rate_change():
                raise Mpg123Error(failure)
        n = done.value // block.itemsize
        failure = None
        if code == _NEW_FORMAT:  # after these samples
            failure = self._rate_change()
        elif code not in (_OK, _DONE):
            failure = self._message(code)
        if failure is not None:
            if not n:
                raise Mpg123Error(failure)
            self._failure = failure
        return block[:n]

    def _rate_change(self) -> str | None:
        """What is wrong with a new format the stream turned to (None: nothing)."""
        rate = self._format()[0]
        if rate == self.rate:
            return None
        native_hz = self.rate << self.down_sample, rate << self.down_sample
        return f"the sample rate changes from {native_hz[0]} to {native_hz[1]} Hz"

    def close(self) -> None:
        # Run whole: a stop raised between the delete and the reset would
        # leave a freed handle that a second close frees again.
        with stops_deferred():
            if self._mh:
                self._lib.mpg123_close(self._mh)
                self._lib.mpg123_delete(self._mh)
                self._mh = None


def _plain(lib: ctypes.CDLL, code: int) -> str:
    message = lib.mpg123_plain_strerror(code)
    return (message or b"").decode(errors="replace") or f"libmpg123 error {code}"


def down_sample_for(rate_hz: int, *, min_rate_hz: int = MIN_RATE_HZ) -> int:
    """libmpg123's down-sampling (0 full rate, 1 half, 2 quarter) for a stream at
    `rate_hz`: the most that keeps the output at or above `min_rate_hz`.

    >>> [down_sample_for(r) for r in (48000, 44100, 32000, 22050, 16000, 8000)]
    [2, 2, 1, 1, 0, 0]
    """
    factor = 0
    while factor < 2 and rate_hz >> (factor + 1) >= min_rate_hz:
        factor += 1
    return factor


def blocks_mpg123(path: str, blocksize: int, start_s: float = 0.0):
    """Mono float32 blocks of an MP3 file, decoded by libmpg123 at a rate at or
    above :data:`MIN_RATE_HZ` (a block reader: yields the rate, the length in
    samples at that rate, then the blocks).

    Raises
    ------
    Mpg123Error
        If the library is missing, the file does not start like an MP3 stream,
        or libmpg123 cannot open or decode it; after some blocks, if the
        stream breaks off (the caller keeps what decoded).
    """
    lib = mpg123_library()
    if lib is None:
        raise Mpg123Error("libmpg123 (libmpg123-0) is not installed")
    frame = first_frame(path)
    if frame is None:
        raise Mpg123Error("does not start like an MP3 stream")
    fd = os.open(path, os.O_RDONLY)
    try:
        # The down-sampling is fixed when a stream opens: chosen from the
        # first frame's rate.
        stream = _Stream(lib, fd, down_sample=down_sample_for(frame.rate_hz))
        try:
            if not frame.gives_length:
                # The length would be a guess from the first frame's bit rate
                # (10 minutes for 36): libmpg123 counts the frames instead,
                # reading only their headers (a few ms a file), so a long
                # file's middle is found and its length told right.
                stream.scan()
            if not stream.mono_float:
                raise Mpg123Error("libmpg123 would not decode to mono float samples")
            yield stream.rate
            yield stream.length()
            if start_s > 0:
                stream.seek(int(start_s * stream.rate))
            while len(block := stream.read(blocksize)):
                yield block
        finally:
            stream.close()
    finally:
        os.close(fd)
