"""Cache edge: analysed tracks in one SQLite file.

A track's entry is keyed by its path and valid only while the file's size,
modification time and the analyzer version are unchanged, so an edited file
or a new analyzer is analysed again. Each result is committed as soon as it
is known (WAL journal): a scan killed at any moment, even with ``kill -9``,
leaves a consistent database with everything analysed so far, and the next
scan resumes from there.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from cadence.errors import CadenceError

#: The layout of the file (PRAGMA user_version); bump it when the table changes.
SCHEMA_VERSION = 1


class CacheWriteError(CadenceError):
    """The cache is sound but takes no more entries now (a full disk, a lock)."""

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


_TRACK_COLUMNS = ("path", "size", "mtime_ns", "version", "result")
_CREATE_TRACKS = (
    "CREATE TABLE IF NOT EXISTS tracks ("
    " path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
    " version TEXT NOT NULL, result TEXT NOT NULL)"
)


def default_cache_path() -> Path:
    """The per-user cache file (platformdirs' user cache directory)."""
    from platformdirs import user_cache_path

    return user_cache_path("cadence", appauthor=False) / "tracks.sqlite3"


def _key(path: str) -> bytes:
    # Paths as bytes: names that are not valid UTF-8 are still exact keys.
    return os.fsencode(path)


class TrackCache:
    """Analysed tracks, keyed by path, size, mtime and analyzer version.

    Parameters
    ----------
    path : path-like
        The SQLite file (created, with its folder, if missing).
    analyzer_version : str
        Entries from another version are ignored (and replaced when re-analysed).

    Raises
    ------
    CadenceError
        If the file cannot be opened as a cache.
    """

    def __init__(self, path: str | os.PathLike, *, analyzer_version: str) -> None:
        self.path = Path(path)
        self.analyzer_version = analyzer_version
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30)
        except (sqlite3.Error, OSError) as exc:
            raise self._cannot_open(exc) from exc
        try:
            # SQLite reads the file at the first statement, not at connect().
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._check_schema()
        except (sqlite3.OperationalError, OSError) as exc:
            # Locked, read-only, out of space: the file may be fine.
            self._db.close()
            raise self._cannot_open(exc) from exc
        except sqlite3.DatabaseError as exc:
            # Not a database, or a damaged one.
            self._db.close()
            raise self._damaged(exc) from exc
        except CadenceError:
            self._db.close()
            raise

    def _check_schema(self) -> None:
        """Create the schema in a new file, rebuild an older cadence's, refuse the rest.

        A cache is only a cache: one written by an older cadence is emptied and
        made anew. One written by a newer cadence is left alone (that cadence
        still reads it), and so is any other program's database.
        """
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        if version > SCHEMA_VERSION:
            raise CadenceError(
                f"cache {self.path}: written by a newer cadence (schema {version}; this one "
                f"reads {SCHEMA_VERSION}); use --cache OTHER_FILE or --no-cache"
            )
        if version == 0 and tables:
            raise self._damaged("a database of another program: it has no cadence schema")
        if 0 < version < SCHEMA_VERSION:
            self._db.execute("DROP TABLE IF EXISTS tracks")
        self._db.execute(_CREATE_TRACKS)
        columns = [r[1] for r in self._db.execute("PRAGMA table_info(tracks)")]
        if columns != list(_TRACK_COLUMNS):
            raise self._damaged(f"its tracks table has the columns {', '.join(columns)}")
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._db.commit()

    def _cannot_open(self, exc: Exception) -> CadenceError:
        from cadence.files import write_failure

        reason = write_failure(exc, folder=self.path.parent)
        return CadenceError(f"cache {self.path}: cannot open ({reason}); try --no-cache")

    def _damaged(self, exc: Exception | str) -> CadenceError:
        return CadenceError(
            f"cache {self.path}: damaged or not a cadence cache ({exc}); "
            "delete it (it is rebuilt) or use --no-cache"
        )

    def load(self) -> dict[bytes, tuple[int, int, dict[str, Any]]]:
        """Every valid entry: {path bytes: (size, mtime_ns, result)}, in one query."""
        try:
            rows = self._db.execute(
                "SELECT path, size, mtime_ns, result FROM tracks WHERE version = ?",
                (self.analyzer_version,),
            ).fetchall()
            return {bytes(p): (s, m, json.loads(r)) for p, s, m, r in rows}
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:
            raise self._damaged(exc) from exc

    def put(self, path: str, *, size: int, mtime_ns: int, result: dict[str, Any]) -> None:
        """Store a result and commit it at once."""
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO tracks (path, size, mtime_ns, version, result)"
                " VALUES (?, ?, ?, ?, ?)",
                (_key(path), size, mtime_ns, self.analyzer_version, json.dumps(result)),
            )
            self._db.commit()
        except sqlite3.OperationalError as exc:
            raise self._cannot_write(exc) from exc
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc

    def _cannot_write(self, exc: sqlite3.Error) -> CacheWriteError:
        """The file is fine but cannot take more: full, read-only or locked by another."""
        with contextlib.suppress(sqlite3.Error):
            self._db.rollback()
        from cadence.files import write_failure

        text = str(exc).lower()
        if write_failure(exc, folder=self.path.parent) == "the disk is full":
            reason = "the disk is full"
        elif "readonly" in text or "read-only" in text:
            reason = "it is read-only"
        elif "locked" in text:
            reason = "another program holds it locked"
        else:
            reason = text
        return CacheWriteError(f"cache {self.path}: cannot write ({reason})", reason=reason)

    def prune(self, folder: str, *, keep: set[str]) -> int:
        """Forget the entries below `folder` whose path is not in `keep`
        (files deleted or renamed since they were analysed); returns how many."""
        prefix = _key(os.path.join(folder, ""))
        try:
            rows = self._db.execute(
                "SELECT path FROM tracks WHERE substr(path, 1, ?) = ?", (len(prefix), prefix)
            ).fetchall()
            kept = {_key(p) for p in keep}
            gone = [(p,) for (p,) in rows if bytes(p) not in kept]
            self._db.executemany("DELETE FROM tracks WHERE path = ?", gone)
            self._db.commit()
        except sqlite3.OperationalError as exc:
            raise self._cannot_write(exc) from exc
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc
        return len(gone)

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TrackCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
