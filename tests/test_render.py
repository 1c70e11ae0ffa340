"""The beat renderer: every beat at its ideal sample, for any block size."""

import tracemalloc

import numpy as np
import pytest

from cadence.core.render import BeatRenderer, render_session
from cadence.core.session import Session, parse_intervals
from cadence.core.synth import VoiceBank
from cadence.errors import ParameterError

SR = 44100
BLOCK_SIZES = [1, 441, 512, 4096]

# One-sample sounds whose levels are bit flags, so a rendered signal says
# exactly which sounds start at which sample, overlaps included.
FLAGS = {"beat": 1, "accent": 2, "count_in": 4, "pip": 8, "change": 16}
IMPULSES = VoiceBank(**{k: np.array([v / 64], dtype=np.float32) for k, v in FLAGS.items()})


def events(signal):
    """{sound name: sample indices} from a signal rendered with IMPULSES."""
    codes = np.rint(np.asarray(signal) * 64).astype(int)
    return {name: np.flatnonzero(codes & flag) for name, flag in FLAGS.items()}


def onsets(signal):
    """First samples of the sounds in a signal with exact silence between them."""
    nz = np.flatnonzero(np.asarray(signal) != 0)
    if not len(nz):
        return nz
    return np.concatenate([nz[:1], nz[1:][np.diff(nz) > 1]])


def render_in_blocks(renderer, blocksize, *, channels=None, limit=None):
    """Render until finished (or `limit` samples), checking every sample is written."""
    chunks = []
    shape = (blocksize,) if channels is None else (blocksize, channels)
    done = 0
    while not renderer.finished and (limit is None or done < limit):
        buf = np.full(shape, np.nan, dtype=np.float32)
        n = renderer.render(buf)
        assert not np.isnan(buf).any(), "render left samples unwritten"
        assert n == blocksize or renderer.finished
        assert not buf[n:].any(), "samples after the end must be silence"
        chunks.append(buf[:n])
        done += n
    return np.concatenate(chunks) if chunks else np.zeros(shape[1:] and (0, channels))


def ideal_constant(spm, n, *, start=0):
    return np.array([start + round(k * 60 * SR / spm) for k in range(n)])


@pytest.mark.parametrize("blocksize", BLOCK_SIZES)
@pytest.mark.parametrize("spm", [172, 171.5, 40, 240])
def test_constant_tempo_onsets_are_exact_and_duration_is_exact(blocksize, spm):
    duration_s = 2.0 if blocksize == 1 else 30.0
    renderer = BeatRenderer(Session(spm, duration_s=duration_s), sr=SR, bank=IMPULSES)
    out = render_in_blocks(renderer, blocksize)
    assert len(out) == round(duration_s * SR) == renderer.position
    beats = events(out)["beat"]
    expected = [n for n in ideal_constant(spm, 10_000) if n < len(out)]
    np.testing.assert_array_equal(beats, expected)


@pytest.mark.parametrize("blocksize", BLOCK_SIZES)
def test_real_click_sound_onsets_are_exact(blocksize):
    renderer = BeatRenderer(Session(172, duration_s=3), sr=SR, voice="woodblock")
    out = render_in_blocks(renderer, blocksize)
    got = onsets(out)
    np.testing.assert_array_equal(got, ideal_constant(172, len(got)))
    assert len(got) == 9  # beats 0..8 lie before 3 s at 172 spm


def _ideal_ramp_onsets(spm_from, spm_to, ramp_s, total_s):
    """Beat times from a fine numerical integral of the tempo, in samples."""
    n = np.arange(round(total_s * SR) + 1)
    ramp_n = round(ramp_s * SR)
    tempo = np.where(n < ramp_n, spm_from + (spm_to - spm_from) * n / ramp_n, spm_to)
    # Trapezoidal integral in beats: exact for a piecewise linear tempo.
    phase = np.concatenate([[0.0], np.cumsum((tempo[1:] + tempo[:-1]) / 2)]) / (60 * SR)
    k = np.arange(int(phase[-1]) + 1)
    idx = np.searchsorted(phase, k)
    # Interpolate to the fractional sample, then round.
    frac = (k - phase[idx - 1]) / (phase[idx] - phase[idx - 1])
    exact = np.where(k == 0, 0.0, idx - 1 + frac)
    return np.round(exact).astype(int)


@pytest.mark.parametrize("blocksize", BLOCK_SIZES)
@pytest.mark.parametrize(("spm_from", "spm_to"), [(160, 172), (180, 165)])
def test_ramp_onsets_within_one_sample(blocksize, spm_from, spm_to):
    total_s = 3.0 if blocksize == 1 else 40.0
    ramp_s = 2.0 if blocksize == 1 else 25.0
    session = Session(spm_to, duration_s=total_s, ramp_from_spm=spm_from, ramp_over_s=ramp_s)
    out = render_in_blocks(BeatRenderer(session, sr=SR, bank=IMPULSES), blocksize)
    beats = events(out)["beat"]
    ideal = _ideal_ramp_onsets(spm_from, spm_to, ramp_s, total_s)
    ideal = ideal[ideal < len(out)]
    assert len(beats) == len(ideal)
    assert np.abs(beats - ideal).max() <= 1


def test_output_does_not_depend_on_block_size():
    session = Session(
        170,
        duration_s=75,
        intervals=parse_intervals("run:20s,walk:10s@120,run:15s,walk:5s"),
        ramp_from_spm=150,
        ramp_over_s=30,
        count_in=3,
        accent=4,
    )
    reference = render_session(session, sr=SR, voice="beep", blocksize=65536)
    for blocksize in (441, 512, 4096):
        renderer = BeatRenderer(session, sr=SR, voice="beep")
        np.testing.assert_array_equal(render_in_blocks(renderer, blocksize), reference)


@pytest.mark.parametrize("blocksize", [1, 441, 4096])
def test_live_change_takes_effect_at_the_next_beat(blocksize):
    duration_s = 4 if blocksize == 1 else 12
    renderer = BeatRenderer(Session(172, duration_s=duration_s), sr=SR, bank=IMPULSES)
    press_at = 2 * SR + 1234  # between two beats
    first = render_in_blocks(renderer, blocksize, limit=press_at)
    renderer.nudge(+5)
    renderer.nudge(+1)
    rest = render_in_blocks(renderer, blocksize)
    beats = events(np.concatenate([first, rest]))["beat"]
    old = ideal_constant(172, 100)
    # Beats up to and including the first after the press keep their old times.
    n_before = int(np.searchsorted(old, len(first)))
    np.testing.assert_array_equal(beats[: n_before + 1], old[: n_before + 1])
    # From there on, a new grid at 178 spm anchored on that beat.
    anchor = old[n_before]
    after = beats[n_before:]
    np.testing.assert_array_equal(after, ideal_constant(178, len(after), start=anchor))
    assert len(after) > 4


def test_live_change_during_a_ramp_and_back():
    session = Session(172, duration_s=20, ramp_from_spm=150, ramp_over_s=10)
    renderer = BeatRenderer(session, sr=SR, bank=IMPULSES)
    a = render_in_blocks(renderer, 512, limit=4 * SR)
    renderer.nudge(-10)
    b = render_in_blocks(renderer, 512, limit=12 * SR)
    renderer.nudge(+10)
    c = render_in_blocks(renderer, 512)
    beats = events(np.concatenate([a, b, c]))["beat"]
    intervals = np.diff(beats)
    # Every interval is a whole beat at a tempo between the lowest and highest in force.
    assert intervals.min() >= 60 * SR / 172 - 1
    assert intervals.max() <= 60 * SR / 140 + 1
    # After the second nudge the offset is back to 0: the last beats are at 172 spm.
    tail = beats[beats > 17 * SR]
    assert np.abs(np.diff(tail) - 60 * SR / 172).max() <= 1


def test_nudge_is_clamped_to_the_metronome_range():
    renderer = BeatRenderer(Session(230, duration_s=5), sr=SR)
    assert renderer.nudge(+50) == 10
    assert renderer.nudge(-500) == 40 - 230


def test_intervals_beat_in_runs_are_silent_in_walks_and_cue_changes():
    session = Session(
        172, intervals=parse_intervals("run:10s,walk:6s"), repeat=2, count_in=0, cues=True
    )
    out = render_in_blocks(BeatRenderer(session, sr=SR, bank=IMPULSES), 512)
    assert len(out) == 32 * SR
    ev = events(out)
    runs = [(0, 10 * SR), (16 * SR, 26 * SR)]
    expected = np.concatenate(
        [[n for n in ideal_constant(172, 100, start=a) if n < b] for a, b in runs]
    )
    np.testing.assert_array_equal(ev["beat"], expected)
    # A change cue at each change, none at the very start.
    np.testing.assert_array_equal(ev["change"], [10 * SR, 16 * SR, 26 * SR])
    # Countdown pips 3, 2, 1 s before each change (none before the session's end).
    ends = [10, 16, 26]
    pips = [(e - lead) * SR for e in ends for lead in (3, 2, 1)]
    np.testing.assert_array_equal(ev["pip"], pips)


def test_walk_with_its_own_rate():
    session = Session(170, intervals=parse_intervals("run:5s,walk:5s@110"), repeat=1, cues=False)
    ev = events(render_session(session, sr=SR, bank=IMPULSES))
    walk = ev["beat"][ev["beat"] >= 5 * SR]
    np.testing.assert_array_equal(
        walk, [n for n in ideal_constant(110, 20, start=5 * SR) if n < 10 * SR]
    )


def test_intervals_with_duration_stop_mid_interval():
    session = Session(172, duration_s=100, intervals=parse_intervals("2m,1m"))
    renderer = BeatRenderer(session, sr=8000)
    assert renderer.total_samples == 100 * 8000


def test_count_in_precedes_the_session_and_its_timer():
    session = Session(160, duration_s=10, count_in=4)
    renderer = BeatRenderer(session, sr=SR, bank=IMPULSES)
    out = render_in_blocks(renderer, 441)
    c = round(4 * 60 * SR / 160)
    assert renderer.count_in_samples == c
    assert len(out) == c + 10 * SR
    ev = events(out)
    np.testing.assert_array_equal(ev["count_in"], ideal_constant(160, 4))
    np.testing.assert_array_equal(
        ev["beat"], [n for n in ideal_constant(160, 50, start=c) if n < len(out)]
    )


def test_accent_and_every():
    session = Session(180, duration_s=10, accent=4, every=2)
    ev = events(render_session(session, sr=SR, bank=IMPULSES))
    steps = ideal_constant(180, 30)
    sounding = steps[::2]
    np.testing.assert_array_equal(np.sort(np.concatenate([ev["beat"], ev["accent"]])), sounding)
    np.testing.assert_array_equal(ev["accent"], steps[::4])


def test_pause_stops_the_clock_and_resume_continues():
    renderer = BeatRenderer(Session(172, duration_s=5), sr=SR, bank=IMPULSES)
    a = render_in_blocks(renderer, 512, limit=SR)
    renderer.pause()
    buf = np.full(512, np.nan, dtype=np.float32)
    assert renderer.render(buf) == 0
    assert not buf.any()
    assert renderer.status().paused
    renderer.pause(False)
    b = render_in_blocks(renderer, 512)
    out = np.concatenate([a, b])
    assert len(out) == 5 * SR
    np.testing.assert_array_equal(
        events(out)["beat"], [n for n in ideal_constant(172, 20) if n < 5 * SR]
    )


def test_stereo_buffers_get_the_same_signal_on_every_channel():
    renderer = BeatRenderer(Session(172, duration_s=2), sr=SR)
    out = render_in_blocks(renderer, 512, channels=2)
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    assert np.abs(out).max() > 0.1


def test_loud_overlaps_are_clipped_to_full_scale():
    session = Session(240, duration_s=10, intervals=parse_intervals("run:4s,run:4s"), repeat=1)
    out = render_session(session, sr=SR, volume_db=0)
    assert np.abs(out).max() <= 1.0


def test_status_follows_the_session():
    session = Session(172, intervals=parse_intervals("run:10s,walk:5s"), repeat=2, count_in=2)
    renderer = BeatRenderer(session, sr=SR)
    st = renderer.status()
    assert st.label == "count-in" and st.elapsed_s < 0
    render_in_blocks(renderer, 4096, limit=renderer.count_in_samples + 12 * SR)
    st = renderer.status()
    assert st.label == "walk" and st.part == 1 and st.cycle == 0
    assert st.to_change_s == pytest.approx(3.0, abs=0.1)
    assert st.remaining_s == pytest.approx(18.0, abs=0.1)


def test_render_allocates_no_buffers():
    session = Session(
        172, intervals=parse_intervals("run:3s,walk:2s"), ramp_from_spm=150, ramp_over_s=20
    )
    renderer = BeatRenderer(session, sr=SR)
    buf = np.zeros((4096, 2), dtype=np.float32)
    for _ in range(20):  # warm up
        renderer.render(buf)
    tracemalloc.start()
    try:
        for _ in range(400):  # 37 s: ramps, interval changes, cues
            renderer.render(buf)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A block is 32 KiB: a temporary copy of even one channel of it would be
    # 16 KiB. What remains is the schedule's small objects at interval changes.
    assert peak < 8 * 1024


def test_endless_session_cannot_be_rendered_whole():
    with pytest.raises(ParameterError, match="duration"):
        render_session(Session(172), sr=SR)
    renderer = BeatRenderer(Session(172), sr=SR)
    assert renderer.total_samples is None
    render_in_blocks(renderer, 4096, limit=10 * SR)
    assert not renderer.finished


def test_a_tempo_change_at_a_beat_starts_the_new_grid_on_that_very_sample():
    sr = 8000
    r = BeatRenderer(Session(150.0, duration_s=20.0), sr=sr)
    at = round(10 * 60 * sr / 150.0)  # beat 10 of the old grid
    r.nudge_at(6.0, at=at)
    out = np.zeros(sr * 20, np.float32)
    for i in range(0, len(out), 333):  # blocks that straddle the beats
        r.render(out[i : i + 333])
    sounding = out != 0
    starts = np.flatnonzero(sounding & ~np.concatenate([[False], sounding[:-1]]))
    before = [round(k * 60 * sr / 150.0) for k in range(11)]
    after = [
        at + round(k * 60 * sr / 156.0)
        for k in range(1, 20)
        if at + round(k * 60 * sr / 156.0) < len(out)
    ]
    assert list(starts[:11]) == before
    assert list(starts[11 : 11 + len(after)]) == after
    assert r.status().spm == 156.0
