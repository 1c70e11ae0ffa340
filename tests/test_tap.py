import random

import numpy as np
import pytest

from cadence.core.tap import spm_from_tap_times
from cadence.errors import ParameterError


def _taps(spm, n, *, jitter_s=0.0, seed=0):
    rng = random.Random(seed)
    period = 60 / spm
    return [i * period + rng.gauss(0, jitter_s) for i in range(n)]


def test_steady_taps_give_the_exact_cadence():
    est = spm_from_tap_times(_taps(172, 40))
    assert est.spm == pytest.approx(172, abs=1e-9)
    assert (est.taps, est.steps, est.doubled, est.missed, est.outliers) == (40, 39, 0, 0, 0)


def test_human_jitter_averages_out():
    est = spm_from_tap_times(_taps(165, 60, jitter_s=0.015, seed=3))
    assert est.spm == pytest.approx(165, abs=1.0)


def test_missed_taps_are_filled_in():
    times = [t for i, t in enumerate(_taps(170, 50)) if i not in (10, 20, 21)]
    est = spm_from_tap_times(times)
    assert est.spm == pytest.approx(170, abs=1e-6)
    assert est.missed == 3
    assert est.steps == 49


def test_doubled_taps_are_ignored():
    times = sorted([*_taps(160, 40), 5 * 60 / 160 + 0.04, 17 * 60 / 160 + 0.06])
    est = spm_from_tap_times(times)
    assert est.spm == pytest.approx(160, abs=0.05)
    assert est.doubled == 2


def test_a_stray_off_beat_tap_is_rejected():
    period = 60 / 170
    times = _taps(170, 40)
    # A tap displaced by 40 % of a period (a late, clumsy tap).
    times[15] += 0.4 * period
    est = spm_from_tap_times(times)
    assert est.spm == pytest.approx(170, abs=0.1)
    assert est.outliers == 1


def test_a_pause_does_not_count_as_steps():
    first = _taps(168, 20)
    second = [t + first[-1] + 5.0 for t in _taps(168, 20)]
    est = spm_from_tap_times(first + second)
    assert est.spm == pytest.approx(168, abs=1e-6)
    assert est.steps == 38


def test_origin_does_not_matter():
    times = [t + 12345.678 for t in _taps(180, 20)]
    assert spm_from_tap_times(times).spm == pytest.approx(180, abs=1e-6)


@pytest.mark.parametrize(
    "times",
    [[], [0.0, 0.3, 0.6], [0.0, 0.3, 0.2, 0.6], [0.0, float("nan"), 0.6, 0.9], [1.0] * 10],
)
def test_unusable_taps_are_refused(times):
    with pytest.raises(ParameterError, match=r"^taps:"):
        spm_from_tap_times(times)


@pytest.mark.parametrize("times", ["abc", b"0123", None, [0.0, 0.3, "x", 0.9], [0.0, {}, 1]])
def test_tap_times_that_are_not_numbers_are_refused_by_name(times):
    with pytest.raises(ParameterError, match=r"^taps: must be a sequence of tap times"):
        spm_from_tap_times(times)


@pytest.mark.parametrize("seed", range(20))
def test_random_tapping_is_no_rhythm_not_a_confident_cadence(seed):
    gaps = np.random.default_rng(seed).uniform(0.1, 1.3, 40)
    with pytest.raises(ParameterError, match="no steady rhythm"):
        spm_from_tap_times(np.cumsum(gaps))


@pytest.mark.parametrize("seed", range(20))
def test_a_steady_runner_with_human_jitter_is_measured(seed):
    period = 60 / 170
    t = np.arange(40) * period + np.random.default_rng(seed).normal(0, 0.03 * period, 40)
    assert spm_from_tap_times(np.sort(t)).spm == pytest.approx(170, abs=2)
