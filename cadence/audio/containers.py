"""What a file's container says of its own end, from its headers alone (no decoding).

Decoders report the length of a cut WAV or AIFF as what is left of it, and
an Ogg stream's from its last page, so a truncated download reads as a
shorter song. Two checks tell it: the length a WAV/AIFF header (or a FLAC
stream's STREAMINFO) declares (:func:`declared_frames`), and whether an Ogg
file ends with every stream's last page (:func:`ogg_ends_unfinished`);
:func:`ends_early_note` puts them into words. An MP4 cut before its index
cannot be decoded at all: :func:`mp4_cut_before_index` tells it. Files are
opened read-only; a header that cannot be read gives no answer (None /
False), never an error.
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
    """The number of sample frames a WAV, AIFF or FLAC file's header declares.

    Parameters
    ----------
    path : path-like
        Any file.

    Returns
    -------
    int or None
        The frames the header declares (the data chunk's size over the
        frame size for RIFF/WAVE; the COMM chunk's count for AIFF/AIFC;
        STREAMINFO's total samples for FLAC); None for other files, or a
        header that leaves the length open.

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
            if head[:4] == b"fLaC" and len(head) == 12 and head[4] & 0x7F == 0:
                info = head[8:] + fh.read(14)  # STREAMINFO, the first block
                if len(info) == 18:
                    return int.from_bytes(info[10:], "big") & (1 << 36) - 1 or None
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


def mp4_cut_before_index(path: str | os.PathLike) -> bool:
    """Whether an MP4/M4A file stops before its index: it starts with an
    ``ftyp`` box, has no ``moov`` box (where the samples are, which writers
    that do not seek put at the end), and a box runs past the file's end.

    No decoder can read such a file (FFmpeg: "invalid data"), though its
    audio is there: a download cut short, not a file of another kind. Any
    other file, or one that cannot be read, gives False.

    Examples
    --------
    >>> mp4_cut_before_index("no-such-file.m4a")
    False
    """
    try:
        with open(path, "rb") as fh:
            return _boxes_end_before_moov(fh, os.fstat(fh.fileno()).st_size)
    except OSError:
        return False


def _boxes_end_before_moov(fh, size: int) -> bool:
    """Walk the top-level boxes of `fh` (`size` bytes) for :func:`mp4_cut_before_index`."""
    at, seen = 0, []
    for _ in range(_MAX_CHUNKS):
        if at >= size:
            return False  # whole: its boxes end with the file
        fh.seek(at)
        head = fh.read(16)
        if len(head) < 8:
            return bool(seen)  # cut in a box header
        length, kind = struct.unpack(">I4s", head[:8])
        if length == 1 and len(head) == 16:
            length = struct.unpack(">Q", head[8:])[0]
        if (not seen and kind != b"ftyp") or not all(32 <= c < 127 for c in kind):
            return False  # not an MP4, or junk where a box should start
        if kind == b"moov":
            return False
        seen.append(kind)
        if length == 0:  # to the end of the file: no room for an index after it
            return True
        if length < 8:
            return False
        if at + length > size:
            return True
        at += length
    return False


def length_beyond(
    path: str, read_to: float, decoder_frames: int, source_sr: int, decoder_name: str
) -> int | None:
    """The length (frames) a file declares as its own, when it is well past where it was read to.

    Only a length that is the file's own counts: a WAV/AIFF/FLAC header's
    (decoders give what is left of a cut WAV or AIFF), libsndfile's, and
    libmpg123's from a LAME/Xing frame. FFmpeg's length of an MP3, or
    libmpg123's without such a frame, is a guess from the bit rate.

    Parameters
    ----------
    path : str
        The file.
    read_to : float
        Frames decoded from its start (at `source_sr`).
    decoder_frames : int
        The decoder's length of it (frames).
    source_sr : int
        The decoder's sample rate (Hz).
    decoder_name : str
        "soundfile", "mpg123" or another (FFmpeg's).

    Returns
    -------
    int or None
        None when the length is not the file's own, or within a second
        (or 2 %) of `read_to`.
    """
    own = declared_frames(path)
    if own is not None:
        length, trusted = own, True
    elif decoder_name in ("soundfile", "mpg123"):
        length, trusted = decoder_frames, decoder_name == "soundfile"
    else:
        return None
    if length - read_to <= max(1.0 * source_sr, 0.02 * length):
        return None
    from cadence.audio.mpg123 import length_in_header

    # libmpg123's length is the file's own only with a LAME/Xing frame:
    # parsed here, for a file that ends short only.
    return length if trusted or length_in_header(path) else None


def ends_early_note(
    path: str, read_to: float, decoder_frames: int, source_sr: int, decoder_name: str
) -> str | None:
    """The note for a file that ended, without an error, well before its own end (truncated).

    Takes the parameters of :func:`length_beyond`. An Ogg file, whichever
    decoder read it, is cut when it stops without the last page of a stream.

    Returns
    -------
    str or None
    """
    length = length_beyond(path, read_to, decoder_frames, source_sr, decoder_name)
    if length:
        return (
            f"file ends early: {read_to / source_sr:.1f} s of the "
            f"{length / source_sr:.1f} s it declares (truncated?)"
        )
    if ogg_ends_unfinished(path):
        return (
            f"file ends early: the stream stops at {read_to / source_sr:.1f} s "
            "without its last page (truncated?)"
        )
    return None
