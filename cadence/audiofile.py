"""Audio-file edge: the only module that reads or writes audio files.

Writing: :func:`write_session` streams a rendered session into WAV, FLAC,
OGG/Vorbis or MP3 block by block (an hour-long session never sits in memory)
and replaces the target atomically, so an interrupted render leaves no
half-written file. Reading (decoding music for tempo analysis) joins this
module with the analyzer.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cadence.core.render import BeatRenderer
from cadence.errors import AudioFileError, ParameterError

#: Output formats by file extension: (soundfile format, subtype).
WRITE_FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".oga": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}
RENDER_BLOCK = 65536


def output_format(path: str | os.PathLike) -> tuple[str, str]:
    """The (format, subtype) to write `path` in, from its extension.

    Raises
    ------
    ParameterError
        For an extension not in :data:`WRITE_FORMATS`.
    """
    ext = Path(path).suffix.lower()
    if ext not in WRITE_FORMATS:
        raise ParameterError(
            "output",
            f"{os.fspath(path)!r}: unknown format {ext or '(no extension)'}; "
            f"use {', '.join(sorted(WRITE_FORMATS))}",
        )
    return WRITE_FORMATS[ext]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success it replaces `path` atomically.

    On any error or interruption the temporary file is removed and `path` is
    left as it was.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_session(
    renderer: BeatRenderer,
    path: str | os.PathLike,
    *,
    channels: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Render a finite session into an audio file.

    Parameters
    ----------
    renderer : BeatRenderer
        A fresh renderer of a finite session.
    path : path-like
        Output file; its extension picks the format (.wav, .flac, .ogg, .mp3).
    channels : int, keyword-only
        1 (mono) or 2 (the same signal on both).
    progress : callable, optional
        Called as ``progress(samples_done, samples_total)`` after each block.

    Returns
    -------
    int
        Samples written per channel.

    Raises
    ------
    ParameterError
        Unknown extension, endless session, bad channel count.
    AudioFileError
        If the file cannot be written (the message names it).
    """
    import soundfile as sf

    fmt, subtype = output_format(path)
    if renderer.total_samples is None:
        raise ParameterError(
            "output", "an endless session cannot be written to a file; give --duration or --repeat"
        )
    if channels not in (1, 2):
        raise ParameterError("channels", f"must be 1 or 2, got {channels}")
    target = Path(path)
    if not target.parent.is_dir():
        raise AudioFileError(
            f"{os.fspath(path)}: folder {os.fspath(target.parent)!r} does not exist"
        )
    block = np.zeros((RENDER_BLOCK, channels), dtype=np.float32)
    total = renderer.total_samples
    written = 0
    try:
        with (
            atomic_path(target) as tmp,
            sf.SoundFile(
                tmp, "w", samplerate=renderer.sr, channels=channels, format=fmt, subtype=subtype
            ) as f,
        ):
            while not renderer.finished:
                n = renderer.render(block)
                f.write(block[:n])
                written += n
                if progress is not None:
                    progress(written, total)
    except (sf.LibsndfileError, OSError) as exc:
        raise AudioFileError(f"{os.fspath(path)}: cannot write: {exc}") from exc
    return written
