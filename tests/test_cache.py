"""The track cache on a real SQLite file: entries kept, schema checked, other files refused."""

import json
import sqlite3

import pytest

from cadence import cache as cache_module
from cadence.cache import SCHEMA_VERSION, TrackCache
from cadence.errors import CadenceError

ENTRY = {"bpm": 128.0, "confidence": 0.9, "error": None}


@pytest.fixture
def path(tmp_path):
    return tmp_path / "tracks.sqlite3"


def _user_version(path):
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def test_entries_survive_closing_and_reopening(path):
    with TrackCache(path, analyzer_version="v") as cache:
        cache.put("/m/a.mp3", size=10, mtime_ns=5, result=ENTRY)
    with TrackCache(path, analyzer_version="v") as cache:
        assert cache.load() == {b"/m/a.mp3": (10, 5, ENTRY)}
    assert _user_version(path) == SCHEMA_VERSION


def test_entries_of_another_analyzer_version_are_not_loaded(path):
    with TrackCache(path, analyzer_version="old") as cache:
        cache.put("/m/a.mp3", size=10, mtime_ns=5, result=ENTRY)
    with TrackCache(path, analyzer_version="new") as cache:
        assert cache.load() == {}


def test_a_cache_of_an_older_schema_is_rebuilt_empty(path, monkeypatch):
    with TrackCache(path, analyzer_version="v") as cache:
        cache.put("/m/a.mp3", size=10, mtime_ns=5, result=ENTRY)
    monkeypatch.setattr(cache_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with TrackCache(path, analyzer_version="v") as cache:
        assert cache.load() == {}
        cache.put("/m/b.mp3", size=1, mtime_ns=1, result=ENTRY)
        assert len(cache) == 1
    assert _user_version(path) == SCHEMA_VERSION + 1


def test_a_cache_of_a_newer_cadence_is_refused_and_left_alone(path):
    with TrackCache(path, analyzer_version="v") as cache:
        cache.put("/m/a.mp3", size=10, mtime_ns=5, result=ENTRY)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(CadenceError, match=r"written by a newer cadence .*--no-cache") as info:
        TrackCache(path, analyzer_version="v")
    assert str(path) in str(info.value)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == 1


def test_another_programs_database_is_refused_and_left_alone(path):
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER, text TEXT)")
        db.execute("INSERT INTO notes VALUES (1, 'keep me')")
    with pytest.raises(CadenceError, match="not a cadence cache"):
        TrackCache(path, analyzer_version="v")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT text FROM notes").fetchall() == [("keep me",)]
        assert {r[0] for r in db.execute("SELECT name FROM sqlite_master")} == {"notes"}


def test_a_tracks_table_of_another_shape_is_refused(path):
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE tracks (id INTEGER, name TEXT)")
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    with pytest.raises(CadenceError, match="damaged or not a cadence cache.*columns id, name"):
        TrackCache(path, analyzer_version="v")


def test_a_cache_written_before_the_schema_was_checked_keeps_its_entries(path):
    # What every cadence so far has written: the table, then user_version 1.
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS tracks ("
            " path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
            " version TEXT NOT NULL, result TEXT NOT NULL)"
        )
        db.execute("PRAGMA user_version=1")
        db.execute(
            "INSERT INTO tracks VALUES (?, ?, ?, ?, ?)",
            (b"/m/a.mp3", 10, 5, "v", json.dumps(ENTRY)),
        )
    with TrackCache(path, analyzer_version="v") as cache:
        assert cache.load() == {b"/m/a.mp3": (10, 5, ENTRY)}


def test_a_file_that_is_not_sqlite_is_reported_as_damaged_and_left_alone(path):
    path.write_text("not a database, just text\n" * 100)
    with pytest.raises(
        CadenceError, match=r"damaged or not a cadence cache .*delete it .*--no-cache"
    ) as info:
        TrackCache(path, analyzer_version="v")
    assert str(path) in str(info.value)
    assert path.read_text().startswith("not a database")


def test_a_cache_path_that_cannot_be_opened_is_not_called_damaged(path):
    path.mkdir()
    with pytest.raises(CadenceError, match=r"cannot open .*--no-cache") as info:
        TrackCache(path, analyzer_version="v")
    assert "damaged" not in str(info.value)


def test_the_suite_never_touches_the_users_own_cache(own_user_cache):
    from cadence.cache import default_cache_path

    assert default_cache_path().is_relative_to(own_user_cache)
