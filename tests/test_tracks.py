"""A track's result: one shape from the analysis to the cache, the ranking and the output."""

import pytest

from cadence.core.matching import (
    TempoMatch,
    TrackFit,
    all_by_fit,
    best_fit_first,
    by_step_tempo,
    fit_tracks,
)
from cadence.core.tracks import TrackResult


def test_failed_result_has_no_tempo_and_says_why():
    r = TrackResult.failed("a.mp3", "empty file (0 bytes)")
    assert (r.bpm, r.confidence, r.error, r.note) == (None, 0.0, "empty file (0 bytes)", None)


def test_cache_entry_round_trips_without_the_path():
    r = TrackResult("x/a.flac", bpm=128.0, confidence=0.9, alternatives={"half": 64.0}, note="n")
    entry = r.cache_entry()
    assert "path" not in entry
    assert TrackResult.from_cache("y/a.flac", entry) == r.with_path("y/a.flac")


def test_cache_entry_of_another_version_keeps_what_it_knows():
    back = TrackResult.from_cache("a.wav", {"bpm": 100.0, "error": None, "beats": [0.1, 0.7]})
    assert back.bpm == 100.0 and back.note is None


def test_notes_are_joined_in_order():
    r = TrackResult("a.wav", note="only 5.0 s of audio: low confidence")
    r.add_note("file ends early", first=True)
    r.add_note("third")
    assert r.note == "file ends early; only 5.0 s of audio: low confidence; third"


def test_json_has_every_field_in_order():
    keys = list(TrackResult("a").to_dict())
    assert keys[:3] == ["path", "bpm", "confidence"] and keys[-2:] == ["error", "note"]


@pytest.fixture
def fits():
    tracks = [
        TrackResult("slow.wav", bpm=85.0, confidence=0.7),  # 170 at half time
        TrackResult("fast.wav", bpm=172.0, confidence=0.5),
        TrackResult("sure.wav", bpm=172.0, confidence=0.9),
        TrackResult("off.wav", bpm=120.0, confidence=0.99),
        TrackResult("broken.wav", error="cannot decode"),
    ]
    return fit_tracks(tracks, target_spm=172, tolerance_spm=3)


def test_best_fit_first_is_closest_then_most_confident(fits):
    assert [f.track.path for f in best_fit_first(fits)] == ["sure.wav", "fast.wav", "slow.wav"]


def test_all_by_fit_lists_the_others_after_by_closeness(fits):
    order = [f.track.path for f in all_by_fit(fits)]
    assert order == ["sure.wav", "fast.wav", "slow.wav", "off.wav", "broken.wav"]


def test_playlist_order_is_by_step_tempo(fits):
    order = [f.track.path for f in by_step_tempo(best_fit_first(fits))]
    assert order == ["slow.wav", "sure.wav", "fast.wav"]  # equal tempi keep the best-fit order


def test_fit_json_joins_track_and_match():
    d = TrackFit(TrackResult("a.wav", bpm=86.0), TempoMatch(2, 172.0, 0.0, 0.0)).to_dict()
    assert (d["path"], d["match_factor"], d["step_bpm"], d["note"]) == ("a.wav", 2, 172.0, None)


def test_beats_go_through_the_cache_exactly_and_unpack_only_when_used():
    import json

    from cadence.core.tracks import PackedTimes, TrackResult

    beats = [round(0.123 + 0.4 * k, 3) for k in range(5000)]  # to 2000 s
    song = TrackResult(path="a.mp3", bpm=150.0, beats=beats, downbeats=beats[::4])
    entry = json.loads(json.dumps(song.cache_entry()))
    assert set(entry["beats"]) == {"ms_b64"}  # packed, not 5000 JSON numbers
    back = TrackResult.from_cache("a.mp3", entry)
    assert isinstance(back.beats, PackedTimes) and back.beats._times is None
    assert back.cache_entry() == entry  # stored again without unpacking
    assert back.beats._times is None
    assert back.beats == beats and list(back.downbeats) == beats[::4]
    assert back.to_dict()["beats"] == beats and len(back.beats) == 5000
