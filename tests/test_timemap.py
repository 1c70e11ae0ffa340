"""Time maps, pieces, crossfades and the step grid: pure functions on arrays."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cadence.core.songfit import fit_to_cadence
from cadence.core.songplan import plan_song
from cadence.core.timemap import (
    MAP_TOLERANCE_S,
    TimeMap,
    beat_time_map,
    click_samples,
    crossfade_gains,
    drift_is_smooth,
    grid_indices,
    plan_pieces,
)
from cadence.errors import ParameterError


def drifting_beats(bpm: float = 150.0, n: int = 160, *, wander: float = 0.015) -> np.ndarray:
    """Beats of a drummer whose tempo wanders by ±`wander` around `bpm` every 64 beats
    (at 1.5 %, the beats stray up to 60 ms from a steady grid)."""
    k = np.arange(n)
    local_bpm = bpm * (1 + wander * np.sin(2 * np.pi * k / 64))
    return 0.4 + np.concatenate([[0.0], np.cumsum(60.0 / local_bpm[:-1])])


def test_a_song_near_the_cadence_is_played_one_step_a_beat():
    fit = fit_to_cadence(165.0, 170.0)
    assert fit.steps_per_beat == 1
    assert fit.target_bpm == 170.0
    assert fit.stretch_pct == pytest.approx(100 * (170 / 165 - 1))


def test_a_song_near_half_the_cadence_is_played_at_half_time():
    fit = fit_to_cadence(88.0, 170.0)
    assert fit.steps_per_beat == 2
    assert fit.target_bpm == 85.0
    assert fit.speed == pytest.approx(85 / 88)


@pytest.mark.parametrize("bpm, spm", [(0.0, 170.0), (120.0, -1.0), (float("nan"), 170.0)])
def test_fit_refuses_a_tempo_or_cadence_that_is_not_positive(bpm, spm):
    with pytest.raises(ParameterError):
        fit_to_cadence(bpm, spm)


def test_a_missing_beat_skips_a_grid_slot():
    assert grid_indices(np.array([0.0, 0.5, 1.0, 2.0, 2.5]), period_s=0.5).tolist() == [
        0,
        1,
        2,
        4,
        5,
    ]


def test_a_time_map_inverts_and_goes_on_past_its_knots():
    m = TimeMap(np.array([0.0, 10.0, 20.0]), np.array([0.0, 9.0, 19.0]))
    t = np.array([-2.0, 0.0, 5.0, 15.0, 25.0])
    assert m.to_source(m.to_output(t)) == pytest.approx(t)
    assert m.to_output(-2.0) == pytest.approx(-1.8)  # the first slope, before the map
    assert m.to_output(25.0) == pytest.approx(24.0)  # the last one, after it
    assert m.slopes == pytest.approx([0.9, 1.0])


@pytest.mark.parametrize(
    "src, out", [([0.0], [0.0]), ([0.0, 1.0], [0.0, 0.0]), ([1.0, 0.0], [0.0, 1.0])]
)
def test_a_time_map_refuses_knots_that_do_not_increase(src, out):
    with pytest.raises(ParameterError):
        TimeMap(np.array(src), np.array(out))


def test_a_steady_song_is_one_ratio_with_every_grid_beat_on_its_slot():
    period, target = 60 / 165, 60 / 170
    beats = 0.7 + np.arange(200) * period
    m = beat_time_map(beats, first_beat_s=0.7, period_s=period, target_period_s=target, steady=True)
    assert len(m.source_s) == 2
    out = m.to_output(beats)
    assert np.diff(out) == pytest.approx(np.full(199, target))
    assert m.to_output(0.0) == 0.0


def test_a_drifting_song_puts_every_beat_near_its_slot_with_few_bends():
    beats = drifting_beats()
    index = grid_indices(beats, period_s=0.4)
    m = beat_time_map(
        beats, first_beat_s=beats[0], period_s=0.4, target_period_s=60 / 160, steady=False
    )
    slots = m.to_output(beats[0]) + index * 60 / 160
    off = np.abs(m.to_output(beats) - slots)
    # The map is drawn within the tolerance of the smoothed beats; smoothing
    # rounds the drift's turns off by a few ms more.
    assert np.median(off) <= MAP_TOLERANCE_S and np.max(off) <= 0.010
    assert 3 < len(m.source_s) < len(beats) / 2  # it bends, but not at every beat


def test_one_misplaced_beat_does_not_bend_a_drifting_map():
    beats = drifting_beats()
    wrong = beats.copy()
    wrong[80] += 0.05
    kw = dict(first_beat_s=beats[0], period_s=0.4, target_period_s=0.375, steady=False)
    bad = beat_time_map(wrong, **kw)
    slot = bad.to_output(beats[0]) + grid_indices(beats, period_s=0.4)[80] * 0.375
    assert bad.to_output(beats[80]) == pytest.approx(slot, abs=0.010)  # not pulled 50 ms


def test_a_smooth_drift_is_told_from_a_tracker_that_slips():
    beats = drifting_beats()
    assert drift_is_smooth(beats, first_beat_s=beats[0], period_s=0.4)
    slipped = beats.copy()
    slipped[60:76] += 0.2  # 16 beats on the off-beat, then back
    assert not drift_is_smooth(slipped, first_beat_s=beats[0], period_s=0.4)
    scattered = beats + np.random.default_rng(0).normal(0, 0.03, len(beats))
    assert not drift_is_smooth(scattered, first_beat_s=beats[0], period_s=0.4)


def test_plan_song_follows_a_smooth_drift_and_not_a_steady_song():
    beats = drifting_beats()
    drifting = plan_song(
        beats, first_beat_s=beats[0], period_s=0.4, residual_p95_ms=80.0, duration_s=70.0, spm=155
    )
    assert not drifting.steady
    steady_beats = 0.4 + np.arange(150) * 0.4
    steady = plan_song(
        steady_beats, first_beat_s=0.4, period_s=0.4, residual_p95_ms=2.0, duration_s=62, spm=155
    )
    assert steady.steady
    assert steady.grid_start_s == pytest.approx(0.4 * 150 / 155)


def test_plan_song_refuses_a_song_beyond_the_largest_stretch():
    beats = 0.5 + np.arange(100) * 0.5  # 120 BPM
    with pytest.raises(ParameterError) as err:
        plan_song(
            beats,
            first_beat_s=0.5,
            period_s=0.5,
            residual_p95_ms=1,
            duration_s=51,
            spm=140,
            max_stretch_pct=8,
        )
    assert err.value.parameter == "max_stretch"
    assert "+16.7 %" in str(err.value)


def test_pieces_cover_the_song_end_to_end_and_cut_on_beats():
    beats = 0.3 + np.arange(300) * 0.4
    m = TimeMap(np.array([0.0, 1.0]), np.array([0.0, 0.97]))
    pieces = plan_pieces(m, duration_s=121.0, beats_s=beats, max_piece_s=20.0, first_piece_s=4.0)
    assert pieces[0].source_start_s == 0.0 and pieces[-1].source_end_s == 121.0
    for a, b in itertools.pairwise(pieces):
        assert a.source_end_s == b.source_start_s and a.output_end_s == b.output_start_s
        assert np.min(np.abs(beats - a.source_end_s)) < 1e-9  # every cut is on a beat
    lengths = [p.output_end_s - p.output_start_s for p in pieces]
    assert lengths[0] <= 4.0 and max(lengths) <= 20.0
    assert {round(p.speed, 6) for p in pieces} == {round(1 / 0.97, 6)}


def test_pieces_break_where_a_drifting_map_bends():
    m = TimeMap(np.array([0.0, 10.0, 20.0, 30.0]), np.array([0.0, 9.0, 19.0, 28.0]))
    pieces = plan_pieces(m, duration_s=30.0, beats_s=np.arange(0, 30, 0.5))
    assert [p.source_end_s for p in pieces] == [10.0, 20.0, 30.0]


def test_crossfade_gains_keep_the_power():
    fade_out, fade_in = crossfade_gains(882)
    assert fade_out**2 + fade_in**2 == pytest.approx(np.ones(882), abs=1e-6)
    assert fade_out[0] > 0.99 and fade_in[-1] > 0.99


def test_the_step_grid_is_closed_form_to_the_sample_for_an_hour():
    sr, spm = 44100, 171.3
    steps = click_samples(12345, spm=spm, sr=sr, n_samples=3600 * sr)
    j = np.arange(len(steps))
    j0 = -(12345 // (60 * sr / spm))
    assert np.array_equal(steps, 12345 + np.round((j + j0) * 60 * sr / spm).astype(np.int64))
    assert steps[0] >= 0 and steps[0] < 60 * sr / spm  # the grid goes back to the start


def test_every_nth_step_keeps_the_anchor():
    steps = click_samples(1000, spm=120.0, sr=1000, n_samples=5000, every=2)
    assert 1000 in steps.tolist() and np.all(np.diff(steps) == 1000)
