"""Placing songs on one step grid: downbeats on bars, crossfades that meet, no gap."""

from __future__ import annotations

import itertools

import pytest

from cadence.core.mix import Placement, SongTiming, place_songs, step_sample
from cadence.errors import ParameterError

SR, SPM = 44100, 170.0
STEP = 60 * SR / SPM


def song(
    seconds: float, *, downbeat_s: float = 1.3, last_beat_s: float | None = None
) -> SongTiming:
    length = round(seconds * SR)
    last = round((last_beat_s if last_beat_s is not None else seconds - 2.0) * SR)
    return SongTiming(length=length, downbeat=round(downbeat_s * SR), last_beat=last)


def on_a_bar(p: Placement, s: SongTiming, *, anchor: int = 0) -> bool:
    at = p.to_session(s.downbeat) - anchor
    j = round(at / STEP)
    return j % 4 == 0 and at == step_sample(j, anchor=0, spm=SPM, sr=SR)


SONGS = [song(200.0), song(185.5, downbeat_s=7.9), song(240.2, downbeat_s=0.0), song(61.0)]


@pytest.mark.parametrize("anchor", [0, 4 * round(STEP)])
def test_every_songs_downbeat_lands_on_the_first_step_of_a_bar(anchor):
    placed = place_songs(SONGS, sr=SR, spm=SPM, anchor=anchor)
    assert [p.song for p in placed] == [0, 1, 2, 3]
    for p in placed:
        assert on_a_bar(p, SONGS[p.song], anchor=anchor)
    assert placed[0].start == anchor  # the music starts with the session's first step


def test_each_song_fades_out_while_the_next_fades_in_with_no_gap():
    placed = place_songs(SONGS, sr=SR, spm=SPM)
    for a, b in itertools.pairwise(placed):
        assert b.start == a.stop - a.fade_out  # the two fades are the same samples
        assert a.fade_out == b.fade_in == round(8 * STEP)
        assert b.start > a.start
    assert placed[-1].end == SONGS[3].length and placed[-1].fade_out == 0


def test_an_intro_is_cut_to_the_crossfade():
    placed = place_songs(SONGS, sr=SR, spm=SPM)
    second = placed[1]
    assert SONGS[1].downbeat - second.first == round(8 * STEP)


def test_a_long_session_plays_the_songs_again_and_ends_on_time():
    total = 30 * 60 * SR
    placed = place_songs(SONGS, sr=SR, spm=SPM, total=total)
    assert placed[-1].stop == total and placed[-1].fade_out > 0
    assert [p.song for p in placed[:6]] == [0, 1, 2, 3, 0, 1]
    assert all(on_a_bar(p, SONGS[p.song]) for p in placed)


def test_a_short_session_cuts_the_first_song():
    placed = place_songs(SONGS, sr=SR, spm=SPM, total=60 * SR)
    assert len(placed) == 1 and placed[0].stop == 60 * SR


def test_placing_refuses_no_songs_and_beats_outside_a_song():
    with pytest.raises(ParameterError):
        place_songs([], sr=SR, spm=SPM)
    with pytest.raises(ParameterError):
        place_songs([SongTiming(length=100, downbeat=50, last_beat=200)], sr=SR, spm=SPM)


def test_a_resumed_song_plays_on_from_its_point_without_a_fade_in():
    placed = place_songs(SONGS[:2], sr=SR, spm=SPM, anchor=5000, resume=700_000)
    assert (placed[0].start, placed[0].first, placed[0].fade_in) == (5000, 700_000, 0)
    assert placed[1].start > placed[0].start


@pytest.mark.parametrize("phase", [0, 1, 3])
def test_after_a_live_change_the_next_downbeat_lands_on_a_bar_of_the_old_count(phase):
    # The anchor is step `phase` of a bar: the bars go on as the click counts them.
    placed = place_songs(SONGS[:2], sr=SR, spm=SPM, anchor=0, resume=2_000_000, bar_phase=phase)
    at = placed[1].to_session(SONGS[1].downbeat)
    j = round(at / STEP)
    assert at == step_sample(j, anchor=0, spm=SPM, sr=SR)
    assert (j + phase) % 4 == 0


def test_a_first_song_cut_short_fades_into_the_next_soon_after():
    cut = 2_000_000 + SR
    placed = place_songs(SONGS[:2], sr=SR, spm=SPM, resume=2_000_000, first_end=cut)
    assert 0 < placed[1].start <= SR + 4 * STEP  # on the first bar it can
    assert placed[0].fade_out == placed[1].fade_in > 0


# --- a run/walk programme under a ramp ---------------------------------------


def steps_of_part(start, end, rate, stairs):
    """The steps of a part from `start` (its step 0) through its stairs, up to `end`."""
    out, grid, j = [start], start, 0
    inside = [s for s in stairs if start < s[0] < end]
    while out[-1] < end:
        j += 1
        at = step_sample(j, anchor=grid, spm=rate, sr=SR_PROGRAMME)
        if inside and at >= inside[0][0]:
            assert at == inside[0][0]  # a stair is a step of the grid before it
            grid, rate, j = at, inside.pop(0)[1], 0
        out.append(at)
    return out


SR_PROGRAMME = 44100


@pytest.mark.parametrize(
    ("spec", "ramp_from", "over_s", "repeat"),
    [
        ("run:50s,walk:20s", 160.0, 120.0, 3),  # the ramp goes on through the walks
        ("run:45s,walk:15s@150,run:30s", 172.0, 100.0, 2),  # down, with a part at its own rate
        ("walk:10s,run:25s", 158.0, 40.0, 3),  # a walk first: the ramp's start
        ("run:8s,walk:4s", 160.0, 3.0, 4),  # stairs due faster than the steps come
    ],
)
def test_a_ramped_programme_puts_every_part_on_bars_and_ramps_only_the_runs(
    spec, ramp_from, over_s, repeat
):
    from cadence.core.mix import ramped_programme
    from cadence.core.session import parse_intervals

    spm, sr = 166.0, SR_PROGRAMME
    intervals = parse_intervals(spec)
    p = ramped_programme(
        intervals, spm=spm, ramp_from_spm=ramp_from, ramp_over_s=over_s, sr=sr, repeat=repeat
    )
    assert len(p.part_ends) == repeat * len(intervals)

    def ramp_at(sample):  # the metronome's linear ramp
        return ramp_from + (spm - ramp_from) * min(1.0, sample / (over_s * sr))

    rate_before = None
    for k, (start, end) in enumerate(zip(p.part_starts, p.part_ends, strict=True)):
        interval = intervals[k % len(intervals)]
        rate = p.part_rates[k]
        if interval.spm is not None:
            assert rate == interval.spm and not p.ramped[k]
        elif interval.silent:
            assert rate == (rate_before if rate_before is not None else ramp_from)
        else:
            assert p.ramped[k] and abs(rate - ramp_at(start)) <= 0.5 + 1e-9
        inside = [s for s in p.stairs if start < s[0] < end]
        assert p.ramped[k] or not inside  # stairs only in the runs that follow the ramp
        steps = steps_of_part(start, end, rate, p.stairs)
        assert steps[-1] == end and (len(steps) - 1) % 4 == 0  # whole bars
        bar = 4 * 60 * sr / (inside[-1][1] if inside else rate)
        assert abs(end - start - interval.duration_s * sr) <= bar / 2 + 1  # the nearest bars
        for (before, _), (at, value) in itertools.pairwise([(start, rate), *inside]):
            late = (ramp_at(at) - value) * (1 if spm > ramp_from else -1)
            assert late >= -1e-9  # never ahead of the ramp, behind it by under a stair ...
            assert late <= 0.5 + 1e-9 or steps.index(at) == steps.index(before) + 1  # or a step
        climb = [rate] + [v for _, v in inside]  # in a run: small stairs, one way
        assert all(
            (b - a) * (spm - ramp_from) > 0 and abs(b - a) <= 0.5 + 1e-9
            for a, b in itertools.pairwise(climb)
        )
        rate_before = climb[-1]
    runs = [(s, v) for s, v, f in zip(p.part_starts, p.part_rates, p.ramped, strict=True) if f]
    assert runs[-1][1] == spm  # the ramp is over by the last run
    assert p.ramp_end == min(
        [s for s, v in runs if v == spm] + [a for a, v in p.stairs if v == spm]
    )


def test_a_ramped_programme_needs_an_end():
    from cadence.core.mix import ramped_programme
    from cadence.core.session import parse_intervals

    with pytest.raises(ParameterError, match="total"):
        ramped_programme(
            parse_intervals("1m,1m"), spm=170, ramp_from_spm=160, ramp_over_s=60, sr=44100
        )
    p = ramped_programme(
        parse_intervals("1m,1m"), spm=170, ramp_from_spm=160, ramp_over_s=60, sr=100, total=15000
    )
    assert p.part_starts[-1] < 15000 <= p.part_ends[-1]  # the parts up to the session's end


def test_ramp_stairs_due_faster_than_the_steps_go_one_a_step():
    from cadence.core.mix import ramp_stairs

    stairs = ramp_stairs(160, 168, over_s=3.0, anchor=0, sr=44100)  # 16 stairs, 0.19 s apart
    ats = [at for at, _ in stairs]
    assert len(set(ats)) == 16 and ats == sorted(ats)
    rates = [160.0] + [r for _, r in stairs]
    assert max(b - a for a, b in itertools.pairwise(rates)) <= 0.5
    grid, rate = 0, 160.0
    for at, new_rate in stairs:  # each on the step right after the one before
        assert at == step_sample(1, anchor=grid, spm=rate, sr=44100)
        grid, rate = at, new_rate
