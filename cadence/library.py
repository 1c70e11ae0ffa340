"""Music-library edge: finds audio files, analyses them (in parallel, cached),
and writes playlists.

Batch rules: every file is opened read-only; a file that cannot be analysed
gets one line saying why and the scan goes on; results are cached as soon as
they are known; Ctrl-C stops cleanly and keeps what was analysed.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadence.audiofile import AUDIO_EXTENSIONS, MAX_ANALYSIS_S, not_a_file_reason
from cadence.cache import TrackCache
from cadence.core.matching import match_tempo, tempo_alternatives
from cadence.errors import AudioFileError, CadenceError
from cadence.files import atomic_path

#: Bump when the analysis changes: cached results of other versions are redone.
ANALYZER_VERSION = "tempo-6"

Problem = Callable[[str, str], None]


def display_path(path: str) -> str:
    """A path as text for JSON and CSV (undecodable bytes become U+FFFD)."""
    return os.fsencode(path).decode("utf-8", errors="replace")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(text: str) -> str:
    """`text` safe to print on one terminal line: control characters (a newline
    or an escape sequence in a file name or tag) are shown as escapes, and bytes
    that are not UTF-8 as U+FFFD."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def _reason_of(exc: CadenceError, path: str) -> str:
    """The reason in an error about `path`, without the path in front."""
    message = str(exc)
    for prefix in (f"{path}: ", f"{display_path(path)}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def analyze_file(path: str, *, max_analysis_s: float = MAX_ANALYSIS_S) -> dict[str, Any]:
    """Tempo, confidence, stability and tags of one file, as a JSON-ready dict.

    Never raises for a bad file: the dict's ``error`` says what went wrong
    (with ``bpm`` None). Reads only.
    """
    from cadence.audiofile import onset_envelope
    from cadence.core.tempo import MIN_ANALYSIS_S, estimate_tempo
    from cadence.tags import read_tags

    result = failed_result(path, None)  # until the analysis says otherwise
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
            if env.sounding_s < 0.5:
                result["note"] = "silence: no beat"
            elif env.analysed_s < MIN_ANALYSIS_S:
                result["note"] = (
                    f"too short to measure ({env.analysed_s:.1f} s of audio;"
                    f" needs {MIN_ANALYSIS_S:g} s)"
                )
            else:
                result["note"] = "no beat found"
        elif env.analysed_s < 10:
            result["note"] = f"only {env.analysed_s:.1f} s of audio: low confidence"
    except AudioFileError as exc:
        result["error"] = _reason_of(exc, path)
    except MemoryError:
        result["error"] = "out of memory while decoding"
    else:
        if env.warning:
            result["note"] = env.warning + (f"; {result['note']}" if "note" in result else "")
    if os.path.isfile(path):  # never open a pipe or a device: reading would block
        result.update(read_tags(path))
    return result


def find_audio_files(root: str, *, on_problem: Problem) -> Iterator[tuple[str, str | None]]:
    """Audio files below `root`, recursively.

    Yields ``(path, None)`` for each file to analyse and ``(path, reason)`` for
    an audio-named entry that cannot be (a broken symlink, a pipe or device, an
    unreadable entry). Hidden files and folders are skipped. Real folders are
    walked before folders reached through symlinks, so a folder linked from
    inside the library is listed once, under its own path; a symlink loop is
    reported (through `on_problem`), not followed.
    """
    seen: set[tuple[int, int]] = set()
    stack = [root]
    linked: list[str] = []  # folders reached through a symlink: walked last
    while stack or linked:
        via_link = not stack
        folder = stack.pop() if stack else linked.pop(0)
        try:
            st = os.stat(folder)
        except OSError as exc:
            on_problem(folder, f"cannot open folder ({exc.strerror})")
            continue
        if (st.st_dev, st.st_ino) in seen:
            if via_link and _links_to_ancestor(folder):
                on_problem(folder, "symlink loop: not followed")
            continue  # otherwise a link to a folder that is scanned already
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
            audio = Path(entry.name).suffix.lower() in AUDIO_EXTENSIONS
            try:
                if entry.is_dir(follow_symlinks=True):
                    (linked if entry.is_symlink() else subfolders).append(entry.path)
                elif not audio:
                    continue
                elif entry.is_file(follow_symlinks=True):
                    yield entry.path, None
                else:
                    yield entry.path, not_a_file_reason(entry.path)
            except OSError as exc:
                if audio:
                    yield entry.path, f"cannot read ({exc.strerror})"
                else:
                    on_problem(entry.path, f"cannot read ({exc.strerror})")
        stack.extend(reversed(subfolders))


def _links_to_ancestor(folder: str) -> bool:
    """Whether the symlinked `folder` points at a folder that contains it."""
    target = os.path.realpath(folder)
    parent = os.path.realpath(os.path.dirname(folder))
    return parent == target or parent.startswith(target.rstrip(os.sep) + os.sep)


@dataclass
class ScanResult:
    """What a scan found."""

    root: str = "."
    tracks: list[dict[str, Any]] = field(default_factory=list)
    analysed: int = 0
    cached: int = 0
    problems: int = 0
    interrupted: bool = False
    elapsed_s: float = 0.0

    def cache_key(self, path: str) -> str:
        """The cache's name for `path`: below the real path of the scanned folder,
        so ``scan music``, ``scan ./music`` and ``scan /home/me/music`` share entries."""
        if self._real_root is None:
            self._real_root = os.path.realpath(self.root)
        return os.path.join(self._real_root, os.path.relpath(path, self.root))

    _real_root: str | None = field(default=None, repr=False)


def _worker_init(parent_pid: int) -> None:
    # Workers leave Ctrl-C to the parent, which stops the scan cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # And they end with it, even when it is killed with kill -9 (Linux).
    if sys.platform.startswith("linux"):
        import contextlib
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


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
    if not os.path.exists(root):
        raise CadenceError(f"{display_path(root)}: no such folder")
    if not os.path.isdir(root):
        raise CadenceError(f"{display_path(root)}: not a folder")
    if not os.access(root, os.R_OK | os.X_OK):
        raise CadenceError(f"{display_path(root)}: folder not readable")
    started = time.perf_counter()
    out = ScanResult(root=root)
    known = cache.load() if cache is not None else {}
    todo: list[tuple[str, int, int]] = []

    def finish(result: dict[str, Any]) -> None:
        out.tracks.append(result)
        if result["error"]:
            out.problems += 1
            on_problem(result["path"], result["error"])
        elif result.get("note"):
            on_problem(result["path"], result["note"])

    found: set[str] = set()  # cache keys of every file there now
    for path, reason in find_audio_files(root, on_problem=on_problem):
        key = out.cache_key(path)
        found.add(key)
        if reason is None:
            try:
                st = os.stat(path)
            except OSError as exc:
                reason = f"cannot read ({exc.strerror})"
        if reason is not None:
            finish(failed_result(path, reason))
            continue
        hit = known.get(os.fsencode(key))
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            out.cached += 1
            finish(dict(hit[2], path=path))
        else:
            todo.append((path, st.st_size, st.st_mtime_ns))
    total = len(out.tracks) + len(todo)
    if on_progress:
        on_progress(len(out.tracks), total)

    def record(path: str, size: int, mtime_ns: int, result: dict[str, Any]) -> None:
        out.analysed += 1
        finish(result)
        if cache is not None and not result["error"]:
            # Failures are not cached: a file being copied in is retried next time.
            cache.put(out.cache_key(path), size=size, mtime_ns=mtime_ns, result=result)
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
    if cache is not None and not out.interrupted:
        # Forget files deleted or renamed since: the cache does not grow forever.
        cache.prune(os.path.realpath(root), keep=found)
    out.tracks.sort(key=lambda r: os.fsencode(r["path"]))
    out.elapsed_s = time.perf_counter() - started
    return out


def failed_result(path: str, reason: str | None) -> dict[str, Any]:
    """The result of a file that could not be analysed (with `reason` as its error)."""
    return {
        "path": path,
        "bpm": None,
        "confidence": 0.0,
        "stability": None,
        "alternatives": None,
        "duration_s": None,
        "analysed_s": None,
        "title": None,
        "artist": None,
        "tag_bpm": None,
        "error": reason,
    }


def _scan_parallel(
    todo: list[tuple[str, int, int]],
    *,
    jobs: int,
    record: Callable[[str, int, int, dict[str, Any]], None],
    max_analysis_s: float,
) -> None:
    import multiprocessing
    from concurrent.futures.process import BrokenProcessPool

    from cadence.audiofile import warm_up

    pending: dict[Future, tuple[str, int, int]] = {}
    retried: set[str] = set()
    queue = iter(todo)
    # Import the decoders and librosa once, here: forked workers inherit them
    # instead of each paying about a second of imports.
    warm_up()
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=jobs, initializer=_worker_init, initargs=(os.getpid(),), mp_context=context
        )

    pool = new_pool()

    def submit(item: tuple[str, int, int]) -> None:
        nonlocal pool
        try:
            fut = pool.submit(analyze_file, item[0], max_analysis_s=max_analysis_s)
        except BrokenProcessPool:  # a worker was killed (e.g. out of memory): start afresh
            pool.shutdown(wait=False)
            pool = new_pool()
            fut = pool.submit(analyze_file, item[0], max_analysis_s=max_analysis_s)
        pending[fut] = item

    try:
        # Keep only a few tasks in flight, so Ctrl-C has little to cancel.
        for item in queue:
            submit(item)
            if len(pending) >= 2 * jobs:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                item = pending.pop(fut)
                path, size, mtime_ns = item
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    # Every file in flight fails with the pool; each is tried once
                    # more, so only the one that kills its worker is reported.
                    if path not in retried:
                        retried.add(path)
                        submit(item)
                        continue
                    result = failed_result(path, "analysis failed (the worker process died)")
                except Exception as exc:
                    result = failed_result(path, f"analysis failed ({exc})")
                record(path, size, mtime_ns, result)
                nxt = next(queue, None)
                if nxt is not None:
                    submit(nxt)
    except BaseException:
        # Ctrl-C: stop the workers now (what they finished is recorded already),
        # and let no second Ctrl-C interrupt the clean-up.
        try:
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread
            previous = None
        try:
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        raise
    pool.shutdown(wait=True)


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
        track = Path(os.path.abspath(t["path"]))
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
        title = " - ".join(x for x in (t.get("artist"), t.get("title")) if x) or p.stem
        title = " ".join(_CONTROL.sub(" ", title).split())
        seconds = round(t["duration_s"]) if t.get("duration_s") else -1
        lines.append(f"#EXTINF:{seconds},{title} [{t['bpm']:g} BPM]")
        lines.append(rel)
    try:
        with atomic_path(path) as tmp:
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        raise CadenceError(f"playlist {path}: cannot write ({exc.strerror})") from exc
    return left_out


def write_tags(
    result: ScanResult, *, cache: TrackCache | None, on_problem: Problem
) -> tuple[int, int]:
    """Write each analysed track's BPM into its tags, where it is not there already.

    Each file is replaced atomically by a tagged copy (see
    :func:`cadence.tags.write_bpm_tag`); its ``tag_bpm`` and its cache entry
    are updated, so the next scan finds it unchanged.

    Returns
    -------
    (int, int)
        Files written, and files whose tag already held the measured tempo.
    """
    from cadence.tags import bpm_tag_value, write_bpm_tag

    written = already = 0
    for track in result.tracks:
        if track["bpm"] is None or track["error"]:
            continue
        path = track["path"]
        try:
            changed = write_bpm_tag(path, track["bpm"])
        except CadenceError as exc:
            on_problem(path, _reason_of(exc, path))
            continue
        track["tag_bpm"] = float(bpm_tag_value(track["bpm"]))
        if not changed:
            already += 1
            continue
        written += 1
        if cache is not None:
            st = os.stat(path)
            entry = {k: v for k, v in track.items() if k != "path"}
            key = result.cache_key(path)
            cache.put(key, size=st.st_size, mtime_ns=st.st_mtime_ns, result=entry)
    return written, already
