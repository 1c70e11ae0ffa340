"""The beat tracker: pure functions on arrays, then whole files with known beats."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from cadence.analysis import analyze_file
from cadence.audio.decode import FINE_RATE_HZ, onset_envelope
from cadence.core.beat_level import beat_level, choose_beat_level, level_candidates
from cadence.core.beats import (
    DRIFT_P95_MS,
    TIGHTNESS,
    downbeat_phase,
    dp_beats,
    drifts,
    fit_grid,
    place_beats,
    track_beats,
)
from cadence.core.tempo import _combined_envelope
from cadence.errors import ParameterError
from tests.conftest import SHARED
from tests.music import clicks_on_beats, drums_on_beats, groove, write

MUSIC_DEV = SHARED / "bench" / "music-dev"
needs_music_dev = pytest.mark.skipif(
    not (MUSIC_DEV / "tracks.csv").exists(),
    reason=f"the music-dev set is not there: {MUSIC_DEV} (../shared beside the checkout)",
)


def matched_offsets_ms(found: np.ndarray, true: np.ndarray, window_s: float = 0.07) -> np.ndarray:
    """found - nearest true beat (ms), for the found beats within the window."""
    found, true = np.asarray(found), np.asarray(true)
    j = np.abs(found[:, None] - true[None, :]).argmin(axis=1)
    d = found - true[j]
    return 1000 * d[np.abs(d) <= window_s]


def f_measure(found: np.ndarray, true: np.ndarray, window_s: float = 0.07) -> float:
    """Share of beats matched one to one within the window (precision and recall)."""
    found, true = list(np.asarray(found)), list(np.asarray(true))
    hits, used = 0, set()
    for t in true:
        near = [
            (abs(f - t), i) for i, f in enumerate(found) if i not in used and abs(f - t) <= window_s
        ]
        if near:
            used.add(min(near)[1])
            hits += 1
    if not found or not true:
        return 0.0
    p, r = hits / len(found), hits / len(true)
    return 0.0 if hits == 0 else 2 * p * r / (p + r)


# --- pure functions -----------------------------------------------------------


def test_dp_beats_follow_a_pulse_and_bridge_a_missing_beat():
    x = np.zeros(1000)
    x[7::25] = 1.0
    x[107] = 0.0  # a beat with no onset: the chain still steps over it
    beats = dp_beats(x, period_frames=25.0)
    assert beats.tolist() == list(range(7, 1000, 25))


def _dp_beats_frame_by_frame(onset: np.ndarray, period_frames: float) -> list[int]:
    """The dynamic programme written plainly, one frame and one gap at a time."""
    x = np.asarray(onset, dtype=np.float64)
    x = x / x.std()
    lo, hi = max(1, round(period_frames / 2)), round(2 * period_frames)
    score, back = x.copy(), [-1] * len(x)
    for t in range(len(x)):
        best, link = -np.inf, -1
        for tau in range(lo, hi + 1):  # the shortest gap wins a tie
            if t - tau >= 0:
                value = score[t - tau] - TIGHTNESS * np.log(tau / period_frames) ** 2
                if value > best:
                    best, link = value, t - tau
        if best > 0:
            score[t], back[t] = x[t] + best, link
    tail = max(0, len(x) - round(period_frames))
    t = tail + int(np.argmax(score[tail:]))
    chain = []
    while t >= 0:
        chain.append(t)
        t = back[t]
    return chain[::-1]


@pytest.mark.parametrize("n_frames", [5, 12, 40, 700])
@pytest.mark.parametrize("period_frames", [2.5, 7.0, 23.3])
def test_dp_beats_is_the_plain_frame_by_frame_programme(n_frames, period_frames):
    rng = np.random.default_rng(n_frames)
    onset = rng.random(n_frames) ** 4  # sparse peaks and many near-ties
    onset[:: max(3, round(period_frames))] += 1.0
    found = dp_beats(onset, period_frames=period_frames).tolist()
    assert found == _dp_beats_frame_by_frame(onset, period_frames)


def test_dp_beats_of_silence_is_empty_and_bad_period_is_named():
    assert len(dp_beats(np.zeros(500), period_frames=20.0)) == 0
    with pytest.raises(ParameterError, match="period_frames"):
        dp_beats(np.ones(100), period_frames=1.0)


def test_fit_grid_recovers_first_beat_period_and_residual():
    rng = np.random.default_rng(1)
    beats = 0.123 + 0.4 * np.arange(100) + rng.normal(0, 0.002, 100)
    first, period, residual = fit_grid(beats)
    assert first == pytest.approx(0.123, abs=0.002)
    assert period == pytest.approx(0.4, abs=1e-4)
    assert np.median(np.abs(residual)) == pytest.approx(0.00135, abs=0.0008)


def test_place_beats_moves_a_rough_grid_onto_the_fine_onsets():
    rate = 300.0
    fine = np.zeros(int(30 * rate))
    true = 0.5 + 0.35 * np.arange(80)
    fine[np.round(true * rate).astype(int)] = 1.0
    rough = true + 0.025  # the coarse envelope's beats, 25 ms late
    placed = place_beats(rough, fine, fine_rate_hz=rate, fine_start_s=0.0)
    assert np.abs(placed - true).max() < 1.5 / rate


def test_downbeat_phase_is_the_strong_low_beat_or_none():
    assert downbeat_phase(np.array([30.0, 30.0, 34.0, 31.0] * 8)) == 2
    assert downbeat_phase(np.array([30.0, 30.5, 30.0, 30.2] * 8)) is None  # nothing stands out
    assert downbeat_phase(np.array([40.0, 20.0, 20.0])) is None  # under two bars


def test_level_candidates_stay_in_the_range():
    assert level_candidates(90.0) == [90.0, 180.0]
    assert level_candidates(150.0) == [75.0, 150.0]
    assert level_candidates(200.0) == [100.0, 200.0]


def test_choose_beat_level_prefers_the_level_whose_weights_score_higher():
    fr = 100.0
    env = np.zeros((2, 6000))
    env[:, ::40] = 1.0  # 150 BPM
    onset = env[0]
    # A model that only likes slow tempi picks the half; one that likes fast, the double.
    slow = (-1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    fast = (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert choose_beat_level(env, 150.0, frame_rate_hz=fr, onset=onset, weights=slow) == 75.0
    assert choose_beat_level(env, 150.0, frame_rate_hz=fr, onset=onset, weights=fast) == 150.0


def test_drifts_is_a_threshold_on_the_p95_residual():
    assert not drifts(DRIFT_P95_MS - 1)
    assert drifts(DRIFT_P95_MS + 1)


def test_track_beats_names_a_bad_tempo():
    with pytest.raises(ParameterError, match="bpm"):
        track_beats(
            np.ones((2, 100)),
            np.ones(400),
            bpm=0.0,
            frame_rate_hz=86.0,
            frame_start_s=0.0,
            fine_rate_hz=172.0,
            fine_start_s=0.0,
        )


# --- the fine onset function's timing, through the whole decoder --------------


@pytest.mark.parametrize("sr", [44100, 48000, 22050])
def test_fine_onsets_peak_at_the_attack_at_any_sample_rate(tmp_path, sr):
    true = 0.5 + np.arange(25) * 0.37
    path = write(tmp_path / f"hits-{sr}.wav", drums_on_beats(true, sr=sr, seconds=10.5), sr=sr)
    env = onset_envelope(path)
    peaks = []
    for t in true:
        a = int((t - env.fine_start_s - 0.03) * FINE_RATE_HZ)
        b = int((t - env.fine_start_s + 0.03) * FINE_RATE_HZ)
        peaks.append(env.fine_start_s + (a + int(np.argmax(env.fine[a:b]))) / FINE_RATE_HZ)
    assert abs(np.median(np.array(peaks) - true)) < 0.002  # within half a frame (2.9 ms)


# --- whole files with known beats ---------------------------------------------


def analysed(tmp_path, name: str, audio: np.ndarray, sr: int = 22050):
    return analyze_file(str(write(tmp_path / name, audio, sr=sr)))


def test_steady_groove_beats_land_on_the_true_beats(tmp_path):
    true = 0.3 + np.arange(150) * 60 / 150
    r = analysed(tmp_path, "steady.flac", drums_on_beats(true, seconds=61.0))
    assert r.bpm == pytest.approx(150, abs=0.3)
    assert f_measure(r.beats, true) > 0.97
    offsets = matched_offsets_ms(np.array(r.beats), true)
    assert np.median(np.abs(offsets)) < 5
    assert r.period_s == pytest.approx(0.4, abs=2e-4)
    assert r.grid_residual_ms["median"] < 3 and not drifts(r.grid_residual_ms["p95"])


def test_swung_eighths_keep_the_quarter_note_beat(tmp_path):
    true = 0.2 + np.arange(130) * 60 / 130
    r = analysed(tmp_path, "swing.flac", drums_on_beats(true, swing=2 / 3, seconds=61.0))
    assert r.bpm == pytest.approx(130, abs=0.5)
    assert f_measure(r.beats, true) > 0.95


def test_tempo_change_is_followed_and_flagged_as_off_the_grid(tmp_path):
    # 30 s at 146 BPM, then 30 s at 160: one grid cannot hold both.
    first = 0.25 + np.arange(73) * 60 / 146
    second = first[-1] + 60 / 146 + np.arange(80) * 60 / 160
    true = np.concatenate([first, second])
    r = analysed(tmp_path, "change.flac", drums_on_beats(true, seconds=61.0))
    assert f_measure(r.beats, true) > 0.9
    assert drifts(r.grid_residual_ms["p95"])


def test_silence_at_the_start_has_no_beats(tmp_path):
    true = 10.0 + np.arange(100) * 60 / 150
    r = analysed(tmp_path, "late.flac", drums_on_beats(true, seconds=50.5))
    assert min(r.beats) > 10.0 - 0.05
    assert f_measure(r.beats, true) > 0.97
    assert r.first_beat_s == pytest.approx(10.0, abs=0.01)


@pytest.mark.parametrize("first_s", [0.0, 0.005])
def test_a_song_that_starts_on_its_beat_keeps_that_beat(tmp_path, first_s):
    # The coarse flux of an attack on the first samples cannot peak before
    # frame 0: the programme started on the second beat.
    true = first_s + np.arange(60) * 0.36
    r = analysed(tmp_path, "on the beat.flac", drums_on_beats(true, seconds=true[-1] + 0.25))
    assert len(r.beats) == len(true)
    assert np.abs(np.array(r.beats) - true).max() < 0.006


def test_a_recording_analysed_in_its_middle_says_where_its_beats_are(tmp_path):
    true = 0.3 + np.arange(100) * 0.4
    path = write(tmp_path / "long mix.flac", drums_on_beats(true, seconds=40.5))
    r = analyze_file(str(path), max_analysis_s=20.0)
    assert r.analysed_s == pytest.approx(20.0) and r.duration_s == pytest.approx(40.5, abs=0.01)
    assert 10.0 <= r.beats[0] < 10.5 and 29.5 < r.beats[-1] <= 30.3
    assert r.note == "beats from 0:10 to 0:30 only (of 0:40: the analysis reads 0:20 at most)"
    assert analyze_file(str(path)).note is None  # read whole


@needs_music_dev
@pytest.mark.parametrize("name", ["bs_remake.ogg", "ch_lvl_insane.ogg"])
def test_the_last_beat_before_the_end_of_a_real_song_is_found(name):
    # Music plays to the end of these excerpts; the programme's chain ended a
    # beat early (0.3 and 0.4 s before the last true beat).
    with open(MUSIC_DEV / "tracks.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["file"].endswith(name))
    bpm, first, duration = (float(row[k]) for k in ("bpm", "first_beat_s", "duration_s"))
    true = first + np.arange(int((duration - first) * bpm / 60) + 1) * 60 / bpm
    r = analyze_file(str(MUSIC_DEV / row["file"]))
    assert r.beats[-1] == pytest.approx(true[-1], abs=0.03)


def test_extend_ends_adds_only_beats_that_stand_on_onsets():
    from cadence.core.beat_edges import extend_ends

    rate = 300.0
    true = 0.5 + 0.4 * np.arange(40)
    fine = np.zeros(int(17 * rate))
    fine[np.round(true * rate).astype(int)] = 1.0
    found = true[3:-2]
    np.testing.assert_allclose(
        extend_ends(found, fine, fine_rate_hz=rate, fine_start_s=0.0), true, atol=1 / rate
    )
    fine[np.round(true[:2] * rate).astype(int)] = 0.2  # a soft intro: not beats of this strength
    fine[np.round(true[-1] * rate).astype(int)] = 0.0  # nothing there
    extended = extend_ends(found, fine, fine_rate_hz=rate, fine_start_s=0.0)
    np.testing.assert_allclose(extended, true[2:-1], atol=1 / rate)
    # An onset that peaks before the track's first sample is not a beat in it.
    fine = np.zeros(int(17 * rate))
    early = -0.02 + 0.4 * np.arange(40)
    fine[np.round((early + 0.05) * rate).astype(int)] = 1.0
    extended = extend_ends(early[1:], fine, fine_rate_hz=rate, fine_start_s=-0.05)
    assert extended[0] == pytest.approx(early[1], abs=1 / rate)
    # A window from the middle of a file, at 10 s: its audio starts from the
    # silence before it, an onset that is not the music's.
    fine = np.zeros(int(17 * rate))
    grid = 10.0 + 0.4 * np.arange(40)
    fine[np.round((grid - 10.0) * rate).astype(int)] = 1.0
    kwargs = {"fine_rate_hz": rate, "fine_start_s": 10.0}
    assert len(extend_ends(grid[1:], fine, **kwargs, earliest_s=10.05)) == len(grid) - 1
    assert len(extend_ends(grid[1:], fine, **kwargs)) == len(grid)  # were it the file's start
    # A beat predicted before the onset function begins is not looked for.
    late = extend_ends(grid[1:-4], fine[60:], fine_rate_hz=rate, fine_start_s=10.2)
    assert late[0] == grid[1] and len(late) == len(grid) - 1


def _onsets_between_frames(times_s: np.ndarray, *, rate: float, n: int) -> np.ndarray:
    """A fine onset function whose peaks fall at `times_s`, between its frames."""
    frames = np.arange(n) / rate
    near = np.abs(frames[:, None] - times_s[None, :]).min(axis=1)
    return np.maximum(0.0, 1.0 - (near * rate / 2.0) ** 2)


def test_edge_beats_are_placed_between_frames():
    from cadence.core.beat_edges import extend_ends, mend_start

    rate = 172.0  # 5.8 ms a frame: on whole frames an edge beat was up to 2.9 ms off
    true = 0.0473 + 0.3658 * np.arange(60)
    fine = _onsets_between_frames(true, rate=rate, n=int(23 * rate))
    extended = extend_ends(true[1:-1], fine, fine_rate_hz=rate, fine_start_s=0.0)
    assert len(extended) == len(true)
    np.testing.assert_allclose(extended[[0, -1]], true[[0, -1]], atol=0.0005)
    found = true.copy()
    found[:3] -= 0.06  # ran ahead in the intro
    mended = mend_start(found, fine, fine_rate_hz=rate, fine_start_s=0.0)
    np.testing.assert_allclose(mended[:3], true[:3], atol=0.0005)


def test_pickup_beat_is_not_taken_for_the_downbeat(tmp_path):
    # The first beat is the fourth of its bar: the bars start at the second.
    true = 0.5 + np.arange(141) * 60 / 140
    r = analysed(tmp_path, "pickup.flac", drums_on_beats(true, first_bar_beat=3, seconds=62.0))
    bar_starts = true[1::4]
    assert r.downbeats, "the kick and bass on beat 1 tell the bar"
    assert f_measure(r.downbeats, bar_starts) > 0.9
    assert not np.any(np.abs(np.array(r.downbeats) - true[0]) < 0.07)


def test_click_track_at_180_is_read_at_180_with_beats_on_the_clicks(tmp_path):
    true = 0.1 + np.arange(178) * 60 / 180
    audio = clicks_on_beats(true, sr=44100, seconds=60.0)
    r = analysed(tmp_path, "click180.wav", audio, sr=44100)
    assert r.bpm == pytest.approx(180, abs=0.2)
    offsets = matched_offsets_ms(np.array(r.beats), true)
    assert len(offsets) >= 170 and np.percentile(np.abs(offsets), 95) < 4


def test_bpm_is_the_tempo_the_beats_are_tracked_at(tmp_path):
    true = 0.3 + np.arange(120) * 60 / 123
    r = analysed(tmp_path, "grid.flac", drums_on_beats(true, seconds=60.0))
    assert r.bpm == pytest.approx(123, abs=0.15)
    assert 60 / r.period_s == pytest.approx(r.bpm, abs=0.15)


# --- real music with hand-synced beats ----------------------------------------


@needs_music_dev
def test_real_songs_beats_match_their_chart_grids():
    with open(MUSIC_DEV / "tracks.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    scores, offsets = [], []
    for row in rows:
        bpm, first, dur = float(row["bpm"]), float(row["first_beat_s"]), float(row["duration_s"])
        true = first + np.arange(int((dur - first) * bpm / 60) + 1) * 60 / bpm
        r = analyze_file(str(MUSIC_DEV / row["file"]))
        assert r.error is None and r.beats
        scores.append(f_measure(r.beats, true))
        offsets.append(matched_offsets_ms(np.array(r.beats), true))
    # The whole set well (benchmarks/beat_accuracy.py has the exact figures),
    # most songs almost perfectly, and the beats a click's width from the charts.
    assert np.mean(scores) > 0.85
    assert np.mean(np.array(scores) > 0.95) >= 0.6
    assert np.median(np.abs(np.concatenate(offsets))) < 12


def test_no_beat_is_placed_before_the_start_of_the_track():
    # The attacks fall 20 ms before each coarse beat, the first one before the
    # file's first sample: its local grid slides it there, and it is dropped.
    fr, fine_rate = 100.0, 400.0
    bands = np.zeros((3, 3000))
    bands[:2, ::40] = 1.0  # 150 BPM from frame 0
    fine_start_s = -0.05
    fine = np.zeros(int(30 * fine_rate))
    attacks = np.arange(0, 30, 0.4) - 0.02
    fine[np.round((attacks - fine_start_s) * fine_rate).astype(int)] = 1.0
    grid = track_beats(
        bands,
        fine,
        bpm=150.0,
        frame_rate_hz=fr,
        frame_start_s=0.0,
        fine_rate_hz=fine_rate,
        fine_start_s=fine_start_s,
    )
    assert grid.beats_s.min() >= 0.0
    assert grid.beats_s[0] == pytest.approx(0.38, abs=0.003)


def test_mend_start_puts_a_soft_intros_early_beats_back_on_the_grid():
    from cadence.core.beat_edges import mend_start

    rate = 300.0
    true = 0.1 + 0.43 * np.arange(60)
    fine = np.zeros(int(30 * rate))
    fine[np.round(true * rate).astype(int)] = 1.0
    found = true.copy()
    found[:5] -= np.array([0.098, 0.090, 0.084, 0.079, 0.074])  # ran ahead, as in a real intro
    mended = mend_start(found, fine, fine_rate_hz=rate, fine_start_s=0.0)
    assert np.abs(mended - true).max() < 1.5 / rate
    steady = mend_start(true, fine, fine_rate_hz=rate, fine_start_s=0.0)
    np.testing.assert_array_equal(steady, true)  # a steady track is left as it is


def test_the_beat_levels_chain_is_the_one_track_beats_would_find(tmp_path):
    env = onset_envelope(write(tmp_path / "groove.wav", groove(172, 20)))
    onset = _combined_envelope(env.bands, frame_rate_hz=env.frame_rate_hz)
    level = beat_level(env.bands, 172.0, frame_rate_hz=env.frame_rate_hz, onset=onset)
    assert level.bpm == choose_beat_level(
        env.bands, 172.0, frame_rate_hz=env.frame_rate_hz, onset=onset
    )
    common = dict(
        bpm=level.bpm,
        frame_rate_hz=env.frame_rate_hz,
        frame_start_s=env.frame_start_s,
        fine_rate_hz=FINE_RATE_HZ,
        fine_start_s=env.fine_start_s,
        onset=onset,
    )
    assert level.frames is not None
    period_frames = 60 * env.frame_rate_hz / level.bpm
    np.testing.assert_array_equal(level.frames, dp_beats(onset, period_frames=period_frames))
    given = track_beats(env.bands, env.fine, frames=level.frames, **common)
    found = track_beats(env.bands, env.fine, **common)
    np.testing.assert_array_equal(given.beats_s, found.beats_s)
    assert given.period_s == found.period_s


def test_the_beat_level_reads_the_tempo_estimates_autocorrelation_as_its_own(tmp_path):
    from cadence.core.tempo import estimate_tempo

    env = onset_envelope(write(tmp_path / "groove.wav", groove(172, 20)))
    onset = _combined_envelope(env.bands, frame_rate_hz=env.frame_rate_hz)
    found = estimate_tempo(env.bands, frame_rate_hz=env.frame_rate_hz).periodicity
    np.testing.assert_array_equal(found.onset, onset)
    computed = beat_level(env.bands, 172.0, frame_rate_hz=env.frame_rate_hz, onset=onset)
    reused = beat_level(
        env.bands, 172.0, frame_rate_hz=env.frame_rate_hz, onset=found.onset, periodicity=found
    )
    assert reused.bpm == computed.bpm
    np.testing.assert_array_equal(reused.frames, computed.frames)
    # An autocorrelation of another onset envelope is not taken for this one's.
    other = beat_level(
        env.bands, 172.0, frame_rate_hz=env.frame_rate_hz, onset=onset.copy(), periodicity=found
    )
    np.testing.assert_array_equal(other.frames, computed.frames)


def test_the_onset_strengths_near_beats_are_the_window_maxima_inside_the_function():
    from cadence.core.beat_edges import _strengths_near

    f = np.random.default_rng(3).random(500)
    reach = 4
    beats = np.array([-0.02, 0.0, 0.013, 0.5, 2.0, 4.95, 4.96, 5.5])  # rate 100: frames -2 .. 550

    def to_frame(t):
        return round(t * 100.0)

    expected = [
        f[max(0, j - reach) : j + reach + 1].max()
        for j in map(to_frame, beats)
        if j >= 0 and j + reach < len(f)
    ]
    assert len(expected) == 5  # the one before the start and the two past the end are left out
    found = _strengths_near([to_frame(t) for t in beats], f, reach=reach)
    np.testing.assert_array_equal(found, expected)
