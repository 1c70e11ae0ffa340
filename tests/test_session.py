import itertools

import numpy as np
import pytest

from cadence.core.durations import format_clock, parse_duration_s
from cadence.core.session import Interval, Session, iter_segments, parse_intervals
from cadence.core.synth import VOICES, db_to_gain, synthesize_voice, voice_bank
from cadence.errors import ParameterError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("20m", 1200),
        ("1h", 3600),
        ("1:30:00", 5400),
        ("1:30", 90),
        ("45", 45),
        ("2.5min", 150),
        ("1h30m", 5400),
        ("1h 5m 10s", 3910),
        (" 20M ", 1200),
        ("0:00:01", 1),
    ],
)
def test_durations(text, seconds):
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "abc", "0", "0s", "-5m", "5x", "1:75", "1m1m", "m", "1h:30", "1:5", "1:30:5"]
)
def test_bad_durations_name_the_option(text):
    with pytest.raises(ParameterError, match="^ramp-over:"):
        parse_duration_s(text, parameter="ramp-over")


def test_format_clock():
    assert format_clock(0) == "0:00"
    assert format_clock(59.99) == "0:59"
    assert format_clock(3600) == "1:00:00"
    assert format_clock(-3) == "0:00"
    assert format_clock(10**6) == "277:46:40"


@pytest.mark.parametrize("seconds", [float("inf"), float("nan"), "90", None])
def test_format_clock_refuses_what_is_no_duration_by_name(seconds):
    with pytest.raises(ParameterError, match=r"^seconds: must be a"):
        format_clock(seconds)


def test_parse_intervals_labels_rates_and_silence():
    assert parse_intervals("run:2m,walk:1m") == (
        Interval("run", 120.0, None, False),
        Interval("walk", 60.0, None, True),
    )
    assert parse_intervals("2m, 1m@120, 30s@off") == (
        Interval("run", 120.0, None, False),
        Interval("walk", 60.0, 120.0, False),
        Interval("run", 30.0, None, True),
    )
    assert parse_intervals("tempo:5m@180")[0] == Interval("tempo", 300.0, 180.0, False)


@pytest.mark.parametrize("spec", ["", "2m,,1m", "run:", "run:2m@fast", "2m@300", "x:1q"])
def test_bad_intervals(spec):
    with pytest.raises(ParameterError, match="^intervals:"):
        parse_intervals(spec)


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"spm": 30}, "spm"),
        ({"spm": 250}, "spm"),
        ({"spm": float("nan")}, "spm"),
        ({"spm": 170, "ramp_from_spm": 150}, "ramp_from_spm"),
        ({"spm": 170, "ramp_over_s": 60}, "ramp_from_spm"),
        ({"spm": 170, "ramp_from_spm": 10, "ramp_over_s": 60}, "ramp_from_spm"),
        ({"spm": 170, "repeat": 3}, "repeat"),
        ({"spm": 170, "intervals": parse_intervals("1m,1m"), "repeat": 0}, "repeat"),
        ({"spm": 170, "every": 0}, "every"),
        ({"spm": 170, "accent": -1}, "accent"),
        ({"spm": 170, "count_in": 100}, "count_in"),
        ({"spm": 170, "duration_s": -1}, "duration_s"),
    ],
)
def test_bad_sessions_name_the_parameter(kwargs, parameter):
    with pytest.raises(ParameterError) as info:
        Session(**kwargs)
    assert info.value.parameter == parameter


def test_session_length_is_the_shorter_of_duration_and_programme():
    programme = parse_intervals("2m,1m")
    assert Session(170).length_s is None
    assert Session(170, intervals=programme).length_s is None
    assert Session(170, intervals=programme, repeat=10).length_s == 1800
    assert Session(170, intervals=programme, repeat=10, duration_s=600).length_s == 600
    assert Session(170, intervals=programme, repeat=2, duration_s=600).length_s == 360


def test_segments_are_contiguous_and_split_where_the_ramp_ends():
    session = Session(
        172,
        duration_s=600,
        intervals=parse_intervals("run:2m,walk:1m"),
        ramp_from_spm=160,
        ramp_over_s=150,
    )
    segs = list(iter_segments(session, sr=100))
    assert segs[0].start == 0
    for a, b in itertools.pairwise(segs):
        assert a.end == b.start
    assert segs[-1].end == 60000
    assert (segs[0].spm_start, segs[0].spm_end) == (160.0, pytest.approx(169.6))
    assert all(s.new_phrase for s in segs)  # the ramp ends in a walk here
    segs = list(
        iter_segments(Session(172, duration_s=100, ramp_from_spm=160, ramp_over_s=30), sr=100)
    )
    assert [(s.start, s.end, s.new_phrase) for s in segs] == [(0, 3000, True), (3000, 10000, False)]
    assert segs[0].spm_end == segs[1].spm_start == 172


def test_endless_session_yields_segments_forever():
    segs = iter_segments(Session(172, intervals=parse_intervals("1m,1m")), sr=100)
    first = [next(segs) for _ in range(50)]
    assert first[-1].cycle == 24


@pytest.mark.parametrize("voice", VOICES)
@pytest.mark.parametrize("sr", [8000, 44100, 48000])
def test_voices_start_on_their_first_sample_and_end_silent(voice, sr):
    for accent in (False, True):
        x = synthesize_voice(voice, sr=sr, accent=accent)
        assert x.dtype == np.float32
        assert x[0] != 0
        assert x[-1] == 0
        assert np.abs(x).max() == pytest.approx(1.0)
        assert len(x) < 0.1 * sr  # shorter than a beat at 240 spm (0.25 s)


def test_voices_differ_and_accent_is_louder_than_beat():
    sounds = [synthesize_voice(v, sr=44100) for v in VOICES]
    assert len({x.tobytes() for x in sounds}) == len(VOICES)
    bank = voice_bank("beep", sr=44100, volume_db=-6)
    assert np.abs(bank.accent).max() == pytest.approx(db_to_gain(-6), rel=1e-4)
    assert np.abs(bank.beat).max() < np.abs(bank.accent).max()
    assert all(s[0] != 0 for s in bank.as_tuple())


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [({"voice": "cowbell"}, "voice"), ({"volume_db": 3}, "volume_db"), ({"sr": 100}, "sr")],
)
def test_bad_sound_settings(kwargs, parameter):
    args = {"voice": "click", "sr": 44100, **kwargs}
    with pytest.raises(ParameterError) as info:
        voice_bank(args.pop("voice"), **args)
    assert info.value.parameter == parameter


@pytest.mark.parametrize("spec", ["walk:1m", "run:5s@off,walk:5s@off", "walk:1m,walk:2m"])
def test_a_programme_without_any_beat_is_refused_not_searched_forever(spec):
    with pytest.raises(ParameterError, match="^intervals: every part is silent"):
        Session(170, intervals=parse_intervals(spec))
    with pytest.raises(ParameterError, match="every part is silent"):
        Session(170, intervals=parse_intervals(spec), repeat=2, duration_s=10)


@pytest.mark.parametrize(
    ("kwargs", "parameter", "limit"),
    [
        ({"duration_s": 100_000 * 3600.0}, "duration_s", "at most 24 h"),
        ({"ramp_from_spm": 150, "ramp_over_s": 25 * 3600.0}, "ramp_over_s", "at most 24 h"),
        ({"intervals": parse_intervals("run:30h,walk:1m")}, "intervals", "at most 24 h"),
        ({"intervals": parse_intervals("1m,1m"), "repeat": 5000}, "repeat", "1 to 1000"),
    ],
)
def test_every_duration_and_count_has_a_bound_named_in_the_error(kwargs, parameter, limit):
    with pytest.raises(ParameterError, match=limit) as info:
        Session(170, **kwargs)
    assert info.value.parameter == parameter


def test_music_plays_on_through_a_silent_walk_at_the_rate_before_it():
    from cadence.core.session import music_rates

    programme = parse_intervals("walk:1m,run:2m@172,walk:30s,run:1m,walk:1m@130")
    assert music_rates(programme, spm=165) == [130.0, 172.0, 172.0, 165, 130.0]


@pytest.mark.parametrize("spec", ["run:4m,walk:1m", "run:90s,walk:45s@120,3m@175"])
def test_each_part_of_a_programme_for_music_lasts_whole_bars_of_its_rate(spec):
    from cadence.core.session import bar_aligned_intervals, music_rates

    programme = parse_intervals(spec)
    aligned = bar_aligned_intervals(programme, spm=168)
    for before, after, rate in zip(programme, aligned, music_rates(programme, spm=168)):
        bars = after.duration_s * rate / 60 / 4
        assert bars == pytest.approx(round(bars), abs=1e-9) and bars >= 1
        assert abs(after.duration_s - before.duration_s) <= 0.5 * 4 * 60 / rate + 1e-9
        assert (after.label, after.spm, after.silent) == (before.label, before.spm, before.silent)


def test_part_ends_place_the_parts_and_end_the_session():
    session = Session(
        170, intervals=parse_intervals("run:1m,walk:30s"), part_ends_s=(59.5, 90.25, 150.0)
    )
    segs = list(iter_segments(session, sr=1000))
    assert [(s.start, s.end, s.label, s.cycle) for s in segs] == [
        (0, 59500, "run", 0),
        (59500, 90250, "walk", 0),
        (90250, 150000, "run", 1),
    ]
    assert session.length_s == 150.0


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"part_ends_s": (10.0,)}, "needs `intervals`"),
        (
            {"part_ends_s": (10.0, 10.0), "intervals": ({"label": "run", "duration_s": 5},)},
            "rising",
        ),
        ({"count_in_spm": 500.0}, "count_in_spm"),
    ],
)
def test_bad_part_ends_or_count_in_rate_are_refused(options, words):
    if "intervals" in options:
        options["intervals"] = tuple(Interval(**i) for i in options["intervals"])
    with pytest.raises(ParameterError, match=words):
        Session(170, **options)


def test_the_count_in_can_have_its_own_rate():
    from cadence.core.session import count_in_samples

    session = Session(170, count_in=4, count_in_spm=160.0)
    assert session.start_spm == 160.0
    assert count_in_samples(session, sr=1000) == 1500


def test_clicks_on_loud_music_turn_the_whole_down_instead_of_clipping():
    from cadence.core.synth import mix_clicks, voice_bank

    sr = 8000
    t = np.arange(2 * sr) / sr
    loud = np.stack([0.95 * np.sin(2 * np.pi * 200 * t)] * 2, axis=1)
    bank = voice_bank("beep", sr=sr, volume_db=-6.0)
    beats = np.array([0.25, 0.75, 1.25])
    mixed, down_db = mix_clicks(loud, sr=sr, beats_s=beats, bank=bank, music_gain_db=0.0)
    assert down_db > 0.1 and np.abs(mixed).max() == pytest.approx(1.0, abs=1e-6)
    # The same mix as unclipped, only quieter as a whole: no sample is cut.
    clicks, _ = mix_clicks(np.zeros_like(loud), sr=sr, beats_s=beats, bank=bank)
    np.testing.assert_allclose(mixed, (loud + clicks) * 10 ** (-down_db / 20), atol=1e-5)
    quiet, quiet_db = mix_clicks(loud * 0.1, sr=sr, beats_s=beats, bank=bank, music_gain_db=0.0)
    assert quiet_db == 0.0
    np.testing.assert_allclose(quiet, loud * 0.1 + clicks, atol=1e-6)  # room: left as it is
