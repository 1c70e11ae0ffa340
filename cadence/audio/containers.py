"""What a file's container says of its own end, from its headers alone (no decoding).

Decoders report the length of a cut WAV or AIFF as what is left of it, and
an Ogg stream's from its last page, so a truncated download reads as a
shorter song. Two checks tell it: the length a WAV/AIFF header declares
(:func:`declared_frames`), and whether an Ogg file ends with every stream's
last page (:func:`ogg_ends_unfinished`). Files are opened read-only; a
header that cannot be read gives no answer (None / False), never an error.
"""

from __future__ import annotations

import os
import struct

#: Data sizes that writers which cannot seek back put in a WAV header (unknown length).
_UNKNOWN_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF)
#: Chunks walked at most before giving up on a header.
_MAX_CHUNKS = 1000
#: Ogg page header: "OggS", version, flags, granule, serial, sequence, CRC, segments.
_OGG_HEADER = struct.Struct("<4sBBqIIIB")
_OGG_BOS = 0x02
_OGG_EOS = 0x04


def declared_frames(path: str | os.PathLike) -> int | None:
    """The number of sample frames a WAV or AIFF file's header declares.

    Parameters
    ----------
    path : path-like
        Any file.

    Returns
    -------
    int or None
        The frames the header declares (the data chunk's size over the
        frame size for RIFF/WAVE; the COMM chunk's count for AIFF/AIFC);
        None for other files, or a header that leaves the length open.

    Examples
    --------
    >>> declared_frames(__file__) is None
    True
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
                return _wav_frames(fh)
            if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
                return _aiff_frames(fh)
    except OSError:
        pass
    return None


def _chunks(fh, *, endian: str):
    """(id, size, offset of its body) of each chunk after a RIFF/FORM header."""
    at = 12
    for _ in range(_MAX_CHUNKS):
        fh.seek(at)
        head = fh.read(8)
        if len(head) < 8:
            return
        chunk_id, size = struct.unpack(endian + "4sI", head)
        yield chunk_id, size, at + 8
        at += 8 + size + (size & 1)  # chunks are padded to an even length


def _wav_frames(fh) -> int | None:
    frame_bytes = None
    for chunk_id, size, body in _chunks(fh, endian="<"):
        if chunk_id == b"fmt " and size >= 16:
            fh.seek(body + 12)
            (frame_bytes,) = struct.unpack("<H", fh.read(2))
        elif chunk_id == b"data":
            if not frame_bytes or size in _UNKNOWN_SIZES:
                return None
            return size // frame_bytes
    return None


def _aiff_frames(fh) -> int | None:
    for chunk_id, size, body in _chunks(fh, endian=">"):
        if chunk_id == b"COMM" and size >= 18:
            fh.seek(body + 2)
            (frames,) = struct.unpack(">I", fh.read(4))
            return frames or None
    return None


def ogg_ends_unfinished(path: str | os.PathLike) -> bool:
    """Whether an Ogg file stops before its end: part-way through a page, or
    before the last page (end-of-stream flag) of a stream it began.

    Walks the page headers (a few milliseconds for a song). A file that is
    not Ogg, or whose pages lose their sync part-way (junk appended, damage),
    gives False: it cannot be told cut.

    Parameters
    ----------
    path : path-like
        Any file.

    Returns
    -------
    bool

    Examples
    --------
    >>> ogg_ends_unfinished(__file__)
    False
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            open_streams: set[int] = set()
            at = 0
            while at < size:
                fh.seek(at)
                head = fh.read(_OGG_HEADER.size)
                if len(head) < _OGG_HEADER.size:
                    return at > 0 and b"OggS".startswith(head[:4])  # cut in a page header
                magic, version, flags, _, serial, _, _, n_segments = _OGG_HEADER.unpack(head)
                if magic != b"OggS" or version != 0:
                    return False
                lacing = fh.read(n_segments)
                end = at + _OGG_HEADER.size + n_segments + sum(lacing)
                if len(lacing) < n_segments or end > size:
                    return True  # the last page is cut
                if flags & _OGG_BOS:
                    open_streams.add(serial)
                if flags & _OGG_EOS:
                    open_streams.discard(serial)
                at = end
            return bool(open_streams)
    except OSError:
        return False
