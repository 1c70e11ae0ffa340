"""Tag edge: reads and (only when asked) writes BPM tags with mutagen.

Reading opens the file read-only. Writing never touches the original until
the new version is complete: the file is copied beside itself, the copy is
tagged and flushed, and the copy replaces the original in one rename.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cadence.errors import AudioFileError


def read_tags(path: str) -> dict[str, Any]:
    """Title, artist and BPM tag of a file ({} if it has none or cannot be read).

    Returns
    -------
    dict
        Keys ``title``, ``artist`` (str or None) and ``tag_bpm`` (float or None).
    """
    import mutagen

    out: dict[str, Any] = {"title": None, "artist": None, "tag_bpm": None}
    try:
        f = mutagen.File(path, easy=True)
    except Exception:  # mutagen raises many types for odd files; tags are optional
        return out
    if f is None or f.tags is None:
        return out
    tags = f.tags

    def first(key: str) -> str | None:
        try:
            values = tags.get(key)
        except Exception:
            return None
        if not values:
            return None
        value = values[0] if isinstance(values, list) else values
        return str(value).strip() or None

    out["title"] = first("title")
    out["artist"] = first("artist")
    bpm = first("bpm")
    if bpm is not None:
        try:
            value = float(bpm.replace(",", "."))
            out["tag_bpm"] = value if 0 < value < 1000 else None
        except ValueError:
            pass
    return out


def write_bpm_tag(path: str, bpm: float) -> None:
    """Write `bpm` (rounded to a whole number, as most players expect) into the file's tags.

    Atomic: the original is replaced only by a fully written, tagged copy.

    Raises
    ------
    AudioFileError
        If the format has no BPM tag mutagen can write, or the file cannot be
        written; the original is left as it was.
    """
    import mutagen

    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tagging", dir=target.parent)
    os.close(fd)
    try:
        shutil.copy2(target, tmp)
        f = mutagen.File(tmp, easy=True)
        if f is None:
            raise AudioFileError(f"{path}: no tag format known for this file")
        if f.tags is None:
            f.add_tags()
        try:
            f.tags["bpm"] = [str(round(bpm))]
        except (KeyError, ValueError, TypeError) as exc:
            raise AudioFileError(f"{path}: this format has no BPM tag ({exc})") from exc
        f.save()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except AudioFileError:
        raise
    except Exception as exc:
        raise AudioFileError(f"{path}: cannot write the BPM tag ({exc})") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
