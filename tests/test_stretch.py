"""Stretching songs to a cadence: pitch kept, beats on the step grid, no gap at the joins."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cadence.audio.stretch import stretch_pieces
from cadence.core.songplan import plan_song
from cadence.core.timemap import TimeMap, plan_pieces
from cadence.errors import ParameterError

SR = 44100


def tone(freq_hz: float, seconds: float, *, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * freq_hz * t).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def hits_on(beats_s: np.ndarray, seconds: float) -> np.ndarray:
    """Noise bursts starting exactly at `beats_s` over a quiet 220 Hz hum, stereo."""
    rng = np.random.default_rng(0)
    x = tone(220.0, seconds, channels=1)[:, 0] / 3
    burst = rng.standard_normal(400).astype(np.float32) * np.exp(-np.arange(400) / 80.0)
    for b in beats_s:
        i = round(b * SR)
        x[i : i + 400] += 0.8 * burst[: len(x) - i]
    return np.stack([x, x], axis=1)


def onsets_near(y: np.ndarray, times_s: np.ndarray, *, search_s: float = 0.015) -> np.ndarray:
    """Where the energy rises fastest near each of `times_s` (seconds)."""
    found = []
    w = round(search_s * SR)
    for t in times_s:
        c = round(t * SR)
        seg = y[max(0, c - w) : c + w, 0].astype(np.float64)
        energy = np.convolve(seg**2, np.ones(16), "same")
        found.append((max(0, c - w) + np.argmax(np.diff(energy))) / SR)
    return np.array(found)


def render(samples, time_map, *, duration_s, beats_s, **kw) -> np.ndarray:
    pieces = plan_pieces(time_map, duration_s=duration_s, beats_s=beats_s, **kw)
    return np.concatenate(list(stretch_pieces(samples, pieces, sr=SR)))


@pytest.mark.parametrize("speed", [1.06, 0.94])
def test_a_stretched_tone_keeps_its_pitch_and_gets_its_length(speed):
    x = tone(440.0, 12.0)
    m = TimeMap(np.array([0.0, 1.0]), np.array([0.0, 1.0 / speed]))
    beats = np.arange(0.5, 12, 0.5)
    y = render(x, m, duration_s=12.0, beats_s=beats, max_piece_s=3.0)
    assert len(y) == round(12.0 / speed * SR)
    mid = y[SR : len(y) - SR, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(mid * np.hanning(len(mid)), n=8 * len(mid)))
    peak_hz = np.argmax(spectrum) * SR / (8 * len(mid))
    assert peak_hz == pytest.approx(440.0, abs=1.0)


@pytest.mark.parametrize("freq_hz", [55.0, 440.0])
def test_joins_leave_no_gap_or_dip_in_a_held_tone(freq_hz):
    x = tone(freq_hz, 20.0)
    m = TimeMap(np.array([0.0, 1.0]), np.array([0.0, 1 / 1.04]))
    y = render(x, m, duration_s=20.0, beats_s=np.arange(0.4, 20, 0.4), max_piece_s=2.0)
    rms = np.sqrt(np.mean(y[: len(y) // 441 * 441, 0].reshape(-1, 441) ** 2, axis=1))[10:-10]
    level_db = 20 * np.log10(rms / np.median(rms))
    # A held tone is the worst case for a join (two renders of one note
    # crossfaded): lined up and faded by their correlation, they keep the level.
    assert level_db.min() > -3.0 and level_db.max() < 1.5


def test_stretched_beats_land_where_the_map_says_to_the_millisecond():
    period = 60 / 165
    beats = 0.3 + np.arange(100) * period
    x = hits_on(beats, 38.0)
    plan = plan_song(
        beats, first_beat_s=0.3, period_s=period, residual_p95_ms=0.5, duration_s=38.0, spm=170
    )
    y = render(x, plan.time_map, duration_s=38.0, beats_s=beats, max_piece_s=5.0, first_piece_s=2.0)
    expected = plan.output_beats_s[:-1]
    found = onsets_near(y, expected)
    assert np.median(np.abs(found - expected)) < 0.001
    assert np.max(np.abs(found - expected)) < 0.003
    # ... and they are the step grid: 170 a minute from the grid's start.
    assert np.diff(expected) == pytest.approx(np.full(len(expected) - 1, 60 / 170))
    rms = np.array(
        [
            np.sqrt(np.mean(y[round(a * SR) : round(b * SR)] ** 2))
            for a, b in itertools.pairwise(expected)
        ]
    )
    assert np.all(np.abs(20 * np.log10(rms / np.median(rms))) < 1.0)  # no dip at the joins


def test_a_drifting_drummer_is_stretched_beat_by_beat_onto_the_grid():
    k = np.arange(150)
    local_bpm = 150 * (1 + 0.015 * np.sin(2 * np.pi * k / 64))
    beats = 0.4 + np.concatenate([[0.0], np.cumsum(60.0 / local_bpm[:-1])])
    x = hits_on(beats, beats[-1] + 1.0)
    plan = plan_song(
        beats,
        first_beat_s=beats[0],
        period_s=0.4,
        residual_p95_ms=50.0,
        duration_s=beats[-1] + 1.0,
        spm=155,
    )
    assert not plan.steady
    y = render(x, plan.time_map, duration_s=beats[-1] + 1.0, beats_s=beats)
    slots = plan.grid_start_s + np.arange(len(beats)) * 60 / 155
    found = onsets_near(y, slots[:-1], search_s=0.03)
    off = np.abs(found - slots[:-1])
    assert np.median(off) < 0.005 and np.max(off) < 0.012


def test_more_than_two_channels_are_refused_by_the_stretcher():
    pieces = plan_pieces(
        TimeMap(np.array([0.0, 1.0]), np.array([0.0, 1.0])), duration_s=1.0, beats_s=np.zeros(0)
    )
    with pytest.raises(ParameterError):
        list(stretch_pieces(np.zeros((SR, 6), np.float32), pieces, sr=SR))


@pytest.mark.parametrize(
    ("spm", "hint"),
    [
        (150, "(--max-stretch 10 would allow it)"),  # 165 BPM to 150: -9.1 %
        (120, "(--max-stretch 28 would allow it)"),  # -27.3 %
        (40, "(no --max-stretch would allow it: it goes up to 50 %)"),
    ],
)
def test_a_song_too_far_is_refused_with_a_max_stretch_the_option_accepts(spm, hint):
    period = 60 / 165
    beats = 0.3 + np.arange(40) * period
    with pytest.raises(ParameterError, match="max_stretch") as caught:
        plan_song(
            beats, first_beat_s=0.3, period_s=period, residual_p95_ms=0.5, duration_s=16.0, spm=spm
        )
    assert str(caught.value).endswith(hint)
