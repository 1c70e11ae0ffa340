"""Writing rendered sessions to audio files: WAV, FLAC, OGG/Vorbis or MP3.

:func:`write_session` streams a rendered session block by block (an hour-long
session never sits in memory) and replaces the target atomically, so an
interrupted render leaves no half-written file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from cadence.core.render import BeatRenderer
from cadence.core.session import Session
from cadence.errors import AudioFileError, ParameterError, stops_deferred
from cadence.files import atomic_path, check_output_folder, display_path, write_failure

#: Output formats by file extension: (soundfile format, subtype).
WRITE_FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".oga": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}
RENDER_BLOCK = 65536
#: Written into every rendered file's comment tag: how a later render knows
#: the file is one it may replace.
RENDER_COMMENT = "rendered by cadence metronome"
#: The comment of a song written with its beats clicked (``cadence beats --click``).
CLICK_TRACK_COMMENT = "rendered by cadence beats --click"
#: The comment of a song stretched to a cadence (``cadence stretch``).
STRETCH_COMMENT = "rendered by cadence stretch"
#: The comment of a session of songs (``cadence play -o``) and of its stems.
SESSION_MUSIC_COMMENT = "rendered by cadence play"
_OWN_COMMENTS = (RENDER_COMMENT, CLICK_TRACK_COMMENT, STRETCH_COMMENT, SESSION_MUSIC_COMMENT)


def is_rendered_session(path: Path) -> bool:
    """Whether an audio file was written by :func:`write_session` (its comment says so)."""
    return rendered_by(path) is not None


def rendered_by(path: str | os.PathLike) -> str | None:
    """The mark (one of the ``*_COMMENT`` constants) of a file cadence rendered, or None."""
    from cadence.audio.readers import libmpg123_silenced, sound_file

    try:
        with libmpg123_silenced(path), sound_file(path) as f:
            tags = f"{f.comment or ''} {f.software or ''}"
    except Exception:  # not audio soundfile reads: not ours
        return None
    return next((mark for mark in _OWN_COMMENTS if mark in tags), None)


#: Renders that are not songs to run to, as messages name them: a metronome, a
#: session (or its music stem: songs at a cadence), a song with its beats clicked.
#: (A song stretched by ``cadence stretch`` is a song.)
NOT_SONG_KINDS = {
    RENDER_COMMENT: "a metronome cadence rendered",
    SESSION_MUSIC_COMMENT: "a session cadence rendered (play -o)",
    CLICK_TRACK_COMMENT: "a song with its beats clicked (beats --click)",
}


def not_a_song_kind(path: str | os.PathLike) -> str | None:
    """What render of cadence's this file is (:data:`NOT_SONG_KINDS`), or None for a song."""
    return NOT_SONG_KINDS.get(rendered_by(path))


def check_not_endless(length: float | None, *, parameter: str = "output") -> None:
    """Refuse to write a session with no length (`length` None: no --duration,
    --beats or --repeat) to the file `parameter` names.

    Raises
    ------
    ParameterError
        Naming `parameter`, if `length` is None.
    """
    if length is None:
        raise ParameterError(
            parameter,
            "an endless session cannot be written to a file; give --duration, --beats or --repeat",
        )


def check_render_path(
    path: str | os.PathLike,
    *,
    parameter: str,
    force: bool = False,
    kind: str = "a session cadence rendered",
    sr: int | None = None,
) -> None:
    """Refuse, before any work, an output of an unknown format, an MP3 at a rate
    (`sr`, if given) it cannot carry, or an existing file that is not a session
    cadence rendered (without `force`)."""
    from cadence.files import check_replaceable

    if not os.fspath(path):
        raise ParameterError(parameter, "an empty file name; give the file to write, e.g. run.mp3")
    try:
        output_format(path)
    except ParameterError as exc:  # in the words of the option that named the file
        raise ParameterError(parameter, exc.detail) from None
    if sr is not None:
        check_rate(path, sr)
    check_replaceable(
        path,
        parameter=parameter,
        kind=kind,
        is_own_kind=is_rendered_session,
        force=force,
    )


def output_format(path: str | os.PathLike) -> tuple[str, str]:
    """The (format, subtype) to write `path` in, from its extension.

    Raises
    ------
    ParameterError
        For an extension not in :data:`WRITE_FORMATS`.
    """
    ext = Path(path).suffix.lower()
    if ext not in WRITE_FORMATS:
        name = Path(path).name
        if not ext and name.lower() in WRITE_FORMATS:  # ".wav" is a hidden file's whole name
            raise ParameterError(
                "output",
                f"{os.fspath(path)!r} is a name with no extension (a hidden file);"
                f" give one such as run{name.lower()}",
            )
        raise ParameterError(
            "output",
            f"{os.fspath(path)!r}: unknown format {ext or '(no extension)'}; "
            f"use {', '.join(sorted(WRITE_FORMATS))}",
        )
    return WRITE_FORMATS[ext]


def check_rate(path: str | os.PathLike, sr: int) -> None:
    """Refuse an MP3 `path` at a rate (Hz) MPEG audio cannot carry, naming ``sr``."""
    from cadence.audio.lame import LAME_RATES
    from cadence.core.synth import check_sr

    check_sr(sr)  # first: "or write .flac" must not be advised for a rate no file takes
    if output_format(path)[0] == "MP3" and sr not in LAME_RATES:
        rates = ", ".join(map(str, sorted(LAME_RATES)))
        raise ParameterError(
            "sr", f"an MP3 file carries {rates} Hz, not {sr}; choose one, or write .flac"
        )


def rate_for_output(path: str | os.PathLike, sr: int) -> int:
    """The rate (Hz) to write audio at `sr` into `path`: `sr`, or for an MP3 (which carries
    8-48 kHz) the lowest rate it carries at or above `sr` (nothing of the song is lost:
    38 kHz goes to 44.1, not down to 32), and above 48 kHz 44.1 or 48 kHz, whichever
    divides `sr`, else 48.

    >>> [rate_for_output("run.mp3", sr) for sr in (96000, 88200, 38000, 50000, 7000)]
    [48000, 44100, 44100, 48000, 8000]
    """
    from cadence.audio.lame import LAME_RATES

    if output_format(path)[0] != "MP3" or sr in LAME_RATES:
        return sr
    top = max(LAME_RATES)
    if sr > top:
        return next((r for r in (44100, 48000) if sr % r == 0), top)
    return min(r for r in LAME_RATES if r >= sr)


def fitted_for_output(
    samples: np.ndarray, sr: int, path: str | os.PathLike
) -> tuple[np.ndarray, int]:
    """A song's (n, channels) samples as `path` can hold them: at a rate it carries
    (:func:`rate_for_output`), and for an MP3 in at most 2 channels (more are mixed
    down to mono, as for stretching)."""
    if output_format(path)[0] == "MP3":
        from cadence.audio.readers import stereo_at_most

        samples = stereo_at_most(samples)
    out_sr = rate_for_output(path, sr)
    if out_sr == sr:
        return samples, sr
    import soxr

    return soxr.resample(samples, sr, out_sr, quality="HQ").astype(np.float32), out_sr


#: A WAV file's size fields are 32-bit: players refuse a larger file.
MAX_WAV_BYTES = 2**32 - 1


def _check_wav_size(samples: int, *, sr: int, channels: int = 1) -> None:
    """Refuse a WAV render its format cannot hold (16-bit samples, 44-byte header)."""
    if 44 + 2 * channels * samples <= MAX_WAV_BYTES:
        return
    most_h = (MAX_WAV_BYTES - 44) / (2 * channels * sr) / 3600
    raise ParameterError(
        "output",
        f"a WAV file holds at most 4 GiB, {most_h:.1f} h at {sr} Hz, and this session is "
        f"{samples / sr / 3600:.1f} h; write .flac instead (lossless, and far smaller)",
    )


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
        Unknown extension, endless session, bad channel count, a missing or
        read-only folder.
    AudioFileError
        If the file cannot be written (the message names it).
    """
    output_format(path)  # refuse an unknown extension first
    check_not_endless(renderer.total_samples)
    if channels not in (1, 2):
        raise ParameterError("channels", f"must be 1 or 2, got {channels}")
    target = Path(path)
    check_output_folder(target, parameter="output")
    block = np.zeros((RENDER_BLOCK, channels), dtype=np.float32)
    total = renderer.total_samples

    def rendered():
        written = 0
        while not renderer.finished:
            n = renderer.render(block)
            yield block[:n]  # written before the loop goes on
            written += n
            if progress is not None:
                progress(written, total)

    return _write_blocks(
        target,
        rendered(),
        sr=renderer.sr,
        channels=channels,
        comment=RENDER_COMMENT,
        total_samples=total,
    )


def write_blocks(
    target: Path, blocks: Iterable[np.ndarray], *, sr: int, channels: int, comment: str
) -> int:
    """Write (n, channels) float blocks into `target` atomically, marked with `comment`.

    Returns
    -------
    int
        Samples written per channel.

    Raises
    ------
    ParameterError
        Unknown extension, a missing or read-only folder.
    AudioFileError
        If the file cannot be written (the message names it).
    """
    output_format(target)
    check_output_folder(target, parameter="output")
    return _write_blocks(target, blocks, sr=sr, channels=channels, comment=comment)


def _write_blocks(
    target: Path,
    blocks: Iterable[np.ndarray],
    *,
    sr: int,
    channels: int,
    comment: str,
    total_samples: int | None = None,
) -> int:
    """Write (n, channels) blocks into `target` atomically, with `comment`; samples written."""
    return write_many(
        [target],
        ((b,) for b in blocks),
        sr=sr,
        channels=channels,
        comment=comment,
        total_samples=total_samples,
    )


def write_many(
    targets: list[Path],
    blocks: Iterable[tuple[np.ndarray, ...]],
    *,
    sr: int,
    channels: int,
    comment: str,
    total_samples: int | None = None,
) -> int:
    """Write several files at once, block by block: ``blocks`` yields one array per target.

    With `total_samples` (per channel) known, a WAV too long for its format
    is refused before any work.

    Every file is written to a temporary beside it and moved into place only
    when all are complete: an interrupted render leaves none half-written.

    Returns
    -------
    int
        Samples written per channel (to each file).

    Raises
    ------
    AudioFileError
        If a file cannot be written (the message names it).
    """
    import contextlib

    import soundfile as sf

    from cadence.audio.readers import closed_whole

    for target in targets:  # before any temporary is made
        check_rate(target, sr)
        if total_samples is not None and output_format(target)[0] == "WAV":
            _check_wav_size(total_samples, sr=sr, channels=channels)

    def failed(target: Path, exc: BaseException) -> AudioFileError:
        # Asked while the temporary still takes its room: a full disk shows as full.
        why = write_failure(exc, folder=target.parent)
        return AudioFileError(f"{display_path(target)}: cannot write ({why})")

    written = 0
    current = targets[0]
    try:
        with contextlib.ExitStack() as temps:
            tmps = []
            for target in targets:
                current = target
                tmps.append(temps.enter_context(atomic_path(target)))
            with contextlib.ExitStack() as files:
                handles = []
                for target, tmp in zip(targets, tmps, strict=True):
                    current = target
                    fmt, subtype = output_format(target)
                    try:
                        f = files.enter_context(
                            closed_whole(_open_for_writing(tmp, fmt, subtype, sr, channels))
                        )
                    except (sf.LibsndfileError, OSError) as exc:
                        raise failed(target, exc) from exc
                    f.comment = comment
                    handles.append((target, f))
                for arrays in blocks:
                    for (target, f), block in zip(handles, arrays, strict=True):
                        try:
                            f.write(block)
                        except (sf.LibsndfileError, OSError) as exc:
                            raise failed(target, exc) from exc
                    written += len(arrays[0])
                for target, f in handles:  # closing flushes: a full disk may show here
                    try:
                        with stops_deferred():
                            f.close()
                    except (sf.LibsndfileError, OSError) as exc:
                        raise failed(target, exc) from exc
    except OSError as exc:  # a temporary could not be made or moved into place
        raise failed(current, exc) from exc
    return written


def _open_for_writing(tmp: Path, fmt: str, subtype: str, sr: int, channels: int):
    """A writable audio file: MP3 through the system's LAME where it can, else soundfile."""
    import soundfile as sf

    if fmt == "MP3":
        from cadence.audio.lame import LameWriter, lame_library

        if lame_library() is not None:
            return LameWriter(tmp, samplerate=sr, channels=channels)
    # As bytes: soundfile cannot encode a name that is not valid UTF-8 (it raised
    # UnicodeEncodeError, a traceback), and libsndfile takes the bytes as they are.
    name = os.fsencode(tmp) if os.name == "posix" else str(tmp)
    return sf.SoundFile(name, "w", samplerate=sr, channels=channels, format=fmt, subtype=subtype)


def render_to_file(
    session: Session,
    path: str,
    *,
    sr: int,
    voice: str,
    volume_db: float,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Render a finite metronome session into `path` and say what was written.

    Parameters
    ----------
    session : Session
        A session with an end (a duration, a beat count or a repeated programme).
    path : str
        Output file; its extension picks the format (.wav, .flac, .ogg, .mp3).
    sr : int, keyword-only
        Sample rate, Hz.
    voice : str, keyword-only
        The beat's sound (see :data:`cadence.core.session.VOICES`).
    volume_db : float, keyword-only
        Level in dB (0 is loudest).
    progress : callable, optional
        Called as ``progress(samples_done, samples_total)`` after each block.

    Returns
    -------
    dict
        JSON-ready: ``output``, ``format``, ``sr``, ``duration_s``, ``count_in_s``,
        ``count_in_beats``, ``beats``.

    Raises
    ------
    ParameterError
        Unknown extension (before any work), endless session.
    AudioFileError
        If the file cannot be written.
    """
    output_format(path)  # refuse a bad extension before any work
    renderer = BeatRenderer(session, sr=sr, voice=voice, volume_db=volume_db)
    written = write_session(renderer, path, progress=progress)  # a WAV too long: refused
    return {
        "output": path,
        "format": "/".join(output_format(path)),
        "sr": sr,
        "duration_s": round(written / sr, 6),
        "count_in_s": round(renderer.count_in_samples / sr, 6),
        "count_in_beats": session.count_in,
        "beats": renderer.beats_played,
    }


def write_audio(
    samples: np.ndarray, path: str | os.PathLike, *, sr: int, comment: str = CLICK_TRACK_COMMENT
) -> None:
    """Write float samples, (n_samples, n_channels), to `path` atomically.

    The extension picks the format (as :func:`output_format`); the comment tag
    marks the file as cadence's own, so a later run may replace it.

    Raises
    ------
    ParameterError
        Unknown extension, a missing or read-only folder.
    AudioFileError
        If the file cannot be written (the message names it).
    """
    output_format(path)
    target = Path(path)
    check_output_folder(target, parameter="output")
    blocks = (samples[i : i + RENDER_BLOCK] for i in range(0, len(samples), RENDER_BLOCK))
    _write_blocks(
        target,
        blocks,
        sr=sr,
        channels=samples.shape[1],
        comment=comment,
        total_samples=len(samples),
    )
