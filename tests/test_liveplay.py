"""Live music: the shared ring, the producer process, the callback's renderer on plain buffers."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from cadence.analysis import analyze_file
from cadence.core.musicrender import MusicRenderer
from cadence.core.ring import CONTROL, COUNTERS, PENDING, FrameRing, MusicFeed
from cadence.live import apply_key
from cadence.liveplay import CHANGE_LEAD_S, PREFIX, SHM_FOLDER, LiveMusic, remove_stale_rings
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


def plain_feed(capacity: int, channels: int = 2) -> MusicFeed:
    """A feed over plain arrays, as the callback sees the shared one."""
    rings = tuple(
        FrameRing(np.zeros((capacity, channels), np.float32), np.zeros(COUNTERS, np.int64))
        for _ in range(2)
    )
    return MusicFeed(rings, np.zeros(CONTROL, np.int64))


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
        renderer = MusicRenderer(session.click_renderer(), live.feed)
        out = np.zeros((blocksize, 2), np.float32)
        played = []
        while not renderer.finished:
            # Paced like a sound card: the producer's ahead, as it is in real time.
            while live.ring.available < blocksize and not live.feed.done:
                time.sleep(0.001)
            n = renderer.render(out)
            played.append(out[:n].copy())
        assert renderer.music_late == 0
        assert rings_of_this_process()
    assert np.array_equal(np.concatenate(played), offline)
    assert not rings_of_this_process()  # the shared memory is gone with the session


def test_music_not_ready_in_time_is_silence_and_counted_never_a_wait(session):
    renderer = MusicRenderer(session.click_renderer(), plain_feed(SR), click_on=False)
    out = np.ones((512, 2), np.float32)
    assert renderer.render(out) == 512
    assert not out.any() and renderer.music_late == 512


def test_a_mono_device_gets_the_music_mixed_down(session, offline):
    with LiveMusic(session, channels=1) as live:
        live.wait_ready()
        renderer = MusicRenderer(session.click_renderer(), live.feed)
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
        renderer = MusicRenderer(session.click_renderer(), live.feed)
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
        renderer = MusicRenderer(quiet.beat_renderer(), live.feed, click_on=False)
        out = np.zeros((4096, 2), np.float32)
        while live.ring.available < 4096:
            time.sleep(0.001)
        renderer.render(out)
    music = np.concatenate(list(quiet.music()))[:4096]
    np.testing.assert_allclose(out, np.clip(music, -1, 1), atol=1e-6)


def test_music_that_came_late_is_skipped_so_it_stays_on_its_session_samples():
    feed = plain_feed(1000, channels=1)
    out = np.zeros((100, 1), np.float32)
    assert feed.read_at(out, 0) == 100  # nothing written yet: silence, counted
    feed.write(np.arange(300, dtype=np.float32)[:, None])  # samples 0..299, late
    assert feed.read_at(out, 100) == 0
    assert out[:, 0].tolist() == list(range(100, 200))  # sample 100 at 100, not 0


def test_a_switch_lands_on_its_sample_inside_a_block():
    feed = plain_feed(1000, channels=1)
    feed.write(np.zeros((600, 1), np.float32))
    feed.begin_switch(250)
    feed.write(np.ones((400, 1), np.float32))
    feed.post_switch()
    out = np.full((200, 1), -1.0, np.float32)
    feed.read_at(out, 0)
    assert not out.any()
    feed.read_at(out, 200)
    assert out[:50, 0].tolist() == [0.0] * 50 and out[50:, 0].tolist() == [1.0] * 150
    assert feed.can_switch()  # the spare is free again


def test_a_switch_posted_after_its_sample_skips_into_the_new_music():
    feed = plain_feed(1000, channels=1)
    feed.write(np.zeros((600, 1), np.float32))
    out = np.zeros((200, 1), np.float32)
    feed.read_at(out, 0)
    feed.read_at(out, 200)
    feed.begin_switch(300)  # already played: the callback is at 400
    feed.write(np.arange(300, 800, dtype=np.float32)[:, None])
    feed.post_switch()
    feed.read_at(out, 400)
    assert out[:, 0].tolist() == list(range(400, 600))


def wait_posted(live) -> None:
    """Wait for the producer to post a change (in real time it has the lead to do it)."""
    deadline = time.monotonic() + 20
    while not live.feed.control[PENDING] and time.monotonic() < deadline:
        time.sleep(0.002)


def play_paced(live, renderer, *, until: int, block: int = 1000, changes=()) -> np.ndarray:
    """Render like a sound card up to sample `until`; ``changes`` are (sample, action)."""
    out = np.zeros((block, 2), np.float32)
    played = []
    todo = sorted(changes, key=lambda c: c[0])
    while renderer.position < until and not renderer.finished:
        if todo and renderer.position >= todo[0][0]:
            todo.pop(0)[1]()
            wait_posted(live)
        while not live.feed.ready(renderer.position, block):
            time.sleep(0.001)
        n = renderer.render(out)
        played.append(out[:n].copy())
    return np.concatenate(played)


def test_a_live_tempo_change_goes_on_from_the_same_point_on_the_new_grid(session):
    with LiveMusic(session) as live:
        live.wait_ready()
        renderer = MusicRenderer(session.click_renderer(), live.feed, click_on=False)
        live.attach(renderer)
        assert renderer.nudge(3.0) == 3.0  # from a step ahead of the start
        wait_posted(live)
        played = play_paced(
            live, renderer, until=14 * SR, changes=[(6 * SR, lambda: renderer.nudge(-1.0))]
        )
        assert renderer.music_late == 0
    (a, first), (b, second) = live.timelines[1], live.timelines[2]
    old = np.concatenate(list(session.music()))
    new = np.concatenate(list(first.music()))
    last = np.concatenate(list(second.music()))
    join = round(0.02 * SR)
    step = 60 * SR / 165
    lead = round(CHANGE_LEAD_S * SR)
    assert lead <= a <= max(session.anchor, lead + step)  # the next step
    np.testing.assert_array_equal(played[:a], old[:a])
    np.testing.assert_array_equal(played[a + join : b], new[join : b - a])
    np.testing.assert_array_equal(played[b + join :], last[join : len(played) - b])
    assert (first.spm, second.spm) == (168.0, 167.0)
    # The song goes on from the same point of its source: the join is a crossfade of like audio.
    level = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    around = slice(b - join, b + 2 * join)
    assert level(played[around]) == pytest.approx(
        level(new[around.start - a : around.stop - a]), rel=0.3
    )


def test_next_song_fades_in_on_a_bar_and_the_status_names_it(session):
    names = [Path(s.result.path).stem for s in session.songs]
    with LiveMusic(session) as live:
        live.wait_ready()
        renderer = MusicRenderer(session.click_renderer(), live.feed, click_on=False)
        live.attach(renderer)
        before = play_paced(live, renderer, until=3 * SR)
        assert renderer.status().detail.startswith(names[0])
        assert apply_key(renderer, "n")
        wait_posted(live)
        assert renderer.status().detail.startswith(f"next: {names[1]}")  # until it comes in
        after = play_paced(live, renderer, until=9 * SR)
        at, timeline = live.timelines[1]
        second = timeline.placements[1]
        assert timeline.songs[second.song].result.path == session.songs[1].result.path
        assert at < second.start < at + round(2.5 * SR)  # on a bar after the second to load it
        assert renderer.status().detail.startswith(names[1])
        assert apply_key(renderer, "p")  # it has played under 5 s: back to the one before
        assert renderer.status().detail.startswith(f"back: {names[0]}")
    played = np.concatenate([before, after])
    new = np.concatenate(list(timeline.music()))
    join = round(0.02 * SR)
    np.testing.assert_array_equal(played[at + join :], new[join : len(played) - at])


def test_a_tempo_no_song_fits_is_refused_and_said(session):
    with LiveMusic(session) as live:
        live.wait_ready()
        renderer = MusicRenderer(session.click_renderer(), live.feed)
        live.attach(renderer)
        assert renderer.nudge(30.0) == 0.0  # 195 spm: beyond --max-stretch for both songs
        assert "no song fits 195 spm" in renderer.status().detail
        assert len(live.timelines) == 1 and renderer.click.scheduled is None


def test_live_changes_in_a_run_walk_programme_play_as_the_plan_renders_them(session):
    """A tempo change and a skip in a run/walk programme: the live music is the plan's own
    render of the same changes, sample for sample, and each run's first click is on it."""
    from cadence.core.session import parse_intervals

    programme = MusicSession(
        session.songs,
        165,
        count_in=2,
        sr=SR,
        intervals=parse_intervals("run:6s,walk:4s"),
        repeat=2,
    )
    with LiveMusic(programme) as live:
        live.wait_ready()
        renderer = MusicRenderer(programme.click_renderer(), live.feed, click_on=False)
        live.attach(renderer)
        changes = [(2 * SR, lambda: renderer.nudge(2.0)), (13 * SR, lambda: renderer.key("n"))]
        played = play_paced(live, renderer, until=programme.total_samples, changes=changes)
        assert renderer.music_late == 0
        assert [c.offset_spm for c in live.plan.live] == [2.0, 2.0]
    # The renderer's output is clipped to full scale, as a sound card's is.
    expected = np.clip(np.concatenate(list(live.plan.music())), -1, 1)
    np.testing.assert_array_equal(played, expected[: len(played)])
    # After the tempo change the walks no longer end on the music's grid at 167:
    # each run starts the music on its first click, from the song's nearest beat.
    starts = [at for at, _ in live.plan.chain()]
    runs = [
        at
        for at, rate in programme.plan.rates
        if not any(a <= at < b for a, b in programme.plan.quiet)
    ]
    assert all(at in starts for at in runs if at > live.plan.live[0].at)


def test_a_ramp_sets_the_tempo_live_until_its_end_and_then_the_keys_do(session):
    ramp = MusicSession(
        session.songs, 165, sr=SR, ramp_from_spm=160.0, ramp_over_s=4.0, duration_s=10.0
    )
    said = []
    with LiveMusic(ramp) as live:
        live.wait_ready()
        renderer = MusicRenderer(ramp.click_renderer(), live.feed, click_on=False)
        live.attach(renderer)

        changes = [(6 * SR, lambda: renderer.nudge(1.0))]
        played = play_paced(live, renderer, until=SR)
        renderer.nudge(1.0)  # in the ramp: refused, nothing sent
        said.append(renderer.status().detail)
        played = np.concatenate(
            [played, play_paced(live, renderer, until=ramp.total_samples, changes=changes)]
        )
        assert renderer.status().spm == pytest.approx(166.0)
    assert said[0].startswith("tempo: ramp until 0:0")
    assert [c.offset_spm for c in live.plan.live] == [1.0]
    np.testing.assert_array_equal(played, np.concatenate(list(live.plan.music()))[: len(played)])


def test_a_ramp_through_a_programme_plays_live_as_its_plan_and_then_the_keys_work(session):
    from cadence.core.session import parse_intervals

    ramped = MusicSession(
        session.songs,
        165,
        sr=SR,
        count_in=2,
        intervals=parse_intervals("run:5s,walk:3s"),
        repeat=2,
        ramp_from_spm=161.0,
        ramp_over_s=9.0,
    )
    assert SR < ramped.plan.ramp_end < ramped.total_samples - 3 * SR
    said = []
    with LiveMusic(ramped) as live:
        live.wait_ready()
        renderer = MusicRenderer(ramped.click_renderer(), live.feed, click_on=False)
        live.attach(renderer)
        played = play_paced(live, renderer, until=2 * SR)
        renderer.nudge(1.0)  # in the ramp: refused
        said.append(renderer.status().detail)
        after = ramped.plan.ramp_end + SR // 2
        changes = [(after, lambda: renderer.nudge(1.0))]
        played = np.concatenate(
            [played, play_paced(live, renderer, until=ramped.total_samples, changes=changes)]
        )
        assert renderer.music_late == 0
    assert said[0].startswith("tempo: ramp until")
    assert [c.offset_spm for c in live.plan.live] == [1.0]
    np.testing.assert_array_equal(played, np.concatenate(list(live.plan.music()))[: len(played)])


def test_keys_pressed_in_a_row_are_one_switch_and_play_as_the_plan(session):
    with LiveMusic(session) as live:
        live.wait_ready()
        renderer = MusicRenderer(session.click_renderer(), live.feed, click_on=False)
        live.attach(renderer)
        played = play_paced(live, renderer, until=2 * SR)
        for key in ("up", "up", "n", "down"):  # faster than the music can change
            apply_key(renderer, key)
        wait_posted(live)
        played = np.concatenate([played, play_paced(live, renderer, until=12 * SR)])
        assert renderer.music_late == 0
        assert [(c.offset_spm, c.skip) for c in live.plan.live] == [
            (1.0, 0),
            (2.0, 0),
            (2.0, 1),
            (1.0, 0),
        ]
        assert renderer.status().spm == 166.0
    np.testing.assert_array_equal(played, np.concatenate(list(live.plan.music()))[: len(played)])


def step_after(plan, sample: int) -> int:
    """The first step of the music at or after `sample`, as the live player picks it."""
    while True:
        timeline = plan.timeline_at(sample)
        step = timeline.next_step(max(sample, timeline.anchor))
        if plan.timeline_at(step) is timeline and len(timeline.playing(step)) == 1:
            return step
        sample = step + 1


def test_a_skip_on_its_way_goes_on_through_a_ramps_stairs_and_a_second_skip_goes_further():
    from cadence.musicplan import Change

    songs = [
        str(REPO / "audio" / n) for n in ("sunrise-run.mp3", "neon-stride.ogg", "tailwind.m4a")
    ]
    chosen, _ = choose_songs([analyze_file(p) for p in songs], 165, max_stretch_pct=8.0)
    ramp = MusicSession(chosen, 165, sr=SR, ramp_from_spm=161.0, ramp_over_s=8.0, duration_s=20.0)
    plan = ramp.plan.fresh()

    def heard(t: int) -> str:
        timeline = plan.timeline_at(t)
        return timeline.songs[timeline.playing(t)[-1].song].result.path

    at = step_after(plan, 2 * SR)
    plan.add_live(Change(at, 0.0, 1))  # next, while the ramp climbs a stair a second
    assert heard(at) == chosen[0].result.path
    assert heard(at + 4 * SR) == chosen[1].result.path  # through the stairs on the way
    at2 = step_after(plan, at + round(4.5 * SR))
    plan.add_live(Change(at2, 0.0, 1))
    at3 = step_after(plan, at2 + round(0.2 * SR))
    plan.add_live(Change(at3, 0.0, 1))  # pressed again before the next came in: the one after
    assert heard(at3 + 4 * SR) == chosen[0].result.path
