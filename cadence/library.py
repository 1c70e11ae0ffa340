"""Music-library edge: finds the audio files of a folder and analyses them (in
parallel, cached).

Batch rules: every file is opened read-only; a file that cannot be analysed
gets one line saying why and the scan goes on; results are cached as soon as
they are known; Ctrl-C stops cleanly and keeps what was analysed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, fields
from pathlib import Path

from cadence.analysis import analyze_file, failure_lasts, reason_of
from cadence.audio.decode import MAX_ANALYSIS_S
from cadence.audio.readers import AUDIO_EXTENSIONS
from cadence.cache import CacheWriteError, TrackCache
from cadence.core.matching import ScanReport, ScanTally, fit_tracks
from cadence.core.tracks import TrackResult
from cadence.errors import STOP_SIGNALS, CadenceError, note_stop
from cadence.files import display_path, is_cadence_temp, not_a_file_reason, remove_if_abandoned

#: Tags are written only for tempi at least this sure, unless told otherwise.
DEFAULT_TAG_CONFIDENCE = 0.5

#: Called as ``on_problem(path, reason)`` for each file or folder that cannot be used fully.
OnProblem = Callable[[str, str], None]


def find_audio_files(root: str, *, on_problem: OnProblem) -> Iterator[tuple[str, str | None]]:
    """Audio files below `root`, recursively.

    Yields ``(path, None)`` for each file to analyse and ``(path, reason)`` for
    an audio-named entry that cannot be (a broken symlink, a pipe or device, an
    unreadable entry). Hidden files and folders are skipped, but a temporary
    file left by a killed ``--write-tags`` is removed (and reported). Real folders are
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
                if is_cadence_temp(entry.name, suffix=".tagging") and remove_if_abandoned(
                    entry.path
                ):
                    on_problem(entry.path, "removed: left by a tag write that was killed")
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
class ScanResult(ScanTally):
    """What a scan found: every track, and the counts of :class:`ScanTally`."""

    root: str = "."
    tracks: list[TrackResult] = field(default_factory=list)
    #: With tags written: files written, files whose tag held the tempo already,
    #: and files left untagged for a confidence under the minimum.
    tags_written: int | None = None
    tags_already: int = 0
    tags_unsure: int = 0

    def cache_key(self, path: str) -> str:
        """The cache's name for `path`: below the real path of the scanned folder,
        so ``scan music``, ``scan ./music`` and ``scan /home/me/music`` share entries."""
        if self._real_root is None:
            self._real_root = os.path.realpath(self.root)
        return os.path.join(self._real_root, os.path.relpath(path, self.root))

    _real_root: str | None = field(default=None, repr=False)

    def report(
        self, *, target_spm: float, tolerance_spm: float, min_confidence: float = 0.0
    ) -> ScanReport:
        """The tracks against a target cadence, with what the scan did."""
        tally = ScanTally(**{f.name: getattr(self, f.name) for f in fields(ScanTally)})
        fits = fit_tracks(
            self.tracks,
            target_spm=target_spm,
            tolerance_spm=tolerance_spm,
            min_confidence=min_confidence,
        )
        return ScanReport(
            fits, target_spm, tolerance_spm, tally=tally, min_confidence=min_confidence
        )

    def problem_reporter(self, on_problem: OnProblem) -> OnProblem:
        """`on_problem` that also keeps each problem in ``problems``."""

        def report(path: str, reason: str) -> None:
            self.problems.append((path, reason))
            on_problem(path, reason)

        return report


def _worker_init(parent_pid: int) -> None:
    # Workers leave Ctrl-C to the parent, which stops the scan cleanly, and die
    # of SIGTERM and SIGHUP (the parent's handlers, inherited by fork, would
    # only raise inside the pool's loop).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    note_stop(None)  # a stop the parent noted is not the worker's
    for name in STOP_SIGNALS:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    # And they end with it, even when it is killed with kill -9 (Linux).
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def scan_folder(
    root: str,
    *,
    cache_path: str | os.PathLike | None,
    use_cache: bool = True,
    jobs: int = 1,
    write_tags: bool = False,
    tag_min_confidence: float = DEFAULT_TAG_CONFIDENCE,
    on_problem: OnProblem,
    on_progress: Callable[[int, int], None] | None = None,
) -> ScanResult:
    """A whole ``cadence scan``: open the cache, analyse the folder, write tags if asked.

    Parameters
    ----------
    root : str
        Folder to scan.
    cache_path : path-like or None, keyword-only
        The cache file; None for the per-user default.
    use_cache : bool, keyword-only
        False neither reads nor writes a cache.
    jobs : int, keyword-only
        Worker processes.
    write_tags : bool, keyword-only
        Write each measured tempo into its file's BPM tag (not after an
        interrupted scan); ``tags_written`` and ``tags_already`` say how it went.
    tag_min_confidence : float, keyword-only
        Tags are written only for tempi at least this sure (0-1).
    on_problem, on_progress : callable
        As in :func:`scan_library`.

    Raises
    ------
    CadenceError
        If `root` is not a readable folder or the cache cannot be used.
    """
    cache = None
    if use_cache:
        from cadence.analysis import ANALYZER_VERSION
        from cadence.cache import default_cache_path

        cache = TrackCache(cache_path or default_cache_path(), analyzer_version=ANALYZER_VERSION)
    try:
        result = scan_library(
            root, cache=cache, jobs=jobs, on_problem=on_problem, on_progress=on_progress
        )
        if write_tags and not result.interrupted:
            result.tags_written, result.tags_already, result.tags_unsure = tag_scanned_tracks(
                result, cache=cache, on_problem=on_problem, min_confidence=tag_min_confidence
            )
    finally:
        if cache is not None:
            cache.close()
    return result


def scan_library(
    root: str,
    *,
    cache: TrackCache | None,
    jobs: int = 1,
    on_problem: OnProblem,
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
        Called as ``on_problem(path, reason)`` for each file or folder that
        fails, or whose result carries a note; also kept in ``problems``.
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
    out = ScanResult(root=root, cached_kept=cache is not None)
    problem = out.problem_reporter(on_problem)
    known = cache.load() if cache is not None else {}
    todo: list[tuple[str, int, int]] = []

    def finish(result: TrackResult, *, known: bool = False) -> None:
        out.tracks.append(result)
        if not (result.error or result.note):
            return
        if known:  # said at the scan that found it; the file has not changed since
            out.known_problems += 1
        else:
            problem(result.path, result.error or result.note)

    found: set[str] = set()  # cache keys of every file there now
    for path, reason in find_audio_files(root, on_problem=problem):
        key = out.cache_key(path)
        found.add(key)
        if reason is None:
            try:
                st = os.stat(path)
            except OSError as exc:
                reason = f"cannot read ({exc.strerror})"
        if reason is not None:
            finish(TrackResult.failed(path, reason))
            continue
        hit = known.get(os.fsencode(key))
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            out.cached += 1
            finish(TrackResult.from_cache(path, hit[2]), known=True)
        else:
            todo.append((path, st.st_size, st.st_mtime_ns))
    total = len(out.tracks) + len(todo)
    if on_progress:
        on_progress(len(out.tracks), total)

    caching = cache is not None

    def record(path: str, size: int, mtime_ns: int, result: TrackResult) -> None:
        nonlocal caching
        out.analysed += 1
        finish(result)
        if caching and (not result.error or failure_lasts(result)):
            # A broken file is not decoded again while its size and mtime stay
            # (a file still being copied in changes both); a failure that is not
            # the file's (no permission, a worker killed) is retried.
            entry = result.cache_entry()
            try:
                cache.put(out.cache_key(path), size=size, mtime_ns=mtime_ns, result=entry)
            except CacheWriteError as exc:  # the scan goes on; only the cache stops
                caching = False
                problem(
                    str(cache.path),
                    f"cannot write ({exc.reason}): the rest of this scan is not cached",
                )
        if on_progress:
            on_progress(len(out.tracks), total)

    try:
        if jobs <= 1 or len(todo) <= 1:
            for path, size, mtime_ns in todo:
                record(path, size, mtime_ns, analyze_file(path, max_analysis_s=max_analysis_s))
        else:
            _scan_parallel(todo, jobs=jobs, record=record, max_analysis_s=max_analysis_s)
    except KeyboardInterrupt as exc:  # Ctrl-C, or Terminated (SIGTERM, SIGHUP)
        out.interrupted = True
        out.stop_signal = getattr(exc, "signum", None)
    if caching and not out.interrupted:
        # Forget files deleted or renamed since: the cache does not grow forever.
        with contextlib.suppress(CacheWriteError):  # it only grows, then
            cache.prune(os.path.realpath(root), keep=found)
    out.cached_kept = out.cached_kept and caching
    out.tracks.sort(key=lambda r: os.fsencode(r.path))
    out.elapsed_s = time.perf_counter() - started
    return out


def _scan_parallel(
    todo: list[tuple[str, int, int]],
    *,
    jobs: int,
    record: Callable[[str, int, int, TrackResult], None],
    max_analysis_s: float,
) -> None:
    import multiprocessing
    from concurrent.futures.process import BrokenProcessPool

    from cadence.audio.decode import warm_up

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
            max_workers=min(jobs, len(todo)),
            initializer=_worker_init,
            initargs=(os.getpid(),),
            mp_context=context,
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
                    result = TrackResult.failed(path, "analysis failed (the worker process died)")
                except Exception as exc:
                    result = TrackResult.failed(path, f"analysis failed ({exc})")
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


def tag_scanned_tracks(
    result: ScanResult,
    *,
    cache: TrackCache | None,
    on_problem: OnProblem,
    min_confidence: float = DEFAULT_TAG_CONFIDENCE,
) -> tuple[int, int, int]:
    """Write each analysed track's BPM into its tags, where it is not there already.

    Each file is replaced atomically by a tagged copy (see
    :func:`cadence.tags.write_bpm_tag`); its ``tag_bpm`` and its cache entry
    are updated, so the next scan finds it unchanged. Problems are reported
    through `on_problem` and kept in ``result.problems``. A tempo whose
    confidence is under `min_confidence` is a guess, and no tag is written.

    Returns
    -------
    (int, int, int)
        Files written, files whose tag already held the measured tempo, and
        files left untagged for a low confidence.
    """
    from cadence.tags import bpm_tag_value, write_bpm_tag

    problem = result.problem_reporter(on_problem)
    written = already = unsure = 0
    for track in result.tracks:
        if track.bpm is None or track.error:
            continue
        if track.confidence < min_confidence:
            unsure += 1
            continue
        try:
            changed = write_bpm_tag(track.path, track.bpm)
        except CadenceError as exc:
            problem(track.path, reason_of(exc, track.path))
            continue
        track.tag_bpm = float(bpm_tag_value(track.bpm))
        if not changed:
            already += 1
            continue
        written += 1
        if cache is not None:
            st = os.stat(track.path)
            key = result.cache_key(track.path)
            try:
                entry = track.cache_entry()
                cache.put(key, size=st.st_size, mtime_ns=st.st_mtime_ns, result=entry)
            except CacheWriteError as exc:  # the tags go on; the next scan reads them again
                problem(str(cache.path), f"cannot write ({exc.reason})")
                cache = None
    return written, already, unsure
