"""Music-library edge: finds audio files, analyses them (in parallel, cached),
and writes playlists.

Batch rules: every file is opened read-only; a file that cannot be analysed
gets one line saying why and the scan goes on; results are cached as soon as
they are known; Ctrl-C stops cleanly and keeps what was analysed.
"""

from __future__ import annotations

import os
import signal
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadence.audiofile import AUDIO_EXTENSIONS, MAX_ANALYSIS_S
from cadence.cache import TrackCache
from cadence.core.matching import match_tempo, tempo_alternatives
from cadence.errors import AudioFileError, CadenceError
from cadence.files import atomic_path

#: Bump when the analysis changes: cached results of other versions are redone.
ANALYZER_VERSION = "tempo-6"

Problem = Callable[[str, str], None]


def display_path(path: str) -> str:
    """A path as printable text (undecodable bytes become U+FFFD)."""
    return os.fsencode(path).decode("utf-8", errors="replace")


def analyze_file(path: str, *, max_analysis_s: float = MAX_ANALYSIS_S) -> dict[str, Any]:
    """Tempo, confidence, stability and tags of one file, as a JSON-ready dict.

    Never raises for a bad file: the dict's ``error`` says what went wrong
    (with ``bpm`` None). Reads only.
    """
    from cadence.audiofile import onset_envelope
    from cadence.core.tempo import estimate_tempo
    from cadence.tags import read_tags

    result: dict[str, Any] = {
        "path": path,
        "bpm": None,
        "confidence": 0.0,
        "stability": None,
        "alternatives": None,
        "duration_s": None,
        "analysed_s": None,
        "error": None,
    }
    try:
        env = onset_envelope(path, max_analysis_s=max_analysis_s)
        est = estimate_tempo(env.bands, frame_rate_hz=env.frame_rate_hz)
        result.update(
            bpm=est.bpm,
            confidence=est.confidence,
            stability=est.stability,
            alternatives=tempo_alternatives(est.bpm) if est.bpm else None,
            duration_s=round(env.duration_s, 2),
            analysed_s=round(env.analysed_s, 2),
        )
        if est.bpm is None:
            result["note"] = "no beat found (silence, or too short)"
        elif env.analysed_s < 10:
            result["note"] = f"only {env.analysed_s:.1f} s of audio: low confidence"
    except AudioFileError as exc:
        result["error"] = str(exc).split(": ", 1)[-1] if ": " in str(exc) else str(exc)
    except MemoryError:
        result["error"] = "out of memory while decoding"
    result.update(read_tags(path))
    return result


def find_audio_files(root: str, *, on_problem: Problem) -> Iterator[str]:
    """Audio files below `root`, recursively, in a stable order.

    Follows symlinks to folders once (a loop is reported, not followed), skips
    hidden files and folders, and reports unreadable folders.
    """
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
        except OSError as exc:
            on_problem(folder, f"cannot open folder ({exc.strerror})")
            continue
        if (st.st_dev, st.st_ino) in seen:
            on_problem(folder, "symlink loop: folder already scanned, skipped")
            continue
        seen.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            on_problem(folder, f"cannot list folder ({exc.strerror})")
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    subfolders.append(entry.path)
                elif Path(entry.name).suffix.lower() in AUDIO_EXTENSIONS:
                    if entry.is_file(follow_symlinks=True):
                        yield entry.path
                    elif entry.is_symlink():
                        on_problem(entry.path, "broken symlink")
            except OSError as exc:
                on_problem(entry.path, f"cannot read ({exc.strerror})")
        stack.extend(reversed(subfolders))


@dataclass
class ScanResult:
    """What a scan found."""

    tracks: list[dict[str, Any]] = field(default_factory=list)
    analysed: int = 0
    cached: int = 0
    problems: int = 0
    interrupted: bool = False
    elapsed_s: float = 0.0


def _ignore_sigint() -> None:
    # Workers leave Ctrl-C to the parent, which stops the scan cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def scan_library(
    root: str,
    *,
    cache: TrackCache | None,
    jobs: int = 1,
    on_problem: Problem,
    on_progress: Callable[[int, int], None] | None = None,
    max_analysis_s: float = MAX_ANALYSIS_S,
) -> ScanResult:
    """Analyse every audio file below `root`, using and filling the cache.

    Parameters
    ----------
    root : str
        Folder to scan.
    cache : TrackCache or None
        Where results are looked up and stored (None: no cache).
    jobs : int, keyword-only
        Worker processes (1 analyses in this process).
    on_problem : callable
        Called as ``on_problem(path, reason)`` for each file or folder that fails.
    on_progress : callable, optional
        Called as ``on_progress(done, total)``.

    Raises
    ------
    CadenceError
        If `root` is missing or not a readable folder (exit code 1).
    """
    if not os.path.isdir(root):
        raise CadenceError(f"{display_path(root)}: no such folder")
    if not os.access(root, os.R_OK | os.X_OK):
        raise CadenceError(f"{display_path(root)}: folder not readable")
    started = time.perf_counter()
    out = ScanResult()
    files = list(find_audio_files(root, on_problem=on_problem))
    known = cache.load() if cache is not None else {}
    todo: list[tuple[str, int, int]] = []
    for path in files:
        try:
            st = os.stat(path)
        except OSError as exc:
            on_problem(path, f"cannot read ({exc.strerror})")
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        hit = known.get(os.fsencode(path))
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            result = dict(hit[2], path=path)
            out.tracks.append(result)
            out.cached += 1
        else:
            todo.append((path, st.st_size, st.st_mtime_ns))
    total = len(out.tracks) + len(todo)
    if on_progress:
        on_progress(len(out.tracks), total)

    def record(path: str, size: int, mtime_ns: int, result: dict[str, Any]) -> None:
        out.tracks.append(result)
        out.analysed += 1
        if result["error"]:
            out.problems += 1
            on_problem(path, result["error"])
        elif cache is not None:
            # Failures are not cached: a file being copied in is retried next time.
            cache.put(path, size=size, mtime_ns=mtime_ns, result=result)
        if on_progress:
            on_progress(len(out.tracks), total)

    try:
        if jobs <= 1 or len(todo) <= 1:
            for path, size, mtime_ns in todo:
                record(path, size, mtime_ns, analyze_file(path, max_analysis_s=max_analysis_s))
        else:
            _scan_parallel(todo, jobs=jobs, record=record, max_analysis_s=max_analysis_s)
    except KeyboardInterrupt:
        out.interrupted = True
    out.tracks.sort(key=lambda r: os.fsencode(r["path"]))
    out.elapsed_s = time.perf_counter() - started
    return out


def _scan_parallel(
    todo: list[tuple[str, int, int]],
    *,
    jobs: int,
    record: Callable[[str, int, int, dict[str, Any]], None],
    max_analysis_s: float,
) -> None:
    import multiprocessing

    from cadence.audiofile import warm_up

    pending: dict[Future, tuple[str, int, int]] = {}
    queue = iter(todo)
    # Import the decoders and librosa once, here: forked workers inherit them
    # instead of each paying about a second of imports.
    warm_up()
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_ignore_sigint, mp_context=context)
    try:
        # Keep only a few tasks in flight, so Ctrl-C has little to cancel.
        for item in queue:
            pending[pool.submit(analyze_file, item[0], max_analysis_s=max_analysis_s)] = item
            if len(pending) >= 2 * jobs:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                path, size, mtime_ns = pending.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # a worker died (e.g. killed): report, go on
                    result = {
                        "path": path,
                        "bpm": None,
                        "confidence": 0.0,
                        "error": f"analysis failed ({exc})",
                    }
                record(path, size, mtime_ns, result)
                nxt = next(queue, None)
                if nxt is not None:
                    pending[pool.submit(analyze_file, nxt[0], max_analysis_s=max_analysis_s)] = nxt
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def with_match(track: dict[str, Any], *, target_spm: float, tolerance_spm: float) -> dict[str, Any]:
    """A track's dict with its fit to the target: match_factor, step_bpm, off_spm, stretch_pct."""
    m = match_tempo(track.get("bpm"), target_spm=target_spm, tolerance_spm=tolerance_spm)
    return {
        **track,
        "match_factor": m.match_factor,
        "step_bpm": m.step_bpm,
        "off_spm": m.off_spm,
        "stretch_pct": m.stretch_pct,
    }


def write_playlist(tracks: list[dict[str, Any]], path: str) -> int:
    """Write an M3U8 playlist (UTF-8), ordered as given, atomically.

    Paths are written relative to the playlist's folder where possible.
    Tracks whose path cannot be written as UTF-8 are left out and counted.

    Returns
    -------
    int
        Tracks left out.
    """
    base = Path(path).resolve().parent
    lines = ["#EXTM3U"]
    left_out = 0
    for t in tracks:
        p = Path(t["path"]).resolve()
        try:
            rel = os.path.relpath(p, base)
        except ValueError:  # another drive (Windows)
            rel = str(p)
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            left_out += 1
            continue
        title = " - ".join(x for x in (t.get("artist"), t.get("title")) if x) or p.stem
        seconds = round(t["duration_s"]) if t.get("duration_s") else -1
        lines.append(f"#EXTINF:{seconds},{title} [{t['bpm']:g} BPM]")
        lines.append(rel)
    try:
        with atomic_path(path) as tmp:
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        raise CadenceError(f"playlist {path}: cannot write ({exc.strerror})") from exc
    return left_out
