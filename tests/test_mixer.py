"""A session of real songs at a cadence: clicks on the grid and on the beats, no gap, no dip."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from cadence.analysis import analyze_file
from cadence.core.mix import step_sample
from cadence.mixer import MusicSession, render_session_file
from cadence.songs import choose_songs
from tests.music import drums_on_beats, write

SPM = 165.0


def song_beats(bpm: float, seconds: float, first_s: float = 0.4) -> np.ndarray:
    return first_s + np.arange(int((seconds - first_s - 0.5) * bpm / 60)) * 60 / bpm


def hummed(beats: np.ndarray, seconds: float, *, level: float, sr: int = 22050) -> np.ndarray:
    """Drums over a steady hum (a level that should not dip), scaled to `level`."""
    t = np.arange(int(seconds * sr)) / sr
    x = 0.6 * drums_on_beats(beats, seconds=seconds, sr=sr) + 0.2 * np.sin(2 * np.pi * 110 * t)
    return (level * x).astype(np.float32)


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """Three songs with known beats: 160 and 168 BPM, and 83 (half time), 7 dB apart in level."""
    folder = tmp_path_factory.mktemp("session")
    made = []
    for name, bpm, level in (("a.flac", 160.0, 0.9), ("b.flac", 168.0, 0.4), ("c.flac", 83.0, 0.6)):
        beats = song_beats(bpm, 40.0)
        path = write(folder / name, hummed(beats, 40.0, level=level))
        made.append((analyze_file(str(path)), beats))
    return made


@pytest.fixture(scope="module")
def rendered(songs, tmp_path_factory):
    chosen, _skipped = choose_songs([r for r, _ in songs], SPM, max_stretch_pct=8.0, order="tempo")
    session = MusicSession(chosen, SPM, count_in=4)
    out = tmp_path_factory.mktemp("out") / "run.flac"
    info = render_session_file(session, str(out), stems=True)
    music, sr = sf.read(info["stems"]["music"], dtype="float64")
    click, _ = sf.read(info["stems"]["click"], dtype="float64")
    return session, info, music, click[:, 0], sr


def click_starts(click: np.ndarray, sr: int) -> np.ndarray:
    loud = np.flatnonzero(np.abs(click) > 1e-3)
    return loud[np.concatenate([[True], np.diff(loud) > 0.1 * sr])]


def test_every_song_is_played_and_the_session_is_as_long_as_it_says(rendered, songs):
    session, info, music, _click, sr = rendered
    assert len(info["songs"]) == 3
    assert len(music) == session.total_samples == round(info["duration_s"] * sr)
    assert info["count_in_s"] == pytest.approx(4 * 60 / SPM, abs=1e-4)


def test_the_clicks_are_the_metronomes_grid_to_the_sample(rendered):
    session, _info, _music, click, sr = rendered
    found = click_starts(click, sr)
    step = 60 * sr / SPM
    count_in = [round(k * step) for k in range(4)]  # the count-in's own grid, from 0
    grid = [step_sample(j, anchor=session.anchor, spm=SPM, sr=sr) for j in range(len(found) - 4)]
    assert np.array_equal(found, count_in + grid)
    assert found[-1] > len(click) - 2 * step  # clicks to the end


def test_each_songs_true_beats_land_on_the_clicks(rendered, songs):
    _session, info, _music, click, sr = rendered
    clicks_s = click_starts(click, sr) / sr
    by_path = {r.path: beats for r, beats in songs}
    for song in info["songs"]:
        pairs = np.array(song["time_map"])
        true = by_path[song["path"]]
        true = true[(true > pairs[0, 0]) & (true < pairs[-1, 0])]
        mapped = np.interp(true, pairs[:, 0], pairs[:, 1])
        off = np.abs(mapped[:, None] - clicks_s[None, :]).min(axis=1)
        assert np.median(off) < 0.004 and np.max(off) < 0.010, song["path"]


def test_the_music_has_no_gap_and_no_dip_across_the_crossfades(rendered):
    session, _info, music, _click, sr = rendered
    start, end = round(session.anchor), len(music) - sr
    x = music[start:end, 0]
    step = round(60 * sr / SPM)
    bars = len(x) // (4 * step)
    # Per bar (the drums' pattern repeats each bar): songs made at levels
    # 7 dB apart are brought to one loudness, and the crossfades keep it.
    rms = np.sqrt(np.mean(x[: bars * 4 * step].reshape(bars, -1) ** 2, axis=1))
    level_db = 20 * np.log10(rms / np.median(rms))
    assert np.all(np.abs(np.diff(level_db)) < 3.0), np.round(level_db, 1)
    assert np.all(np.abs(level_db) < 3.0)
    quiet = np.abs(x) < 1e-4
    longest = max((len(r) for r in np.split(quiet, np.flatnonzero(~quiet)) if len(r)), default=0)
    assert longest < 0.01 * sr  # the hum never stops: no gap between songs


def test_a_session_longer_than_the_songs_plays_them_again_and_ends_on_time(songs, tmp_path):
    chosen, _ = choose_songs([r for r, _ in songs], SPM, max_stretch_pct=8.0)
    session = MusicSession(chosen, SPM, duration_s=150.0, click="off")
    out = tmp_path / "long.wav"
    info = render_session_file(session, str(out))
    assert info["duration_s"] == pytest.approx(150.0, abs=1 / 44100)
    assert len(info["songs"]) >= 4 and info["songs"][3]["path"] == info["songs"][0]["path"]
    y, _sr = sf.read(str(out))
    assert np.max(np.abs(y[-200:])) < 0.01  # faded out at the end, not cut


def test_songs_too_far_or_without_a_beat_are_left_out_with_why(songs, tmp_path):
    far = write(tmp_path / "far.flac", hummed(song_beats(120.0, 30.0), 30.0, level=0.5))
    silent = write(tmp_path / "silent.flac", np.zeros(22050 * 10, np.float32))
    tracks = [songs[0][0], analyze_file(str(far)), analyze_file(str(silent))]
    chosen, skipped = choose_songs(tracks, SPM, max_stretch_pct=8.0)
    assert [s.result.path for s in chosen] == [songs[0][0].path]
    reasons = dict(skipped.reasons)
    assert "more than --max-stretch 8 %" in reasons[str(far)]
    assert str(silent) in reasons


def test_no_fitting_song_is_one_error_naming_the_nearest(songs):
    from cadence.errors import CadenceError

    with pytest.raises(CadenceError) as err:
        choose_songs([r for r, _ in songs], 200.0, max_stretch_pct=5.0)
    message = str(err.value)
    assert "no song fits 200 spm" in message and "b.flac (+19.0 %)" in message
    assert "--max-stretch 20" in message


def beats_off_the_clicks(info: dict, songs, clicks_s: np.ndarray, *, window) -> np.ndarray:
    """The songs' true beats heard in `window` (s), mapped by the reported time maps: the
    nearest click's distance."""
    by_path = {r.path: beats for r, beats in songs}
    offs = []
    for song in info["songs"]:
        pairs = np.array(song["time_map"])
        if len(pairs) < 2:
            continue
        true = by_path[song["path"]]
        true = true[(true > pairs[0, 0]) & (true < pairs[-1, 0])]
        mapped = np.interp(true, pairs[:, 0], pairs[:, 1])
        mapped = mapped[(mapped >= window[0]) & (mapped < window[1])]
        if len(mapped):
            offs.append(np.abs(mapped[:, None] - clicks_s[None, :]).min(axis=1))
    return np.concatenate(offs)


@pytest.fixture(scope="module")
def walked(songs, tmp_path_factory):
    """Two rounds of a 20 s run and a 10 s walk without a beat."""
    from cadence.core.session import parse_intervals

    chosen, _ = choose_songs([r for r, _ in songs], SPM, max_stretch_pct=8.0)
    programme = parse_intervals("run:20s,walk:10s")
    session = MusicSession(chosen, SPM, intervals=programme, repeat=2, click="on")
    out = tmp_path_factory.mktemp("walk") / "walk.flac"
    info = render_session_file(session, str(out), stems=True)
    music, sr = sf.read(info["stems"]["music"], dtype="float64")
    click, _ = sf.read(info["stems"]["click"], dtype="float64")
    return session, info, music[:, 0], click[:, 0], sr


def test_in_a_walk_without_a_beat_the_click_stops_and_the_music_plays_on_quieter(walked, songs):
    _session, info, music, click, sr = walked
    bar_s = 4 * 60 / SPM
    run_s, walk_s = round(20 / bar_s) * bar_s, round(10 / bar_s) * bar_s  # whole bars
    assert info["duration_s"] == pytest.approx(2 * (run_s + walk_s), abs=1e-3)
    rms = lambda a, b: np.sqrt(np.mean(music[round(a * sr) : round(b * sr)] ** 2))  # noqa: E731
    for start in (0.0, run_s + walk_s):
        walk = (start + run_s + 1.5, start + run_s + walk_s - 1.5)
        assert not np.any(np.abs(click[round(walk[0] * sr) : round((walk[1] - 2.0) * sr)]) > 1e-3)
        level_db = 20 * np.log10(rms(*walk) / rms(start + 2.0, start + run_s - 2.0))
        assert -12.0 < level_db < -8.0  # 10 dB down, a song's own dynamics aside
    quiet = np.abs(music[round(0.5 * sr) : -sr]) < 1e-4
    assert not quiet.all()
    clicks_s = click_starts(click, sr) / sr
    second_run = clicks_s[clicks_s > run_s + walk_s - 0.01]
    assert second_run[0] == pytest.approx(run_s + walk_s, abs=1 / sr)  # the run starts on time
    window = (run_s + walk_s, 2 * run_s + walk_s - 3.5)  # before the countdown pips
    off = beats_off_the_clicks(info, songs, second_run, window=window)
    # The window is 16.9 s: 46 steps, a beat on every one or (the 83 BPM song)
    # every other; which beats fall in it depends on where the songs were placed.
    assert len(off) >= 30
    assert np.median(off) < 0.004 and np.max(off) < 0.010  # on the beats


def test_a_walk_at_its_own_rate_gets_a_song_that_fits_it_on_its_clicks(songs, tmp_path):
    from cadence.core.session import parse_intervals

    chosen, _ = choose_songs([r for r, _ in songs], 150.0, max_stretch_pct=8.0)
    chosen += choose_songs([r for r, _ in songs], SPM, max_stretch_pct=8.0)[0]
    programme = parse_intervals("run:15s,walk:15s@150")
    session = MusicSession(chosen, SPM, intervals=programme, repeat=2)
    info = render_session_file(session, str(tmp_path / "w.flac"), stems=True)
    click, sr = sf.read(info["stems"]["click"], dtype="float64")
    clicks_s = click_starts(click[:, 0], sr) / sr
    run_s = round(15 / (4 * 60 / SPM)) * 4 * 60 / SPM
    walk_s = round(15 / (4 * 60 / 150)) * 4 * 60 / 150
    in_walk = clicks_s[(clicks_s > run_s + 0.01) & (clicks_s < run_s + walk_s - 3.5)]
    assert np.allclose(np.diff(in_walk), 60 / 150, atol=1.5 / sr)  # the walk's own grid
    walking = [s for s in info["songs"] if run_s - 0.01 <= s["start_s"] < run_s + walk_s]
    assert walking and all(abs(s["stretch_pct"]) <= 8.0 for s in walking)
    assert {s["path"] for s in walking} == {songs[0][0].path}  # a.flac (160) is the one at 150
    for window in ((0.0, run_s - 3.5), (run_s, run_s + walk_s - 3.5)):
        off = beats_off_the_clicks(info, songs, clicks_s, window=window)
        assert len(off) > 20 and np.median(off) < 0.004 and np.max(off) < 0.010, window


def test_a_part_whose_rate_no_song_fits_is_one_clear_error(songs):
    from cadence.core.session import parse_intervals
    from cadence.errors import CadenceError

    chosen, _ = choose_songs([r for r, _ in songs], SPM, max_stretch_pct=8.0)
    with pytest.raises(CadenceError, match="no song fits 120 spm .*--intervals.*@off"):
        MusicSession(chosen, SPM, intervals=parse_intervals("run:1m,walk:1m@120"))


def test_a_ramp_takes_music_and_click_up_together_in_small_stairs(songs, tmp_path):
    chosen, _ = choose_songs([r for r, _ in songs], SPM, max_stretch_pct=8.0)
    session = MusicSession(chosen, SPM, ramp_from_spm=159.0, ramp_over_s=30.0, duration_s=45.0)
    info = render_session_file(session, str(tmp_path / "ramp.flac"), stems=True)
    click, sr = sf.read(info["stems"]["click"], dtype="float64")
    clicks_s = click_starts(click[:, 0], sr) / sr
    rate = 60 / np.diff(clicks_s)
    assert rate[0] == pytest.approx(159.0, abs=0.05) and rate[-1] == pytest.approx(SPM, abs=0.05)
    assert np.all(np.diff(rate) > -0.05)  # up only ...
    assert np.max(np.diff(rate)) < 0.55  # ... in stairs of at most 0.5 spm
    stairs = [at for at, _ in session.plan.stairs]
    assert len(stairs) == 12 and stairs[-1] / sr == pytest.approx(30.0, abs=0.4)
    off = beats_off_the_clicks(info, songs, clicks_s, window=(0.0, 45.0))
    assert len(off) > 50 and np.median(off) < 0.004 and np.max(off) < 0.010


def test_a_ramp_without_a_length_plays_the_songs_once(songs):
    chosen, _ = choose_songs([r for r, _ in songs], SPM, max_stretch_pct=8.0)
    session = MusicSession(chosen, SPM, ramp_from_spm=159.0, ramp_over_s=30.0)
    entries = session.report()
    starts = {}
    for e in entries:  # a song re-planned at a stair goes on: one entrance each
        starts.setdefault(e["path"], e["start_s"])
    assert len(starts) == len(chosen) == 3
    last = max(entries, key=lambda e: e["end_s"])
    assert last["path"] == max(starts, key=starts.get)  # the session ends with the last song
    assert session.total_samples / session.sr == pytest.approx(last["end_s"], abs=0.05)
    assert session.options["duration_s"] < sum(r.duration_s for r, _ in songs)


def test_a_ramp_through_rates_no_song_fits_is_one_error_naming_the_stair(songs):
    from cadence.errors import CadenceError

    # Within 2 %, a.flac (160) plays 156.8-163.2 spm and b.flac (168) 164.6-171.4.
    chosen = choose_songs([r for r, _ in songs], 157.0, max_stretch_pct=2.0)[0]
    chosen += choose_songs([r for r, _ in songs], 171.0, max_stretch_pct=2.0)[0]
    assert len(chosen) == 2
    with pytest.raises(CadenceError, match=r"no song fits 163.5 spm .*a stair of the ramp"):
        MusicSession(chosen, 171.0, ramp_from_spm=157.0, ramp_over_s=20.0, max_stretch_pct=2.0)


def test_a_crossfade_longer_than_the_first_stretched_piece_plays_whole(tmp_path):
    # At 100 spm eight steps last 4.8 s, more than the 4-s first piece of the song
    # coming in (here the same song again): the song going out waits for the rest.
    from tests.conftest import REPO

    song = analyze_file(str(REPO / "audio" / "morning-coffee.wav"))
    chosen, _ = choose_songs([song], 100.0, max_stretch_pct=8.0)
    session = MusicSession(chosen, 100.0, duration_s=25.0, click="off")
    assert len(session.placements) == 2
    info = render_session_file(session, str(tmp_path / "slow.flac"))
    music, sr = sf.read(str(tmp_path / "slow.flac"), dtype="float64")
    assert info["duration_s"] == pytest.approx(25.0, abs=1 / sr)
    reference = np.concatenate(list(session.music()))
    np.testing.assert_allclose(music, np.clip(reference, -1, 1), atol=1e-4)  # 16 bits


def test_a_ramp_through_a_run_walk_programme_ramps_the_runs_with_the_music_on_the_clicks(
    songs, tmp_path
):
    from cadence.core.session import parse_intervals

    chosen, _ = choose_songs([r for r, _ in songs], SPM, max_stretch_pct=8.0)
    session = MusicSession(
        chosen,
        SPM,
        count_in=4,
        intervals=parse_intervals("run:18s,walk:8s"),
        repeat=2,
        ramp_from_spm=159.0,
        ramp_over_s=40.0,
    )
    info = render_session_file(session, str(tmp_path / "rw.flac"), stems=True)
    click, sr = sf.read(info["stems"]["click"], dtype="float64")
    clicks_s = click_starts(click[:, 0], sr) / sr
    count_in_s = info["count_in_s"]
    assert count_in_s == pytest.approx(4 * 60 / 159.0, abs=1 / sr)  # at the ramp's start
    ends = [round(e * sr) / sr + count_in_s for e in session.session.part_ends_s]
    assert len(ends) == 4 and info["duration_s"] == pytest.approx(ends[-1], abs=2 / sr)
    runs = [(count_in_s, ends[0]), (ends[1], ends[2])]
    for a, b in runs:
        in_run = clicks_s[(clicks_s >= a - 1e-3) & (clicks_s < b - 3.5)]  # before the pips
        assert in_run[0] == pytest.approx(a, abs=1 / sr)  # each run starts on its part's start
        steps = in_run[1:]  # (the change cue at a part's start rings into its second step)
        rate = 60 / np.diff(steps)
        assert np.all(np.diff(rate) > -0.05) and np.max(np.diff(rate)) < 0.55  # up, in stairs
        ramp = np.minimum(SPM, 159.0 + (SPM - 159.0) * (steps[1:] - count_in_s) / 40.0)
        assert np.all((rate > ramp - 0.55) & (rate < ramp + 0.05))  # the ramp, in stairs
        off = beats_off_the_clicks(info, songs, in_run, window=(a, b - 3.5))
        assert len(off) > 12 and np.median(off) < 0.004 and np.max(off) < 0.010  # on the beats
    walk = clicks_s[(clicks_s > ends[0] + 1.0) & (clicks_s < ends[1] - 3.5)]
    assert len(walk) == 0  # no click in the walk (its pips aside)
    for at, _rate in session.plan.rates:  # whole bars: each part starts on a step of the music
        assert session.plan.timeline_at(at - 1).on_step(at)


@pytest.mark.parametrize("stray_s", [-0.008, 0.0, 0.008])
def test_a_steady_song_goes_on_the_bar_by_its_grid_not_by_one_tracked_downbeat(stray_s):
    from cadence.core.songplan import plan_song
    from cadence.timeline import song_timing

    sr = 44100
    period_s = 60 / 160
    beats = 0.3 + np.arange(100) * period_s
    beats[8] += stray_s  # the first downbeat, placed a little off the grid
    plan = plan_song(
        beats,
        first_beat_s=0.3,
        period_s=period_s,
        residual_p95_ms=3.0,
        duration_s=40.0,
        spm=SPM,
        downbeats_s=beats[8::4],
    )
    grid_downbeat_s = float(plan.time_map.to_output(0.3 + 8 * period_s))
    assert song_timing(plan, sr=sr).downbeat == round(grid_downbeat_s * sr)
