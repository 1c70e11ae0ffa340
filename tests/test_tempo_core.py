"""Tempo estimation on synthetic onset envelopes, and tempo matching (pure core)."""

import math

import numpy as np
import pytest

from cadence.core.matching import fold_bpm, match_tempo, tempo_alternatives
from cadence.core.tempo import (
    COMB_LAG_TOLERANCE,
    TYPICAL_BPM_RANGE,
    _widen,
    estimate_tempo,
    tempo_prior,
)
from cadence.errors import ParameterError

FR = 11025 / 128


def pulses(bpm, seconds, *, jitter_s=0.0, seed=0, fr=FR, accent_every=0, offbeats=0.0):
    """An onset envelope: a pulse per beat (optionally weaker off-beats), with timing jitter."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fr)
    env = np.abs(rng.normal(0, 0.02, n))
    beat_s = 60.0 / bpm
    k = 0
    while k * beat_s < seconds - 0.1:
        t = k * beat_s + rng.normal(0, jitter_s)
        i = round(t * fr)
        if 0 <= i < n:
            env[i] += 1.5 if accent_every and k % accent_every == 0 else 1.0
        if offbeats:
            j = round((t + beat_s / 2) * fr)
            if 0 <= j < n:
                env[j] += offbeats
        k += 1
    return env


@pytest.mark.parametrize("bpm", [84.0, 96.0, 110.0, 123.4, 137.0])
def test_steady_pulse_tempo_is_found_to_a_fraction_of_a_bpm(bpm):
    est = estimate_tempo(pulses(bpm, 60, jitter_s=0.008, seed=int(bpm)), frame_rate_hz=FR)
    assert est.bpm == pytest.approx(bpm, abs=0.3)
    assert est.confidence > 0.5
    assert est.stability == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("bpm", [60.0, 172.0, 190.0])
def test_far_tempi_are_found_up_to_an_octave(bpm):
    est = estimate_tempo(pulses(bpm, 60, jitter_s=0.005), frame_rate_hz=FR)
    assert any(est.bpm == pytest.approx(bpm * f, abs=0.5) for f in (0.5, 1, 2))
    readings = {round(c[0]) for c in est.candidates}
    assert round(est.bpm * 2) in readings or round(est.bpm / 2) in readings


def test_precision_does_not_depend_on_the_frame_grid():
    # 127.3 BPM: the beat period is 40.6 frames, never a whole number.
    est = estimate_tempo(pulses(127.3, 90), frame_rate_hz=FR)
    assert est.bpm == pytest.approx(127.3, abs=0.15)


def test_silence_and_short_clips_have_no_tempo():
    assert estimate_tempo(np.zeros(int(30 * FR)), frame_rate_hz=FR).bpm is None
    assert estimate_tempo(pulses(120, 2), frame_rate_hz=FR).bpm is None
    assert estimate_tempo(np.zeros((2, 0)), frame_rate_hz=FR).confidence == 0


def test_noise_has_no_tempo_and_a_clear_beat_does():
    # Some tempo always scores best on noise, by chance: it was read at 88 BPM
    # (confidence 0.07) and listed in a playlist.
    for seed in range(5):
        noise = np.abs(np.random.default_rng(seed).normal(0, 1, int(40 * FR)))
        est = estimate_tempo(noise, frame_rate_hz=FR)
        assert est.bpm is None and est.confidence == 0
    assert estimate_tempo(pulses(120, 40), frame_rate_hz=FR).confidence > 0.5


def test_short_tracks_get_lower_confidence():
    long = estimate_tempo(pulses(120, 60), frame_rate_hz=FR)
    short = estimate_tempo(pulses(120, 8), frame_rate_hz=FR)
    assert short.bpm == pytest.approx(120, abs=1)
    assert short.confidence < long.confidence


def test_a_tempo_change_shows_as_low_stability():
    steady = estimate_tempo(pulses(120, 64), frame_rate_hz=FR)
    changing = estimate_tempo(
        np.concatenate([pulses(120, 32), pulses(132, 32, seed=1)]), frame_rate_hz=FR
    )
    assert steady.stability == pytest.approx(1.0, abs=0.05)
    assert changing.stability < 0.75


def test_two_band_envelope_is_accepted():
    full = pulses(100, 40, offbeats=0.5)
    low = pulses(100, 40, seed=2)
    est = estimate_tempo(np.stack([full, low]), frame_rate_hz=FR)
    assert est.bpm == pytest.approx(100, abs=0.5)


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [({"frame_rate_hz": 0}, "frame_rate_hz"), ({"frame_rate_hz": FR, "min_bpm": 300}, "min_bpm")],
)
def test_bad_parameters(kwargs, parameter):
    with pytest.raises(ParameterError) as info:
        estimate_tempo(pulses(120, 10), **kwargs)
    assert info.value.parameter == parameter


@pytest.mark.parametrize(
    ("bpm", "target", "factor", "step", "off", "stretch"),
    [
        (172.0, 172, 1, 172.0, 0.0, 0.0),
        (86.0, 172, 2, 172.0, 0.0, 0.0),
        (175.0, 172, 1, 175.0, 3.0, -1.7),
        (84.5, 172, 2, 169.0, -3.0, 1.8),
        (175.1, 172, None, 175.1, 3.1, -1.8),
        (120.0, 172, None, 120.0, -52.0, 43.3),
        (90.0, 164, None, 180.0, 16.0, -8.9),
    ],
)
def test_match_tempo(bpm, target, factor, step, off, stretch):
    m = match_tempo(bpm, target_spm=target)
    assert (m.match_factor, m.step_bpm, m.off_spm, m.stretch_pct) == (factor, step, off, stretch)


def test_match_tempo_without_a_tempo_and_with_a_wider_tolerance():
    assert match_tempo(None, target_spm=172).match_factor is None
    assert match_tempo(float("nan"), target_spm=172).step_bpm is None
    assert match_tempo(166.0, target_spm=172, tolerance_spm=6).match_factor == 1
    with pytest.raises(ParameterError, match="^tolerance_spm:"):
        match_tempo(166.0, target_spm=172, tolerance_spm=0)


def test_fold_and_alternatives():
    assert fold_bpm(344.0) == 86.0
    assert fold_bpm(35.0) == 70.0
    assert tempo_alternatives(83.5) == {"half": 41.8, "double": 167.0}
    with pytest.raises(ParameterError):
        fold_bpm(0.0)


def drum_envelope(seconds, hits, *, seed=0, fr=FR):
    """Two-band envelope of `hits`, ``(time_s, full_band, low_band)`` each, in time
    order, with slight human timing. Row 0 is the full band, row 1 the low band."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fr)
    env = np.abs(rng.normal(0, 0.02, (2, n)))
    for t, full, low in hits:
        i = round((t + rng.normal(0, 0.004)) * fr)
        if 0 <= i < n:
            env[0, i] += full
            env[1, i] += low
    return env


def rock_beat(bpm, seconds, *, seed=0, fr=FR):
    """A plain rock beat: hi-hat on every eighth, kick on 1 and 3, snare on 2 and 4
    (the drums add little to the hats in log-mel flux)."""
    eighth_s = 30.0 / bpm
    hits = [
        (
            k * eighth_s,
            1.0 + (0.4 if k % 2 == 0 else 0.0),
            (1.0 if k % 4 == 0 else 0.4) * (k % 2 == 0),
        )
        for k in range(int(seconds / eighth_s))
    ]
    return drum_envelope(seconds, hits, seed=seed, fr=fr)


@pytest.mark.parametrize("bpm", [96.0, 120.0, 126.0, 140.0, 150.0])
def test_plain_rock_beat_is_read_at_its_beat_not_at_three_eighths(bpm):
    # Hats on every eighth fill the short lags for a pulse of three eighths
    # (2/3 of the tempo) as well as for the beat; the bar-level lags tell them apart.
    est = estimate_tempo(rock_beat(bpm, 60, seed=int(bpm)), frame_rate_hz=FR)
    assert est.bpm == pytest.approx(bpm, rel=0.01)


def six_eight_groove(eighth_bpm, seconds, *, hats=0.3, seed=0, fr=FR):
    """A 6/8 groove: kick on eighth 1, snare on eighth 4, hats (`hats` loud) on every eighth."""
    eighth_s = 60.0 / eighth_bpm
    hits = [
        (
            k * eighth_s,
            hats + (1.0 if k % 3 == 0 else 0.0),
            (1.0 if k % 6 == 0 else 0.3) * (k % 3 == 0),
        )
        for k in range(int(seconds / eighth_s))
    ]
    return drum_envelope(seconds, hits, seed=seed, fr=fr)


@pytest.mark.parametrize("eighth_bpm", [120.0, 140.0, 160.0, 180.0, 200.0])
@pytest.mark.parametrize("hats", [0.1, 0.3])
def test_a_six_eight_groove_is_read_at_a_pulse_whose_beats_all_sound(eighth_bpm, hats):
    # Twice the dotted-quarter pulse (four beats a bar, every other one between
    # two eighths) fills the comb's even lags as well as any reading; it used to
    # be read so in every case here. (With no eighths sounding at all, kick and
    # snare alone, that reading is as good as any and is kept.)
    env = six_eight_groove(eighth_bpm, 60, hats=hats, seed=int(eighth_bpm))
    est = estimate_tempo(env, frame_rate_hz=FR)
    eighths_a_beat = eighth_bpm / est.bpm
    assert eighths_a_beat == pytest.approx(round(eighths_a_beat), abs=0.02)  # 1, 2 or 3


@pytest.mark.parametrize(
    ("min_bpm", "max_bpm", "bpm"), [(80, 100, 93.3), (90, 96, 93.3), (130, 150, 140.0)]
)
def test_a_range_that_leaves_out_the_division_keeps_the_reading_inside_it(min_bpm, max_bpm, bpm):
    # Eighths at 140: with neither 140 nor 70 in the range, 93.3 is the groove's
    # only reading inside it (not the range's edge).
    env = six_eight_groove(140, 60, hats=0.3, seed=140)
    est = estimate_tempo(env, frame_rate_hz=FR, min_bpm=min_bpm, max_bpm=max_bpm)
    assert est.bpm == pytest.approx(bpm, abs=0.2)


def swing_groove(bpm, seconds, *, ride=0.4, seed=0, fr=FR):
    """Swung 4/4: ride on every beat, kick on 1 and 3, snare on 2 and 4, each
    followed by the swung eighth two thirds of a beat later."""
    beat_s = 60.0 / bpm
    hits = []
    for k in range(int(seconds / beat_s)):
        hits.append((k * beat_s, ride + (0.8 if k % 2 else 0.6), 0.0 if k % 2 else 0.8))
        if k % 2:
            hits.append(((k + 2 / 3) * beat_s, 0.7 * ride, 0.0))
    return drum_envelope(seconds, hits, seed=seed, fr=fr)


@pytest.mark.parametrize("bpm", [100.0, 120.0, 140.0])
def test_swung_eighths_are_not_read_as_a_triple_pulse(bpm):
    est = estimate_tempo(swing_groove(bpm, 60, seed=int(bpm)), frame_rate_hz=FR)
    assert est.bpm == pytest.approx(bpm, rel=0.01)


def test_comb_lags_read_the_peak_between_grid_points():
    acf = np.zeros(2000)
    acf[1000] = 1.0  # one narrow peak at lag 1000 frames
    widened = _widen(acf, tolerance=COMB_LAG_TOLERANCE)
    assert widened[1000 - 4 : 1000 + 5].min() == 1.0  # within 0.4 %
    assert widened[990] == 0.0 and widened[1010] == 0.0
    # At the edges the reach is one frame and nothing from outside the array leaks in.
    edge = np.zeros(10)
    edge[0] = edge[-1] = 1.0
    assert _widen(edge, tolerance=COMB_LAG_TOLERANCE).tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 1, 1]


def test_tempo_prior_is_flat_over_one_octave_and_falls_off_outside():
    lo, hi = TYPICAL_BPM_RANGE
    assert hi == 2 * lo
    inside = tempo_prior(np.linspace(lo, hi, 50))
    assert np.all(inside == 1.0)
    below, above = tempo_prior(np.array([lo / 1.2, hi * 1.2]))
    assert below == pytest.approx(above) and 0 < above < 1
    assert np.all(np.diff(tempo_prior(np.linspace(hi, 250, 20))) < 0)


@pytest.mark.parametrize(("min_bpm", "max_bpm"), [(80, 160), (100, 140), (60, 250), (110, 130)])
def test_a_narrower_tempo_range_is_searched_from_its_own_bounds(min_bpm, max_bpm):
    env = np.zeros(3000)
    env[::50] = 1.0  # a clean 120 BPM pulse at 100 frames per second
    est = estimate_tempo(env, frame_rate_hz=100, min_bpm=min_bpm, max_bpm=max_bpm)
    assert est.bpm == pytest.approx(120, abs=0.5)


def test_every_reading_stays_inside_the_range_asked_for():
    est = estimate_tempo(pulses(120, 30, fr=100), frame_rate_hz=100, min_bpm=200, max_bpm=250)
    assert 200 <= est.bpm <= 250
    assert all(200 <= bpm <= 250 for bpm, _ in est.candidates)


@pytest.mark.parametrize(
    ("min_bpm", "max_bpm", "octave_inside"),
    [(130, 250, 240), (121, 240, 240), (130, 300, 240), (40, 100, 60), (50, 110, 60)],
)
def test_a_range_that_leaves_out_the_beat_reads_the_pulse_at_its_octave_inside(
    min_bpm, max_bpm, octave_inside
):
    # A 120 BPM pulse in a range without 120: the reading is the same pulse
    # counted twice or half as fast, not a pulse of 3/4 or 3/2 beat.
    for env in (pulses(120, 30, fr=100), pulses(120, 30, fr=100, jitter_s=0.005, seed=3)):
        est = estimate_tempo(env, frame_rate_hz=100, min_bpm=min_bpm, max_bpm=max_bpm)
        assert est.bpm == pytest.approx(octave_inside, abs=0.5)


@pytest.mark.parametrize(
    ("min_bpm", "max_bpm", "parameter"),
    [
        (160, 80, "min_bpm"),
        (120, 120, "min_bpm"),
        (0, 160, "min_bpm"),
        (-40, 160, "min_bpm"),
        (float("nan"), 160, "min_bpm"),
        (80, 0, "max_bpm"),
        (80, -5, "max_bpm"),
        (80, float("inf"), "max_bpm"),
        (80, float("nan"), "max_bpm"),
    ],
)
def test_a_bad_tempo_range_is_refused_naming_the_parameter(min_bpm, max_bpm, parameter):
    with pytest.raises(ParameterError) as info:
        estimate_tempo(pulses(120, 10), frame_rate_hz=FR, min_bpm=min_bpm, max_bpm=max_bpm)
    assert info.value.parameter == parameter


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 5168, 5179])
def test_autocorrelation_is_the_direct_one_at_a_fast_fft_size(n):
    from cadence.core.tempo import _autocorrelation, _fast_length

    x = np.random.default_rng(n).random(n)
    d = x - x.mean()
    direct = np.correlate(d, d, mode="full")[n - 1 :]
    expected = direct / direct[0] * n / (n - np.arange(n)) if direct[0] > 0 else np.zeros(n)
    np.testing.assert_allclose(_autocorrelation(x), expected, rtol=1e-9, atol=1e-9)
    size = _fast_length(2 * n - 1)
    assert size >= 2 * n - 1
    rest = size
    for p in (2, 3, 5):
        while rest % p == 0:
            rest //= p
    assert rest == 1


def test_a_stretch_that_rounds_to_nothing_is_zero_not_minus_zero():
    # JSON printed "stretch_pct": -0.0 for a song a hair faster than the target.
    m = match_tempo(164.0004, target_spm=164.0)
    assert math.copysign(1.0, m.stretch_pct) == 1.0
    m = match_tempo(164.0, target_spm=164.02)  # and the spm off, the other way round
    assert math.copysign(1.0, m.off_spm) == 1.0
