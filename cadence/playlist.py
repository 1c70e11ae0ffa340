"""Playlists: the fitting tracks as an M3U8 file, written atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cadence.core.tracks import TrackResult
from cadence.errors import CadenceError
from cadence.files import CONTROL_CHARS, atomic_path, starts_with, write_failure


def is_playlist(path: Path) -> bool:
    """Whether a file is an extended M3U playlist (what cadence writes)."""
    return starts_with(path, b"#EXTM3U", b"\xef\xbb\xbf#EXTM3U")


def write_playlist(tracks: Sequence[TrackResult], path: str) -> int:
    """Write an M3U8 playlist (UTF-8), ordered as given, atomically.

    Paths are written relative to the playlist's folder where possible.
    Tracks whose path cannot be written as one line of UTF-8 (names that are
    not UTF-8, or hold a line break) are left out and counted; control
    characters in titles become spaces.

    Returns
    -------
    int
        Tracks left out.
    """
    base = Path(path).resolve().parent
    lines = ["#EXTM3U"]
    left_out = 0
    for t in tracks:
        # The folders resolved (the relative path must hold from the playlist's
        # real folder), the file's own name kept: a symlinked track is listed
        # under its name, as in the table, not as its target.
        track = Path(os.path.abspath(t.path))
        p = Path(os.path.realpath(track.parent)) / track.name
        try:
            rel = os.path.relpath(p, base)
        except ValueError:  # another drive (Windows)
            rel = str(p)
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            left_out += 1
            continue
        if "\n" in rel or "\r" in rel:  # one entry a line
            left_out += 1
            continue
        title = " - ".join(x for x in (t.artist, t.title) if x) or p.stem
        title = " ".join(CONTROL_CHARS.sub(" ", title).split())
        seconds = round(t.duration_s) if t.duration_s else -1
        lines.append(f"#EXTINF:{seconds},{title} [{t.bpm:g} BPM]")
        lines.append(rel)
    try:
        with atomic_path(path) as tmp:
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        raise CadenceError(f"playlist {path}: cannot write ({write_failure(exc)})") from exc
    return left_out
