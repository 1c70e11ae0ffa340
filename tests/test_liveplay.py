"""Live music: the shared ring, the producer process, the callback's renderer on plain buffers."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from cadence.analysis import analyze_file
from cadence.core.musicrender import MusicRenderer
from cadence.core.ring import COUNTERS, DONE, FrameRing
from cadence.liveplay import PREFIX, SHM_FOLDER, LiveMusic, remove_stale_rings
from cadence.mixer import MusicSession
from cadence.songs import choose_songs
from tests.conftest import REPO

SR = 48000


def test_the_ring_hands_over_every_frame_in_order_whatever_the_block_sizes():
    ring = FrameRing(np.zeros((1000, 2), np.float32), np.zeros(COUNTERS, np.int64))
    rng = np.random.default_rng(1)
    data = rng.standard_normal((20000, 2)).astype(np.float32)
    written, got = 0, []
    while len(got) == 0 or sum(map(len, got)) < len(data):
        if written < len(data):
            written += ring.write(data[written : written + int(rng.integers(1, 700))])
        out = np.zeros((int(rng.integers(1, 500)), 2), np.float32)
        n = ring.read_into(out)
        got.append(out[:n])
    assert np.array_equal(np.concatenate(got), data)


@pytest.fixture(scope="module")
def session():
    songs = [str(REPO / "audio" / n) for n in ("sunrise-run.mp3", "neon-stride.ogg")]
    chosen, _ = choose_songs([analyze_file(p) for p in songs], 165, max_stretch_pct=8.0)
    return MusicSession(chosen, 165, count_in=2, sr=SR)


@pytest.fixture(scope="module")
def offline(session):
    music = np.concatenate(list(session.music()))
    click = np.zeros_like(music)
    session.click_renderer().render(click)
    return np.clip(music + click, -1, 1)


def rings_of_this_process() -> list:
    return sorted(SHM_FOLDER.glob(f"{PREFIX}{os.getpid()}-*"))


@pytest.mark.parametrize("blocksize", [64, 1000, 4096])
def test_live_music_is_the_offline_session_sample_for_sample(session, offline, blocksize):
    with LiveMusic(session) as live:
        live.wait_ready()
        renderer = MusicRenderer(session.click_renderer(), live.ring)
        out = np.zeros((blocksize, 2), np.float32)
        played = []
        while not renderer.finished:
            # Paced like a sound card: the producer's ahead, as it is in real time.
            while live.ring.available < blocksize and not live.ring.counters[DONE]:
                time.sleep(0.001)
            n = renderer.render(out)
            played.append(out[:n].copy())
        assert renderer.music_late == 0
        assert rings_of_this_process()
    assert np.array_equal(np.concatenate(played), offline)
    assert not rings_of_this_process()  # the shared memory is gone with the session


def test_music_not_ready_in_time_is_silence_and_counted_never_a_wait(session):
    ring = FrameRing(np.zeros((SR, 2), np.float32), np.zeros(COUNTERS, np.int64))
    renderer = MusicRenderer(session.click_renderer(), ring, click_on=False)
    out = np.ones((512, 2), np.float32)
    assert renderer.render(out) == 512
    assert not out.any() and renderer.music_late == 512


def test_a_mono_device_gets_the_music_mixed_down(session, offline):
    with LiveMusic(session, channels=1) as live:
        live.wait_ready()
        renderer = MusicRenderer(session.click_renderer(), live.ring)
        out = np.zeros((2048, 1), np.float32)
        while live.ring.available < 2048:
            time.sleep(0.001)
        renderer.render(out)
    music = np.concatenate(list(session.music()))[:2048].mean(axis=1)
    click = np.zeros((2048, 1), np.float32)
    session.click_renderer().render(click)
    np.testing.assert_allclose(out[:, 0], np.clip(music + click[:, 0], -1, 1), atol=1e-6)


def test_a_ring_left_by_a_killed_run_is_removed_by_the_next(tmp_path):
    dead = 2**22 + 12345  # above pid_max's default: no such process
    stale = SHM_FOLDER / f"{PREFIX}{dead}-deadbeef"
    stale.write_bytes(b"\0" * 64)
    mine = SHM_FOLDER / f"{PREFIX}{os.getpid()}-alive000"
    mine.write_bytes(b"\0" * 64)
    try:
        assert remove_stale_rings() >= 1
        assert not stale.exists() and mine.exists()
    finally:
        for p in (stale, mine):
            p.unlink(missing_ok=True)


def test_live_keys_turn_the_click_off_and_the_music_down_without_a_gap(session, offline):
    from cadence.live import apply_key

    with LiveMusic(session) as live:
        live.wait_ready()
        renderer = MusicRenderer(session.click_renderer(), live.ring)
        music = np.concatenate(list(session.music()))
        out = np.zeros((4096, 2), np.float32)
        renderer.render(out)
        assert np.array_equal(out, offline[:4096])
        assert apply_key(renderer, "c") and apply_key(renderer, "[")
        while live.ring.available < 4096:
            time.sleep(0.001)
        renderer.render(out)
    quieter = music[4096:8192] * np.float32(10 ** (-3 / 20))
    np.testing.assert_allclose(out, np.clip(quieter, -1, 1), atol=1e-6)  # no click, 3 dB down
    assert renderer.music_db == -3.0 and not renderer.click_on


def test_a_session_without_the_click_plays_live_as_the_music_alone(session):
    quiet = MusicSession(session.songs, 165, count_in=2, sr=SR, click="off")
    assert quiet.click_renderer() is None
    with LiveMusic(quiet) as live:
        live.wait_ready()
        renderer = MusicRenderer(quiet.beat_renderer(), live.ring, click_on=False)
        out = np.zeros((4096, 2), np.float32)
        while live.ring.available < 4096:
            time.sleep(0.001)
        renderer.render(out)
    music = np.concatenate(list(quiet.music()))[:4096]
    np.testing.assert_allclose(out, np.clip(music, -1, 1), atol=1e-6)
