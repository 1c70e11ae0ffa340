"""The pure cadence maths of a recorded run: weights, units, stops, walks, splits."""

import dataclasses

import numpy as np
import pytest

from cadence.core.activity import (
    resolve_cadence_units,
    summarize_recording,
    walk_result,
    weighted_quantiles,
)
from cadence.core.recording import (
    MAX_RECORD_S,
    Recording,
    haversine_m,
    normalize_sport,
    record_weights_s,
    sport_of_sessions,
)
from cadence.errors import ActivityFileError, ParameterError


def recording(cadence, *, time_s=None, speed=None, distance=None, lap=None, **kw):
    cadence = np.asarray(cadence, dtype=float)
    n = cadence.size
    time_s = np.arange(n, dtype=float) if time_s is None else np.asarray(time_s, dtype=float)
    speed = np.full(n, 3.0) if speed is None else np.asarray(speed, dtype=float)
    distance = np.cumsum(speed) if distance is None else np.asarray(distance, dtype=float)
    lap = np.zeros(n, int) if lap is None else np.asarray(lap)
    kw.setdefault("sport", "running")
    kw.setdefault("cadence_units", "strides")
    return Recording(
        name="run.fit",
        file_format=kw.pop("file_format", "FIT"),
        time_s=time_s,
        cadence_raw=cadence,
        speed_mps=speed,
        distance_m=distance,
        lap=lap,
        **kw,
    )


def test_weighted_median_follows_time_not_record_count():
    # 10 records of 170 covering 1 s each, 2 records of 180 covering 10 s each.
    values = np.array([170.0] * 10 + [180.0] * 2)
    weights = np.array([1.0] * 10 + [10.0] * 2)
    assert weighted_quantiles(values, weights, [0.5])[0] == 180.0
    assert np.median(values) == 170.0


def test_weighted_quantiles_match_numpy_median_for_equal_weights():
    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 100):
        values = rng.normal(170, 5, n)
        assert weighted_quantiles(values, np.ones(n), [0.5])[0] == pytest.approx(np.median(values))


@pytest.mark.parametrize(
    ("values", "weights", "qs", "message"),
    [
        ([], [], [0.5], "^weights: no values with positive weight"),
        ([170.0, 180.0], [0.0, 0.0], [0.5], "^weights: no values with positive weight"),
        ([170.0, 180.0], [1.0], [0.5], r"^weights: must be one weight per value"),
        ([170.0, 180.0], [1.0, 1.0], [1.5], r"^qs: quantiles must be in \[0, 1\]"),
        ([170.0, 180.0], [1.0, np.inf], [0.5], r"weights finite"),
    ],
)
def test_weighted_quantiles_refuse_what_has_no_quantile(values, weights, qs, message):
    with pytest.raises(ParameterError, match=message):
        weighted_quantiles(values, weights, qs)


def test_record_weight_is_time_to_next_record_capped():
    w = record_weights_s(np.array([0.0, 1.0, 4.0, 300.0, 301.0, 302.0]))
    # The pause after 4 s counts only 10 s; the last record gets the median gap.
    assert w.tolist() == [1.0, 3.0, MAX_RECORD_S, 1.0, 1.0, 1.0]


def test_haversine_distance_of_one_degree_of_latitude():
    d = haversine_m(np.array([0.0, 1.0, np.nan, 2.0]), np.array([0.0, 0.0, np.nan, 0.0]))
    assert d[1] == pytest.approx(111_195, rel=1e-3)
    assert d[2] == d[1]  # a point without position adds nothing
    assert d[3] == pytest.approx(2 * 111_195, rel=1e-3)


@pytest.mark.parametrize(
    "name, expected",
    [("Running", "running"), ("Biking", "cycling"), ("Ride", "cycling"), ("9", "running"),
     ("trail running", "trail_running"), (None, None), ("", None)],
)  # fmt: skip
def test_sport_names_from_fit_gpx_and_tcx_are_normalized(name, expected):
    assert normalize_sport(name) == expected


def test_multisport_file_mixing_cycling_and_running_is_refused():
    with pytest.raises(ActivityFileError, match=r"tri\.fit is a multisport file.*cycling"):
        sport_of_sessions(["swimming", "cycling", "running"], name="tri.fit")
    assert sport_of_sessions(["walking", "running"], name="x.fit") == "running"


def test_auto_units_tell_strides_from_steps():
    assert resolve_cadence_units(np.array([80.0, 85, 90]), "auto") == "strides"
    assert resolve_cadence_units(np.array([160.0, 170, 175]), "auto") == "steps"
    assert resolve_cadence_units(np.array([160.0]), "strides") == "strides"
    with pytest.raises(ParameterError, match="cadence_units"):
        resolve_cadence_units(np.array([1.0]), "rpm")


@pytest.mark.parametrize(
    ("raw", "speed_mps", "expected"),
    [
        (110.0, 1.31, "steps"),  # a walk at 4.7 km/h in steps: doubled, 0.36 m run steps
        (100.0, 0.9, "steps"),  # a slow walk in steps
        (85.0, 3.0, "strides"),  # a run in strides: 1.06 m steps
        (78.0, 1.9, "strides"),  # a very slow jog, 156 steps/min at 6.8 km/h
        (105.0, 5.0, "strides"),  # fast strides at 18 km/h
        (55.0, 0.7, "strides"),  # a slow walk in strides, 110 steps/min: not in the doubt
        (110.0, np.nan, "strides"),  # no speed: the values alone, as before
    ],
)
def test_auto_units_ask_the_speed_when_the_values_could_be_either(raw, speed_mps, expected):
    values = np.full(200, raw)
    speed = np.full(200, speed_mps)
    assert resolve_cadence_units(values, "auto", speed_mps=speed) == expected


@pytest.mark.parametrize("sport", ["walking", "hiking", None])
@pytest.mark.parametrize(
    ("steps", "kmh"),
    [(100, 5.2), (105, 5.5), (115, 6.0), (118, 6.5), (110, 7.0), (90, 5.3), (85, 4.6)],
)
def test_a_brisk_walk_in_steps_is_not_doubled_into_a_run_at_walking_speed(sport, steps, kmh):
    walk = recording([steps] * 1800, speed=[kmh / 3.6] * 1800, sport=sport, cadence_units="auto")
    r = summarize_recording(walk)
    assert (r.kind, r.median_spm, r.cadence_units) == ("walk", steps, "steps")


@pytest.mark.parametrize("sport", ["running", "trail_running", None])
def test_a_slow_climb_is_still_run_in_strides(sport):
    # Up a steep trail: 82 strides/min at 4.7 km/h (0.48 m steps), hiking between.
    cadence = ([82.0] * 300 + [58.0] * 200) * 6
    speed = ([1.3] * 300 + [0.9] * 200) * 6
    r = summarize_recording(recording(cadence, speed=speed, sport=sport, cadence_units="auto"))
    assert (r.kind, r.median_spm, r.cadence_units) == ("run", 164.0, "strides")
    assert r.walking_s == pytest.approx(1200.0)


def test_a_declared_run_is_strides_even_where_the_speed_says_steps():
    # 85 strides/min at 3.6 km/h (0.35 m steps): slow as a walk, but a run's file.
    r = summarize_recording(recording([85] * 600, speed=[1.0] * 600, cadence_units="auto"))
    assert (r.median_spm, r.cadence_units) == (170.0, "strides")


@pytest.mark.parametrize(("steps", "kmh"), [(100, 2.3), (90, 6.0), (110, 2.0)])
def test_a_declared_walk_is_steps_unless_they_are_far_off_a_walks(steps, kmh):
    # A steep hike's 0.38 m steps, a long-legged stroll's 1.11 m: still steps.
    hike = recording([steps] * 1800, speed=[kmh / 3.6] * 1800, sport="hiking", cadence_units="auto")
    assert summarize_recording(hike).median_spm == steps
    # A race walk in strides (95 at 13 km/h: 2.3 m "steps") is doubled.
    race = recording([95] * 1800, speed=[13 / 3.6] * 1800, sport="walking", cadence_units="auto")
    assert summarize_recording(race).median_spm == 190


def test_sport_is_the_runners_word():
    slow = recording([66.0] * 1800, speed=[2.0] * 1800, sport="walking")  # a 132 spm jog
    assert summarize_recording(slow).kind == "walk"
    told = summarize_recording(slow, sport="run")
    assert (told.kind, told.median_spm, told.counted_s) == ("run", 132.0, 1800.0)
    assert "taken for a run, as --sport says" in told.warnings[-1] and told.sport == "running"
    assert "counted as running, as --sport says" in told.notes[-1]
    trail = summarize_recording(recording([85.0] * 600, sport="trail_running"), sport="run")
    assert trail.sport == "trail_running" and not trail.warnings  # what it was called stays
    with pytest.raises(ParameterError, match="^sport: must be run or walk"):
        summarize_recording(slow, sport="ride")


def test_a_walk_recorded_in_steps_is_not_doubled_into_a_run():
    walk = recording([110] * 300, speed=[1.31] * 300, sport=None, cadence_units="auto")
    r = summarize_recording(walk)
    assert (r.kind, r.median_spm, r.cadence_units) == ("walk", 110.0, "steps")
    assert "0.71 m steps, a walk's" in r.conversion and "not doubled" in r.conversion
    declared = summarize_recording(dataclasses.replace(walk, sport="walking"))
    assert declared.median_spm == 110.0
    assert "well under the 150-190" in walk_result(declared)["advice"][0]


def test_a_race_walk_is_not_called_a_slow_cadence():
    race = summarize_recording(recording([95] * 300, speed=[3.8] * 300, sport="walking"))
    assert race.median_spm == 190.0
    advice = walk_result(race)["advice"][0]
    assert "well under" not in advice and "at 190 steps/min (a brisk or race walk)" in advice


def _ride(seconds: int, *, speed_mps: float, coasting_every_s: int | None, rpm: float = 85.0):
    """A ride without a sport: steady pedalling, and now and then 8 s of freewheeling."""
    cadence = np.full(seconds, rpm)
    if coasting_every_s:
        for start in range(coasting_every_s, seconds, coasting_every_s):
            cadence[start : start + 8] = 0.0
    return recording(cadence, speed=np.full(seconds, speed_mps), sport=None)


def test_a_ride_without_sport_is_told_by_its_freewheeling():
    with pytest.raises(
        ActivityFileError, match=r"freewheels: .* in \d+ stretches.*looks like a ride"
    ):
        summarize_recording(_ride(1800, speed_mps=5.0, coasting_every_s=60))


def test_a_ride_without_sport_is_told_by_steps_longer_than_running():
    told = r"2\.79 m steps at 140 steps/min \(23 km/h\).*looks like a ride.*--sport run"
    with pytest.raises(ActivityFileError, match=told):
        summarize_recording(_ride(1800, speed_mps=6.5, coasting_every_s=None, rpm=70))


@pytest.mark.parametrize(("kmh", "rpm"), [(23, 70), (25, 80), (20, 65)])
def test_a_steady_slow_pedalling_ride_without_sport_is_told_by_its_step(kmh, rpm):
    # Steps over 2.2 m (an elite 5 km takes 2.0-2.1 m). A steady ride at 85-100
    # rpm under 25 km/h reads as a fast run: --sport says otherwise.
    ride = _ride(1800, speed_mps=kmh / 3.6, coasting_every_s=None, rpm=rpm)
    with pytest.raises(ActivityFileError, match="longer than anyone runs with.*looks like a ride"):
        summarize_recording(ride)


def test_a_short_ride_that_freewheels_often_is_told_by_its_rate_of_freewheeling():
    # 15 minutes at 19 km/h, 8 s of freewheeling every minute: 14 stretches.
    with pytest.raises(ActivityFileError, match="freewheels: .* in 14 stretches"):
        summarize_recording(_ride(900, speed_mps=5.3, coasting_every_s=60, rpm=92))


def _smart_repeats():
    """20 x 200 m at 6.3 m/s with 60 s standing rests, "smart recording" (a record
    every 1-7 s), the GPS speed 2.5 s behind each stop."""
    rng = np.random.default_rng(0)
    times, cadence, speed, now = [], [], [], 0.0
    for _ in range(20):
        for duration, strides, mps in ((32, 95.0, 6.3), (60, 0.0, 0.0)):
            end = now + duration
            while now < end:
                times.append(now)
                cadence.append(strides)
                speed.append(mps if mps or now - (end - duration) >= 2.5 else 6.3)
                now += float(rng.integers(1, 8))
    return recording(cadence, time_s=times, speed=speed, sport=None)


def test_a_run_with_a_foot_pod_that_drops_out_often_is_refused_with_the_way_out():
    # 25 drop-outs of 6 s an hour, written as 0, each followed by running on:
    # freewheeling to the data. The refusal says how to say what it is.
    cadence = np.where((np.arange(3600) % 144) < 6, 0.0, 84.0)
    flaky = recording(cadence, speed=[3.3] * 3600, sport=None)
    with pytest.raises(ActivityFileError, match="freewheels.*--sport run"):
        summarize_recording(flaky)
    assert summarize_recording(flaky, sport="run").median_spm == 168.0


def _repeats(*, reps: int, rep_s: int, speed_mps: float, strides: float, rest_s: int, lag_s: int):
    """Track repeats with standing rests; at each stop the GPS speed lags
    `lag_s` behind the cadence, which is 0 at once."""
    cadence, speed = [], []
    for _ in range(reps):
        cadence += [strides] * rep_s + [0.0] * rest_s
        speed += [speed_mps] * (rep_s + lag_s) + [0.0] * (rest_s - lag_s)
    return recording(cadence, speed=speed, sport=None)


@pytest.mark.parametrize(
    "run",
    [
        # 12 x 200 m at 20 km/h, 2 s of GPS lag at every stop: not freewheeling.
        _repeats(reps=12, rep_s=36, speed_mps=5.5, strides=92, rest_s=60, lag_s=2),
        # 200 m repeats at 22 km/h: a median faster than a marathon, and still a run.
        _repeats(reps=10, rep_s=32, speed_mps=6.2, strides=94, rest_s=90, lag_s=0),
        # A steady run whose foot pod drops out six times for 30 s, written as 0.
        recording(
            np.where((np.arange(3600) % 600) < 30, 0.0, 85.0), speed=[3.4] * 3600, sport=None
        ),
        _smart_repeats(),
        # 152 steps/min at 16 km/h: 1.74 m steps, the overstriding this tool is for.
        recording([76.0] * 1800, speed=[4.4] * 1800, sport=None),
        recording([82.5] * 1800, speed=[5.2] * 1800, sport=None),
    ],
    ids=[
        "repeats-with-gps-lag",
        "fast-200s",
        "foot-pod-drop-outs",
        "smart-recording-repeats",
        "overstrider-at-16-kmh",
        "fast-reps-at-165",
    ],
)
def test_runs_without_a_sport_that_look_a_little_like_rides_are_runs(run):
    r = summarize_recording(run)
    assert r.kind == "run" and r.median_spm > 150


def test_a_run_whose_foot_pod_dies_is_still_a_run():
    # Cadence 0 for the last 10 minutes at running speed: one stretch, not freewheeling.
    cadence = [85.0] * 1200 + [0.0] * 600
    r = summarize_recording(recording(cadence, speed=[3.3] * 1800, sport=None))
    assert r.kind == "run" and r.median_spm == 170.0 and r.counted_s == 1200.0


def test_strides_are_doubled_and_steps_are_not():
    strides = summarize_recording(recording([85.0] * 120))
    steps = summarize_recording(recording([170.0] * 120, cadence_units="steps"))
    assert strides.median_spm == steps.median_spm == 170.0
    assert "doubled" in strides.conversion and "not doubled" in steps.conversion


def test_stops_and_walk_breaks_are_left_out_of_a_run():
    cadence = [0] * 30 + [85] * 100 + [55] * 40 + [88] * 100
    speed = [0.0] * 30 + [3.0] * 100 + [1.4] * 40 + [3.2] * 100
    r = summarize_recording(recording(cadence, speed=speed))
    assert r.kind == "run"
    assert (r.counted_s, r.stopped_s, r.walking_s) == (200.0, 30.0, 40.0)
    assert r.median_spm == pytest.approx(173.0)  # halfway between 170 and 176
    assert r.p10_spm == 170.0 and r.p90_spm == 176.0


def test_standing_with_cadence_noise_counts_as_stopped():
    # GPS says standing still while the watch still reports arm swing.
    cadence = [85] * 100 + [80] * 50
    speed = [3.0] * 100 + [0.2] * 50
    r = summarize_recording(recording(cadence, speed=speed))
    assert r.stopped_s == 50.0 and r.median_spm == 170.0


def test_speed_is_derived_from_distance_when_missing():
    cadence = [85] * 100 + [85] * 50
    distance = np.concatenate([np.arange(100) * 3.0, np.full(50, 297.0)])
    r = summarize_recording(recording(cadence, speed=np.full(150, np.nan), distance=distance))
    assert r.stopped_s == pytest.approx(50.0, abs=1)


def test_a_walk_is_reported_as_a_walk_over_all_its_moving_time():
    walk = summarize_recording(recording([58, 60, 62] * 40, speed=[1.4] * 120, sport="walking"))
    assert walk.kind == "walk" and walk.median_spm == 120.0 and walk.walking_s == 0.0


def test_a_walk_gets_its_cadence_and_no_running_targets():
    walk = summarize_recording(recording([61] * 120, speed=[1.4] * 120, sport="hiking"))
    result = walk_result(walk)
    assert result["cadence_spm"] == 122.0
    assert result["target_5_spm"] is None and result["target_10_spm"] is None
    assert "walk (sport: hiking)" in result["advice"][0]


def test_a_run_that_is_mostly_walking_is_reported_as_a_walk_with_a_note():
    r = summarize_recording(recording([60] * 100 + [85] * 30, speed=[1.5] * 130))
    assert r.kind == "walk"
    assert "recorded as a run" in r.notes[0] and "77 %" in r.notes[0]


def test_absurd_single_records_are_dropped_with_a_warning():
    cadence = [85.0] * 100 + [250.0, 0.0, 254.0]
    r = summarize_recording(recording(cadence))
    assert r.absurd_records == 2
    assert r.median_spm == 170.0
    assert any("impossible cadence" in w and "2 record" in w for w in r.warnings)


def test_too_little_running_is_an_error_naming_the_file():
    with pytest.raises(ActivityFileError, match=r"run\.fit has only 10 s of running"):
        summarize_recording(recording([85] * 10 + [0] * 100))


@pytest.mark.parametrize(
    ("cadence", "speed", "cause"),
    [
        ([85] * 10 + [0] * 100, [3.0] * 110, "1:40 under 60 steps/min"),
        ([85] * 10 + [np.nan] * 100, [3.0] * 110, "1:40 without cadence"),
        ([85] * 10 + [60] * 100, [1.4] * 110, None),  # mostly walking: reported as a walk
        # Arm swing while standing; not nearly all the time, so not a treadmill.
        ([85] * 10 + [85] * 15, [3.0] * 10 + [0.1] * 15, "0:15 standing still"),
    ],
)
def test_too_little_to_measure_says_what_the_rest_of_the_recording_was(cadence, speed, cause):
    if cause is None:
        assert summarize_recording(recording(cadence, speed=speed)).kind == "walk"
        return
    with pytest.raises(ActivityFileError, match=f"only 10 s of running.*; the rest: {cause}"):
        summarize_recording(recording(cadence, speed=speed))


def test_a_treadmill_run_whose_speed_says_standing_is_measured_without_the_speed():
    r = summarize_recording(recording([85.0] * 600, speed=[0.0] * 600))
    assert (r.kind, r.median_spm, r.counted_s, r.stopped_s) == ("run", 170.0, 600.0, 0.0)
    assert any("treadmill" in w and "not used to find stops" in w for w in r.warnings)


def test_gaps_between_records_are_accounted_for_as_left_out():
    # Two 5-minute halves with a 10-minute pause between them.
    t = np.concatenate([np.arange(300.0), 900.0 + np.arange(300.0)])
    r = summarize_recording(recording([85.0] * 600, time_s=t))
    assert r.counted_s == pytest.approx(600.0, abs=10)
    assert r.elapsed_s == pytest.approx(r.counted_s + r.paused_s, abs=1e-6)
    assert r.paused_s == pytest.approx(590.0, abs=10) and r.to_dict()["paused_s"] == r.paused_s


def test_a_huge_damaged_value_is_said_in_three_figures():
    r = summarize_recording(recording([85.0] * 100 + [1e300]))
    assert any("highest 2e+300)" in w for w in r.warnings), r.warnings


def test_no_cadence_at_all_is_an_error():
    with pytest.raises(ActivityFileError, match="no cadence data"):
        summarize_recording(recording([np.nan] * 100))


def test_cycling_is_refused_because_its_cadence_is_pedal_rpm():
    with pytest.raises(ActivityFileError, match="cycling activity.*pedal revolutions"):
        summarize_recording(recording([85] * 100, sport="cycling"))


def test_a_recording_without_sport_at_cycling_speed_is_refused():
    with pytest.raises(ActivityFileError, match="median 32 km/h.*looks like a ride"):
        summarize_recording(recording([85] * 100, speed=[9.0] * 100, sport=None))
    with pytest.raises(ActivityFileError, match="median 26 km/h.*looks like a ride"):
        summarize_recording(recording([85] * 100, speed=[7.2] * 100, sport=None))
    # Declared runs are believed (a fast downhill, a GPS glitch).
    assert summarize_recording(recording([85] * 100, speed=[9.0] * 100)).kind == "run"


def test_splits_per_lap_and_per_km():
    lap = np.repeat([0, 1, 2], 400)
    cadence = np.repeat([84.0, 86.0, 88.0], 400)
    r = summarize_recording(recording(cadence, lap=lap))  # 3 m/s -> 3.6 km
    assert r.split_kind == "lap"
    assert [s.median_spm for s in r.splits] == [168.0, 172.0, 176.0]
    assert [s.duration_s for s in r.splits] == [400.0, 400.0, 400.0]
    km = summarize_recording(recording(cadence, lap=lap), splits="km")
    assert [s.label for s in km.splits] == ["km 1", "km 2", "km 3", "km 4"]
    assert km.splits[0].distance_m == pytest.approx(1000, abs=3)
    assert km.splits[-1].distance_m == pytest.approx(600, abs=3)
    miles = summarize_recording(recording(cadence, lap=lap), splits="mile")
    assert len(miles.splits) == 3


def test_splits_need_distance_for_kilometres():
    with pytest.raises(ActivityFileError, match="no distance"):
        summarize_recording(
            recording([85] * 100, speed=[np.nan] * 100, distance=[np.nan] * 100), splits="km"
        )


def test_json_dict_has_rounded_figures_and_no_arrays():
    d = summarize_recording(recording([85.25] * 100)).to_dict()
    assert d["median_spm"] == 170.5 and d["kind"] == "run"
    assert "spm" not in d and "time_s" not in d
    assert d["splits"][0]["label"] == "km 1"


def test_gps_positions_that_change_every_other_second_are_a_steady_run():
    # Records every second, positions every 2 s: record by record 0, 6.6, 0, 6.6 m.
    t = np.arange(1200.0)
    distance = 3.3 * 2 * np.floor(t / 2)
    run = recording([85.0] * 1200, speed=np.full(1200, np.nan), distance=distance, sport=None)
    r = summarize_recording(run)
    assert (r.kind, r.median_spm) == ("run", 170.0)
    assert r.stopped_s == 0.0 and r.counted_s == pytest.approx(1200.0)


def test_the_last_record_before_a_pause_is_not_a_stop():
    t = np.concatenate([np.arange(300.0), 600.0 + np.arange(300.0)])
    distance = np.concatenate([3.0 * np.arange(300.0), 900.0 + 3.0 * np.arange(300.0)])
    run = recording([85.0] * 600, time_s=t, speed=np.full(600, np.nan), distance=distance)
    r = summarize_recording(run)
    assert r.stopped_s == 0.0, r


def test_a_gps_that_froze_in_a_tunnel_keeps_the_way_it_catches_up():
    # 3 m/s; no new position for 60 s, then the 180 m run meanwhile at once.
    t = np.arange(600.0)
    distance = 3.0 * t
    distance[200:260] = distance[199]
    r = summarize_recording(recording([85.0] * 600, speed=[3.0] * 600, distance=distance))
    assert r.distance_m == pytest.approx(3.0 * 599, abs=1)
    assert not any("no runner could make" in w for w in r.warnings)


@pytest.mark.parametrize("every_s", [1, 5])
def test_stops_are_found_from_the_distance_however_often_the_records_are(every_s):
    # 40 minutes at 3 m/s with 11 stops of 20 s, stepping on the spot (cadence kept).
    t = np.arange(0.0, 2400.0)
    stopped = np.zeros(t.size, dtype=bool)
    for start in range(200, 2400, 200):
        stopped[start : start + 20] = True
    distance = np.concatenate([[0.0], np.cumsum(np.where(stopped, 0.0, 3.0))[:-1]])
    keep = (t % every_s) == 0
    run = recording(
        [85.0] * int(keep.sum()),
        time_s=t[keep],
        speed=np.full(int(keep.sum()), np.nan),
        distance=distance[keep],
    )
    # Within a record a stop: the 2 s a speed spans may blur a stop's last second.
    assert summarize_recording(run).stopped_s == pytest.approx(220.0, abs=11 * every_s)


def test_a_wild_fix_after_standing_still_adds_no_distance():
    # 3 m/s for 10 min, standing 10 min (no steps, no new distance), then a
    # bad fix 1.5 km away and back, and 10 min more running.
    t = np.arange(1800.0)
    step = np.where((t >= 600) & (t < 1200), 0.0, 3.0)
    distance = np.concatenate([[0.0], np.cumsum(step)[:-1]])
    distance[1200:] += 3000.0  # out and back: the cumulative distance keeps both legs
    distance[1200] -= 1500.0
    cadence = np.where((t >= 600) & (t < 1200), 0.0, 85.0)
    r = summarize_recording(
        recording(cadence, speed=np.where(step > 0, 3.0, 0.0), distance=distance)
    )
    assert r.distance_m == pytest.approx(3.0 * 1199, abs=60)
    assert any("no runner could make" in w for w in r.warnings)


@pytest.mark.parametrize(("strides", "kmh"), [(73, 4.7), (72, 4.5), (75, 5.0)])
def test_a_declared_walk_in_strides_is_doubled(strides, kmh):
    # Garmin's GPX of a brisk walk: 146 steps/min at 4.7 km/h (0.53 m steps).
    walk = recording(
        [strides] * 1800, speed=[kmh / 3.6] * 1800, sport="walking", cadence_units="auto"
    )
    assert summarize_recording(walk).median_spm == 2 * strides


def _smart_run_with_single_gaps():
    """An hour at 3.3 m/s, a record every 1-7 s, 1 in 45 with cadence 0 or none."""
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.integers(1, 8, 900)).astype(float)
    cadence = np.full(t.size, 85.0)
    cadence[::45] = 0.0
    cadence[22::45] = np.nan
    return recording(cadence, time_s=t, speed=np.full(t.size, 3.3), sport=None)


def _repeats_with_late_cadence():
    """20 repeats with standing rests; the cadence shows 3 s after the speed."""
    cadence, speed = [], []
    for _ in range(20):
        cadence += [0.0] * 3 + [94.0] * 30 + [0.0] * 60
        speed += [6.0] * 33 + [0.0] * 60
    return recording(cadence, speed=speed, sport=None)


@pytest.mark.parametrize("run", [_smart_run_with_single_gaps(), _repeats_with_late_cadence()])
def test_gaps_and_late_cadence_in_a_run_are_not_freewheeling(run):
    assert summarize_recording(run).kind == "run"


def test_a_slow_ride_that_freewheels_is_told_though_it_pedals_at_walking_pace():
    # Up at 8 km/h and 70 rpm, 40 descents an hour freewheeling at 15 km/h.
    cadence, speed = [], []
    for _ in range(40):
        cadence += [70.0] * 75 + [0.0] * 15
        speed += [8 / 3.6] * 75 + [15 / 3.6] * 15
    # Pedalling on at speed after each descent: a few seconds over 11 km/h.
    for i in range(90, len(speed), 90):
        speed[i : i + 4] = [13 / 3.6] * 4
    with pytest.raises(ActivityFileError, match="freewheels"):
        summarize_recording(recording(cadence, speed=speed, sport=None))
