"""Tag edge: reads and (only when asked) writes BPM tags with mutagen.

Reading opens the file read-only. Writing never touches the original until
the new version is complete: the file is copied beside itself, the copy is
tagged and flushed, and the copy replaces the original in one rename. The
copy keeps the original's owner and mode; a symlink keeps pointing at the
tagged file; a file with other hard links is left alone (a rename would
split it from them).
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

from cadence.core.calc import round_half_up
from cadence.errors import AudioFileError
from cadence.files import locked_temp

#: ID3 frames (MP3 without easy keys, WAV, AIFF) for the keys read and written.
_ID3_FRAMES = {"title": "TIT2", "artist": "TPE1", "bpm": "TBPM"}


def _open(path: str) -> Any:
    import mutagen

    return mutagen.File(path, easy=True)


def _is_id3(tags: Any) -> bool:
    from mutagen.id3 import ID3

    # WAV and AIFF carry plain ID3 even when opened "easy".
    return isinstance(tags, ID3)


def _first(tags: Any, key: str) -> str | None:
    try:
        if _is_id3(tags):
            frame = tags.get(_ID3_FRAMES[key])
            values = frame.text if frame is not None else None
        else:
            values = tags.get(key)
    except Exception:  # odd tag contents; tags are optional
        return None
    if not values:
        return None
    value = values[0] if isinstance(values, list) else values
    return str(value).strip() or None


#: A tag's leading number: "128", "128.5", "128,5", "128 BPM", "128bpm".
_LEADING_NUMBER = re.compile(r"\s*(\d+(?:[.,]\d+)?)")


def _bpm_value(text: str | None) -> float | None:
    if text is None:
        return None
    m = _LEADING_NUMBER.match(text)
    if m is None:
        return None
    value = float(m.group(1).replace(",", "."))
    return value if 0 < value < 1000 else None


def bpm_tag_value(bpm: float) -> int:
    """The whole number written as a BPM tag: `bpm` rounded half up (84.5 -> 85).

    Examples
    --------
    >>> bpm_tag_value(84.5), bpm_tag_value(87.5), bpm_tag_value(127.4)
    (85, 88, 127)
    """
    return int(round_half_up(bpm))


def read_tags(path: str) -> dict[str, Any]:
    """Title, artist and BPM tag of a file (None for each it does not have).

    Returns
    -------
    dict
        Keys ``title``, ``artist`` (str or None) and ``tag_bpm`` (float or None).
    """
    out: dict[str, Any] = {"title": None, "artist": None, "tag_bpm": None}
    try:
        f = _open(path)
    except Exception:  # mutagen raises many types for odd files; tags are optional
        return out
    if f is None or f.tags is None:
        return out
    out["title"] = _first(f.tags, "title")
    out["artist"] = _first(f.tags, "artist")
    out["tag_bpm"] = _bpm_value(_first(f.tags, "bpm"))
    return out


def write_bpm_tag(path: str, bpm: float) -> bool:
    """Write `bpm` (a whole number, rounded half up, as most players expect) into the file's tags.

    Atomic: the original is replaced only by a fully written, tagged copy
    with the same owner and mode. A symlink is followed (the link stays). A
    file whose tag already holds that number is not rewritten.

    Returns
    -------
    bool
        True if the file was rewritten, False if its tag already held `bpm`.

    Raises
    ------
    AudioFileError
        If the format has no BPM tag mutagen can write, the file has other
        hard links, or it cannot be written; the original is left as it was.
    """
    value = str(bpm_tag_value(bpm))
    target = os.path.realpath(path)
    if read_tags(target)["tag_bpm"] == float(value):
        return False
    try:
        st = os.stat(target)
        if st.st_nlink > 1:
            raise AudioFileError(
                f"{path}: has {st.st_nlink - 1} other hard link(s); tagging would split them, "
                "left as it was"
            )
        if not os.access(target, os.W_OK):
            raise AudioFileError(f"{path}: file is read-only, left as it was")
        with locked_temp(target, suffix=".tagging") as tmp:
            shutil.copy2(target, tmp)
            if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.chown(tmp, st.st_uid, st.st_gid)
                except PermissionError:
                    raise AudioFileError(
                        f"{path}: cannot keep the file's owner, left as it was"
                    ) from None
            _set_bpm(str(tmp), value, shown=path)
            if read_tags(str(tmp))["tag_bpm"] != float(value):
                # Some files hide a tag that is written (a WAV with padding after its
                # audio): writing again would add another copy on every run.
                raise AudioFileError(
                    f"{path}: a tag written into this file cannot be read back "
                    "(odd padding or chunks in it?), left as it was"
                )
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
    except AudioFileError:
        raise
    except OSError as exc:
        raise AudioFileError(
            f"{path}: cannot write the BPM tag ({exc.strerror or exc}), left as it was"
        ) from exc
    except Exception as exc:  # mutagen's own errors
        raise AudioFileError(f"{path}: cannot write the BPM tag ({exc}), left as it was") from exc
    return True


def _set_bpm(path: str, value: str, *, shown: str) -> None:
    """Set the BPM tag of `path`; messages name the user's file, `shown`."""
    f = _open(path)
    if f is None:
        raise AudioFileError(f"{shown}: no tag format known for this file")
    if f.tags is None:
        f.add_tags()
    try:
        if _is_id3(f.tags):
            from mutagen.id3 import TBPM

            f.tags.add(TBPM(encoding=3, text=[value]))
        else:
            f.tags["bpm"] = [value]
    except (KeyError, ValueError, TypeError) as exc:
        raise AudioFileError(f"{shown}: this format has no BPM tag ({exc})") from exc
    f.save()
