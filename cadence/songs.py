"""Which songs a session plays: gathered from folders, playlists and files, planned, ordered.

A folder is scanned through the cache (as ``cadence scan``, so a scanned
library answers at once); a playlist's and the named files' songs are
analysed. Each song is planned at the cadence (:func:`cadence.music.plan_for`);
those that cannot be (no beat, too far from the cadence, unsure) are skipped
with their reason.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cadence.core.tracks import TrackResult
from cadence.errors import CadenceError, ParameterError

#: ``--order`` choices.
ORDERS = ("fit", "tempo", "shuffle")
#: Songs named in the message when none fits.
NEAREST_SHOWN = 3
PLAYLIST_SUFFIXES = (".m3u", ".m3u8")


class NoSongToPlayError(CadenceError):
    """No song can be played; ``skipped`` says why of each one found."""

    def __init__(self, message: str, skipped: Skipped) -> None:
        super().__init__(message)
        self.skipped = skipped


@dataclass
class Skipped:
    """The songs left out, and why."""

    reasons: list[tuple[str, str]] = field(default_factory=list)
    #: Songs of scanned folders too far from the cadence (counted, not listed).
    too_far_in_folders: int = 0


def read_playlist(path: str) -> list[str]:
    """The file paths an M3U/M3U8 playlist lists (relative ones from its folder).

    Raises
    ------
    CadenceError
        If the playlist cannot be read.
    """
    from cadence.files import display_path

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise CadenceError(f"{display_path(path)}: cannot read the playlist ({why})") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16, as some Windows tools write
        text = raw.decode("utf-16", errors="replace")
    else:
        text = raw.decode("utf-8-sig", errors="replace")
    base = Path(path).parent
    out = []
    for line in text.replace("\0", "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("file://"):
            from urllib.parse import unquote, urlparse

            line = unquote(urlparse(line).path)
        elif "://" in line:
            continue  # a stream URL: not a file to play
        out.append(os.path.normpath(line if os.path.isabs(line) else str(base / line)))
    return out


def gather_tracks(
    sources: list[str],
    *,
    cache_path: str | None = None,
    use_cache: bool = True,
    jobs: int = 1,
    on_problem: Callable[[str, str], None],
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[TrackResult], set[str]]:
    """Every track the sources name, analysed (folders through the cache).

    Returns
    -------
    tracks : list of TrackResult
        Failed ones included (``error`` set).
    from_folders : set of str
        The paths that came from scanning a folder.
    """
    from cadence.analysis import analyze_file
    from cadence.library import scan_folder

    tracks: list[TrackResult] = []
    from_folders: set[str] = set()
    files: list[str] = []
    for source in sources:
        if os.path.isdir(source):
            result = scan_folder(
                source,
                cache_path=cache_path,
                use_cache=use_cache,
                jobs=jobs,
                on_problem=on_problem,
                on_progress=on_progress,
            )
            if result.interrupted:  # Ctrl-C or a signal during the scan: stop here too
                from cadence.errors import raise_if_stopped

                raise_if_stopped()
                raise KeyboardInterrupt
            tracks += result.tracks
            from_folders |= {t.path for t in result.tracks}
        elif source.lower().endswith(PLAYLIST_SUFFIXES) and os.path.isfile(source):
            files += read_playlist(source)
        elif not os.path.lexists(source):
            from cadence.files import not_a_file_reason

            # A source may have been meant as a folder.
            reason = not_a_file_reason(source, missing="no such file or folder")
            tracks.append(TrackResult(path=source, error=reason))
        else:
            files.append(source)
    for f in files:
        track = analyze_file(f)
        if track.note and track.beats:  # (a file that failed has no beats)
            # A caveat a folder's scan reports (a cut file, a short one); the
            # songs left out say why when they are chosen.
            on_problem(track.path, track.note)
        tracks.append(track)
    return tracks, from_folders


def choose_songs(
    tracks: list[TrackResult],
    spm: float,
    *,
    max_stretch_pct: float,
    min_confidence: float = 0.0,
    order: str = "fit",
    seed: int | None = None,
    from_folders: set[str] = frozenset(),
) -> tuple[list, Skipped]:
    """The tracks that can be played at `spm`, planned and ordered; the others with why.

    Raises
    ------
    CadenceError
        If no track fits: the message names the nearest and the option to widen.
    ParameterError
        For an unknown `order`.
    """
    from cadence.audio.write import not_a_song_kind
    from cadence.core.songfit import fit_to_cadence
    from cadence.mixer import SessionSong
    from cadence.music import plan_for

    if order not in ORDERS:
        raise ParameterError("order", f"must be one of {', '.join(ORDERS)}, got {order!r}")
    if seed is not None and order != "shuffle":
        raise ParameterError("seed", "only orders a shuffle: give --order shuffle too")
    songs, skipped, near = [], Skipped(), []
    seen = set()
    for t in tracks:
        key = os.path.realpath(t.path)
        if key in seen:
            continue
        seen.add(key)
        if t.error:
            if t.path not in from_folders:  # a scan reported its own failures
                skipped.reasons.append((t.path, t.error))
            continue
        if not t.beats or t.period_s is None:
            skipped.reasons.append((t.path, t.note or "no steady beat found"))
            continue
        if t.confidence is not None and t.confidence < min_confidence:
            skipped.reasons.append(
                (t.path, f"tempo unsure (confidence {t.confidence:.2f} < {min_confidence:g})")
            )
            continue
        fit = fit_to_cadence(60.0 / t.period_s, spm)
        if abs(fit.stretch_pct) > max_stretch_pct + 1e-9:
            near.append((abs(fit.stretch_pct), fit.stretch_pct, t.path))
            if t.path in from_folders:
                skipped.too_far_in_folders += 1
            else:
                limit = f"--max-stretch {max_stretch_pct:g} %"
                why = f"needs {fit.stretch_pct:+.1f} %, more than {limit}"
                skipped.reasons.append((t.path, why))
            continue
        kind = not_a_song_kind(t.path) if t.path in from_folders else None
        if kind:
            # A session rendered into the folder played would fit its own cadence exactly.
            skipped.reasons.append((t.path, f"{kind}, not a song"))
            continue
        songs.append(SessionSong(t, plan_for(t, spm, max_stretch_pct=max_stretch_pct)))
    if not songs:
        raise NoSongToPlayError(
            _none_fit(spm, max_stretch_pct, near, skipped, found=len(seen)), skipped
        )
    if order == "fit":
        songs.sort(key=lambda s: abs(s.plan.fit.stretch_pct))
    elif order == "tempo":
        songs.sort(key=lambda s: 60.0 / s.result.period_s * s.plan.fit.steps_per_beat)
    else:
        random.Random(seed).shuffle(songs)
    return songs, skipped


def _none_fit(
    spm: float, max_stretch_pct: float, near: list, skipped: Skipped, *, found: int
) -> str:
    from cadence.files import display_path

    if found == 0:
        return "no music found in what was given (no audio files in the folders or playlists)"
    if not near:
        which = "the one file given could not" if found == 1 else f"none of the {found} files could"
        return f"no song to play at {spm:g} spm: {which} be used (each one's reason is above)"
    near.sort()
    shown = ", ".join(f"{display_path(p)} ({pct:+.1f} %)" for _, pct, p in near[:NEAREST_SHOWN])
    from cadence.core.songfit import wider_stretch_hint

    hint = wider_stretch_hint(near[0][0], outcome="take the first")
    return (
        f"no song fits {spm:g} spm within --max-stretch {max_stretch_pct:g} %; the nearest: "
        f"{shown}; {hint} (or try another --spm)"
    )
