"""`cadence calc`, `cadence plan` and `cadence tap`: counts, recorded runs (real FIT files,
GPX/TCX in Garmin and Strava layouts, bad input) and tapping in a real terminal."""

import dataclasses
import datetime as dt
import gzip
import io
import json
import os
import pty
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from cadence.activity import read_activity
from cadence.cli import main
from tests.activities import ACTIVITIES, fit, gpx_text, needs_shared, tcx_text, write, write_bytes
from tests.tty import read_until


def calc_json(runner, path, *args):
    result = runner.invoke(main, ["calc", "--from", str(path), "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_calc_issue_example_json(runner):
    result = runner.invoke(main, ["calc", "--steps", "78", "--one-foot", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["cadence_spm"] == 156.0
    assert isinstance(data["cadence_spm"], float)
    assert data["target_5_spm"] == 164
    assert data["target_10_spm"] == 172
    assert data["below_160"] is True
    assert data["source"] == {"steps": 78, "seconds": 60.0, "one_foot": True}


def test_calc_table_for_people(runner):
    result = runner.invoke(main, ["calc", "--steps", "82", "--seconds", "30"])
    assert result.exit_code == 0, result.output
    assert "164.0 steps/min" in result.output
    assert "82 steps in 30 s" in result.output
    assert "+5 %   172 steps/min" in result.output
    assert "+10 %  180 steps/min" in result.output
    assert "at or above the ~160" in result.output
    assert "physiotherapist" in result.output


def test_calc_with_known_spm(runner):
    result = runner.invoke(main, ["calc", "--spm", "150", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["cadence_spm"], data["target_5_spm"], data["target_10_spm"]) == (150.0, 158, 165)


@pytest.mark.parametrize(
    ("args", "warned"),
    [
        (["--steps", "3", "--seconds", "1"], "in a 1 s count is 60 steps/min"),
        (["--steps", "28", "--seconds", "10"], "in a 10 s count is 6 steps/min"),
        (["--steps", "2", "--seconds", "0.5"], "in a 0.5 s count is 120 steps/min"),
        (["--steps", "20", "--seconds", "15", "--one-foot"], "15 s one-foot count is 8 steps/min"),
        (["--steps", "41", "--seconds", "15"], None),  # 4 steps/min a step: still usable
        (["--steps", "78", "--one-foot"], None),
    ],
)
def test_a_count_too_short_to_practise_from_is_measured_with_a_warning(runner, args, warned):
    result = runner.invoke(main, ["calc", *args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cadence_spm"] > 0
    if warned is None:
        assert result.stderr == ""
    else:
        assert result.stderr.startswith("warning: one step more or less")
        assert warned in result.stderr and "count for 30-60 s" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["calc", "--steps", "0"], "steps: must be a positive number"),
        (["calc", "--steps", "-3"], "steps: must be a positive number"),
        (["calc", "--steps", "80", "--seconds", "0"], "seconds: '0' must be longer than zero"),
        (["calc", "--steps", "80", "--seconds", "-1"], "seconds: '-1' is not a duration"),
        (["plan", "--current", "150", "--start", "2026-02-30"], "February 2026 has 28 days"),
        (["plan", "--current", "150", "--start", "2026-13-01"], "there is no month 13"),
        (["plan", "--current", "150", "--start", "today"], "start: 'today' is not a date; write"),
        (["plan", "--current", "150", "--start", ""], "start: '' is not a date; write"),
        (["plan", "--current", "150", "--start", " "], "start: ' ' is not a date; write"),
        (["tap", "--seconds", "nan"], "seconds: 'nan' is not a duration"),  # it never stopped
        (["tap", "--seconds", "1"], "seconds: '1': tap for 5 s to 5 min"),
        (["tap", "--seconds", "10m"], "seconds: '10m': tap for 5 s to 5 min"),
        (["calc", "--steps", "20"], "plausible human range"),
        (["calc", "--steps", "200", "--one-foot"], "plausible human range"),
        (["calc", "--spm", "300"], "plausible human range"),
        (["calc", "--spm", "nan"], "spm: must be a finite positive number"),
        (["calc", "--spm", "inf"], "spm: must be a finite positive number, got inf"),
        (["calc", "--steps", "78", "--seconds", "100000"], "gives 0.0468 steps/min"),
        (["calc", "--steps", str(10**25)], "gives 1e+25 steps/min"),
        (["calc", "--spm", "160", "--steps", "80"], "spm: give either --spm or --steps"),
        (["calc", "--spm", "160", "--one-foot"], "spm: give either"),
        (["calc"], "steps: give --steps N"),
        (["plan", "--current", "160", "--goal", "150"], "goal: 150 must be above"),
        (["plan", "--current", "150", "--goal", "165", "--weeks", "1"], "weeks: "),
        (["plan", "--current", "20"], "current: "),
    ],
)
def test_bad_input_is_one_error_line_with_exit_code_2(runner, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Error: " in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "args",
    [
        ["calc", "--steps", "abc"],
        ["calc", "--steps", "7.5"],
        ["calc", "--seconds", "x", "--steps", "80"],
        ["plan"],
        ["plan", "--current", "156", "--start", "23/11/2026"],
    ],
)
def test_malformed_options_are_usage_errors(runner, args):
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert "Error: " in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("seconds", ["30", "30s", "0:30", "0.5m"])
def test_a_count_lasts_as_long_as_any_way_a_runner_writes_it(runner, seconds):
    result = runner.invoke(main, ["calc", "--steps", "82", "--seconds", seconds, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cadence_spm"] == 164.0 and report["source"]["seconds"] == 30.0


def test_plan_json(runner):
    result = runner.invoke(
        main, ["plan", "--current", "156", "--goal", "172", "--start", "2026-11-23", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["goal_spm"] == 172
    assert data["total_weeks"] == 6
    assert [w["spm"] for w in data["weeks"]] == [159, 161, 164, 166, 169, 172]
    assert data["weeks"][1]["start_date"] == "2026-11-30"
    assert data["warnings"] == []


def test_plan_defaults_to_today_and_plus_5(runner):
    result = runner.invoke(main, ["plan", "--current", "156", "--json"])
    data = json.loads(result.output)
    assert data["goal_spm"] == 164
    assert data["weeks"][0]["start_date"] == dt.date.today().isoformat()


def test_plan_table_shows_weeks_and_stages_and_warns(runner):
    result = runner.invoke(
        main, ["plan", "--current", "150", "--goal", "180", "--start", "2026-11-23"]
    )
    assert result.exit_code == 0, result.output
    # The warning on stderr, like every warning: stdout holds the plan only.
    assert "warning: The goal 180" in result.stderr and "warning" not in result.stdout
    assert "2 stages" in result.stderr
    assert "Stage" in result.output
    assert "180 spm" in result.output
    assert "Mon 23 Nov 2026" in result.output
    assert "12 weeks" in result.output


def test_tap_needs_a_terminal(runner):
    result = runner.invoke(main, ["tap"], input="    \n")
    assert result.exit_code == 1
    assert "Error: standard input is not a terminal" in result.output


def test_help_and_version(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("calc", "plan", "tap"):
        assert command in result.output
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert "cadence" in result.output


# --- recorded runs ---------------------------------------------------------------


# --- real FIT recordings --------------------------------------------------------


@needs_shared
def test_fenix5_run_gives_steps_per_minute_from_strides(runner):
    d = calc_json(runner, fit("garmin-fenix-5-run.fit"))
    rec = d["recording"]
    assert rec["kind"] == "run" and rec["sport"] == "running" and rec["file_format"] == "FIT"
    # Running records are 88-95.5 strides/min: doubled, the median is 179 spm.
    assert d["cadence_spm"] == 179.0
    assert (d["target_5_spm"], d["target_10_spm"]) == (188, 197)
    assert d["below_160"] is False and d["advice"]
    assert d["source"] == {"file": fit("garmin-fenix-5-run.fit"), "format": "FIT"}
    assert rec["cadence_units"] == "strides" and "doubled" in rec["conversion"]
    # The standing start (cadence 0) and the 54-stride record are left out.
    assert rec["stopped_s"] == 4.0 and rec["walking_s"] == 5.0
    assert rec["p10_spm"] <= d["cadence_spm"] <= rec["p90_spm"]


@needs_shared
def test_fenix2_run_is_broken_down_per_lap(runner):
    result = runner.invoke(main, ["calc", "--from", fit("activity-small-fenix2-run.fit")])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Cadence   166.0 steps/min" in out
    assert "Per lap" in out and "Lap 4" in out
    words = " ".join(out.split())
    assert "strides per minute of one foot" in words and "doubled to steps per minute" in words
    # What was counted and left out: within 78 columns, broken between clauses.
    assert "          47:14 elapsed, 9.01 km; counted 44:09 of running\n" in out
    assert "          left out 0:22 stopped, 2:43 walking\n" in out
    assert max(len(line) for line in out.split("Per lap")[0].splitlines()) <= 80
    d = calc_json(runner, fit("activity-small-fenix2-run.fit"))
    laps = d["recording"]["splits"]
    assert [s["label"] for s in laps] == ["Lap 1", "Lap 2", "Lap 3", "Lap 4"]
    assert all(150 < s["median_spm"] < 185 for s in laps)
    assert d["recording"]["distance_m"] == pytest.approx(9008, abs=5)
    km = calc_json(runner, fit("activity-small-fenix2-run.fit"), "--splits", "km")
    assert len(km["recording"]["splits"]) == 10  # 9.0 km: nine whole and a last bit


@needs_shared
def test_fenix5_walk_is_reported_as_walking_without_running_targets(runner):
    result = runner.invoke(main, ["calc", "--from", fit("garmin-fenix-5-walk.fit")])
    assert result.exit_code == 0, result.output
    assert "is a walk (sport: walking)" in result.stdout
    assert "Targets" not in result.stdout
    d = calc_json(runner, fit("garmin-fenix-5-walk.fit"))
    assert d["recording"]["kind"] == "walk"
    assert 100 <= d["cadence_spm"] < 140
    assert d["target_5_spm"] is None and d["target_10_spm"] is None


@needs_shared
def test_cycling_ride_is_refused(runner):
    result = runner.invoke(main, ["calc", "--from", fit("sample-activity.fit")])
    assert result.exit_code == 1
    assert "Error: " in result.stderr and "cycling" in result.stderr
    assert "pedal revolutions per minute" in result.stderr
    assert "Traceback" not in result.output


@needs_shared
@pytest.mark.parametrize(
    "name, warning",
    [
        ("activity-unexpected-eof.fit", "the file ends early"),
        ("activity-settings-corruptheader.fit", "damaged header"),
    ],
)
def test_broken_fit_files_warn_what_was_read_and_say_there_is_no_cadence(runner, name, warning):
    result = runner.invoke(main, ["calc", "--from", fit(name)])
    assert result.exit_code == 1
    assert warning in result.stderr
    assert "no cadence data (14 records" in result.stderr
    assert "Traceback" not in result.output


@needs_shared
def test_truncated_run_uses_the_records_before_the_cut(runner, tmp_path):
    whole = (ACTIVITIES / "activity-small-fenix2-run.fit").read_bytes()
    cut = write_bytes(tmp_path / "cut.fit", whole[: len(whole) // 2])
    result = runner.invoke(main, ["calc", "--from", str(cut), "--json"])
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr and "ends early" in result.stderr
    d = json.loads(result.stdout)
    assert 0 < d["recording"]["elapsed_s"] < 2834 * 0.6
    assert 150 < d["cadence_spm"] < 185


def patch_fit_cadence(data: bytes, changes: dict[int, int], *, fix_crc: bool = True) -> bytes:
    """Set the cadence byte of some records (by number, from 0) of a one-file FIT."""
    import fitdecode
    from fitdecode.utils import compute_crc

    out = bytearray(data)
    with fitdecode.FitReader(io.BytesIO(data), keep_raw_chunks=True) as reader:
        records = [
            f for f in reader if isinstance(f, fitdecode.FitDataMessage) and f.name == "record"
        ]
    for number, value in changes.items():
        frame = records[number]
        before = 0
        for fd in frame.def_mesg.field_defs:
            if fd.name == "cadence":
                break
            before += fd.size
        out[frame.chunk.offset + 1 + before] = value  # 1: the record header byte
    if fix_crc:
        out[-2:] = compute_crc(out[:-2]).to_bytes(2, "little")
    return bytes(out)


@needs_shared
def test_absurd_cadence_in_single_fit_records_is_left_out(runner, tmp_path):
    data = (ACTIVITIES / "garmin-fenix-5-run.fit").read_bytes()
    # Records 6 and 9 are mid-run (91 and 90 strides/min); make them 250 and 0.
    path = write_bytes(tmp_path / "glitch.fit", patch_fit_cadence(data, {6: 250, 9: 0}))
    rec = read_activity(path)
    assert rec.cadence_raw[6] == 250.5 and rec.cadence_raw[9] == 0.5
    result = runner.invoke(main, ["calc", "--from", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert "left out 1 record(s) with an impossible cadence" in result.stderr
    d = json.loads(result.stdout)
    assert 170 < d["cadence_spm"] < 185
    assert d["recording"]["absurd_records"] == 1


@needs_shared
def test_fit_with_a_bad_checksum_is_used_with_a_warning(runner, tmp_path):
    data = (ACTIVITIES / "garmin-fenix-5-run.fit").read_bytes()
    path = write_bytes(tmp_path / "crc.fit", data[:-2] + bytes([data[-2] ^ 0xFF, data[-1]]))
    result = runner.invoke(main, ["calc", "--from", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert "checksum mismatch" in result.stderr
    assert json.loads(result.stdout)["cadence_spm"] == 179.0


@needs_shared
def test_gzipped_fit_as_in_a_strava_bulk_export(runner, tmp_path):
    packed = tmp_path / "123456.fit.gz"
    packed.write_bytes(gzip.compress((ACTIVITIES / "garmin-fenix-5-run.fit").read_bytes()))
    assert calc_json(runner, packed)["cadence_spm"] == 179.0


@needs_shared
def test_plan_starts_from_the_recorded_cadence(runner):
    args = ["plan", "--from", fit("activity-small-fenix2-run.fit"), "--start", "2026-11-23"]
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["current_spm"] == 166.0 and d["goal_spm"] == 174
    assert d["recording"]["median_spm"] == 166.0
    text = runner.invoke(main, args).stdout
    assert "Current cadence from" in text and "166.0 steps/min" in text


@needs_shared
def test_plan_refuses_a_walk_and_two_sources(runner):
    walk = runner.invoke(main, ["plan", "--from", fit("garmin-fenix-5-walk.fit")])
    assert walk.exit_code == 1 and "is a walk" in walk.stderr
    both = runner.invoke(
        main, ["plan", "--from", fit("garmin-fenix-5-run.fit"), "--current", "160"]
    )
    assert both.exit_code == 2 and "not both" in both.stderr


@needs_shared
def test_plot_draws_the_run_and_nothing_is_written_beside_the_input(runner, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(ACTIVITIES / "activity-small-fenix2-run.fit", src / "run.fit")
    before = (src / "run.fit").read_bytes()
    png = tmp_path / "run.png"
    result = runner.invoke(main, ["calc", "--from", str(src / "run.fit"), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert (src / "run.fit").read_bytes() == before
    assert [p.name for p in src.iterdir()] == ["run.fit"]


# --- GPX and TCX as Garmin Connect and Strava export them ----------------------------


@pytest.mark.parametrize("layout", ["garmin", "strava"])
def test_gpx_run_gives_the_median_of_the_running_seconds(runner, tmp_path, run, layout):
    path = write(tmp_path / "run.gpx", gpx_text(run, layout=layout))
    d = calc_json(runner, path)
    rec = d["recording"]
    assert d["cadence_spm"] == run.truth_spm() == 172.0
    assert rec["counted_s"] == run.seconds_of("run")
    assert rec["walking_s"] == run.seconds_of("walk")
    assert rec["stopped_s"] == run.seconds_of("stand")
    assert rec["cadence_units"] == "strides" and "doubled" in rec["conversion"]
    # Distance comes from the positions: per-km splits.
    assert rec["distance_m"] == pytest.approx(run.distance_m()[-1], rel=1e-3)
    assert rec["split_kind"] == "km" and len(rec["splits"]) == 5
    assert rec["device"] == {"garmin": "Garmin Connect", "strava": "StravaGPX"}[layout]


@pytest.mark.parametrize("layout", ["garmin", "strava"])
def test_tcx_run_is_broken_down_per_lap(runner, tmp_path, run, layout):
    path = write(tmp_path / "run.tcx", tcx_text(run, layout=layout))
    d = calc_json(runner, path)
    rec = d["recording"]
    assert d["cadence_spm"] == run.truth_spm()
    assert rec["split_kind"] == "lap"
    assert [s["median_spm"] for s in rec["splits"]] == [run.lap_truth_spm(i) for i in range(3)]
    assert rec["device"] == "Forerunner 245"


def test_smart_recording_weighs_each_point_by_the_time_it_stands_for(runner, tmp_path, run):
    # Every 5th second of the first (slowest) running stretch, every second elsewhere:
    # counting points instead of time would pull the median up.
    keep = np.ones(run.seconds, bool)
    first_run = np.flatnonzero(np.array(run.phase) == "run")[:600]
    keep[first_run] = False
    keep[first_run[::5]] = True
    path = write(tmp_path / "smart.gpx", gpx_text(run, keep=keep))
    assert calc_json(runner, path)["cadence_spm"] == pytest.approx(run.truth_spm(), abs=1)
    naive = np.median(2 * run.strides[keep & (np.array(run.phase) == "run")])
    assert naive >= run.truth_spm() + 2


def test_gpx_already_in_steps_per_minute_is_not_doubled(runner, tmp_path, run):
    path = write(tmp_path / "steps.gpx", gpx_text(run, cadence=2 * run.strides))
    d = calc_json(runner, path)
    assert d["cadence_spm"] == run.truth_spm()
    assert d["recording"]["cadence_units"] == "steps"
    assert "not doubled" in d["recording"]["conversion"]
    # Told otherwise, most values are impossible: the units must be wrong.
    told = runner.invoke(main, ["calc", "--from", str(path), "--cadence-units", "strides"])
    assert told.exit_code == 1
    assert "impossible as strides" in told.stderr and "--cadence-units steps" in told.stderr


def test_absurd_single_values_in_a_gpx_are_left_out_with_a_warning(runner, tmp_path, run):
    cadence = run.strides.copy()
    cadence[[100, 300, 500]] = [250, 0, 251]
    path = write(tmp_path / "glitch.gpx", gpx_text(run, cadence=cadence))
    result = runner.invoke(main, ["calc", "--from", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert "left out 2 record(s) with an impossible cadence" in result.stderr
    assert json.loads(result.stdout)["cadence_spm"] == run.truth_spm()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda r: gpx_text(r, sport="cycling"), "is a cycling activity"),
        (lambda r: tcx_text(r, sport="Biking"), "is a cycling activity"),
        (lambda r: gpx_text(r, with_cadence=False), "no cadence data"),
    ],
    ids=["gpx-ride", "tcx-biking", "gpx-no-cadence"],
)
def test_gpx_and_tcx_without_step_cadence_are_refused(runner, tmp_path, run, make, message):
    text = make(run)
    path = write(tmp_path / ("a.tcx" if "TrainingCenter" in text else "a.gpx"), text)
    result = runner.invoke(main, ["calc", "--from", str(path)])
    assert result.exit_code == 1 and message in result.stderr


def test_tcx_ride_filed_as_other_is_told_by_its_speed(runner, tmp_path, run):
    # Pedal rpm looks like running strides; the speed (3 x a run's) gives it away.
    ride = dataclasses.replace(run, speed_mps=3 * run.speed_mps)
    path = write(tmp_path / "ride.tcx", tcx_text(ride, layout="strava", sport="Other"))
    result = runner.invoke(main, ["calc", "--from", str(path)])
    assert result.exit_code == 1 and "looks like a ride" in result.stderr


# --- bad input: a clear message, never a traceback, nothing written --------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<{root}><name>&lol9;</name></{root}>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<gpx version="1.1" creator="x"><trk><name>&secret;</name></trk></gpx>
"""


def bad_cases():
    return [
        ("bomb.gpx", BILLION_LAUGHS.format(root="gpx").encode(), "unsafe XML"),
        ("bomb.tcx", BILLION_LAUGHS.format(root="TrainingCenterDatabase").encode(), "unsafe XML"),
        ("xxe.gpx", EXTERNAL_ENTITY.encode(), "unsafe XML"),
        ("broken.gpx", b'<?xml version="1.0"?>\n<gpx><trk><trkseg>\n', "not well-formed XML"),
        ("broken.tcx", b"<TrainingCenterDatabase><Activities>", "not well-formed XML at line 1"),
        ("wrong.tcx", b'<gpx version="1.1"/>', "is XML but not TCX"),
        ("wrong.gpx", b"<TrainingCenterDatabase/>", "is XML but not GPX"),
        ("empty-track.gpx", b'<gpx version="1.1" creator="x"><trk/></gpx>', "no track points"),
        ("empty.tcx", b"<TrainingCenterDatabase><Activities/></TrainingCenterDatabase>",
         "no <Activity>"),
        ("empty.fit", b"", "is empty (0 bytes)"),
        ("photo.fit", b"\x89PNG\r\n\x1a\n" + bytes(200), "is not a FIT file"),
        ("notes.fit", b"Mein Lauf heute: 12 km\n" * 20, "is not a FIT file"),
        ("bad.fit.gz", b"not gzip at all", "not a readable gzip file"),
        ("run.csv", b"time,cadence\n", "not an activity file"),
    ]  # fmt: skip


@pytest.mark.parametrize("name, data, message", bad_cases(), ids=[c[0] for c in bad_cases()])
def test_bad_files_get_one_clear_line_and_nothing_is_written(runner, tmp_path, name, data, message):
    path = write_bytes(tmp_path / name, data)
    png = tmp_path / "plot.png"
    started = time.perf_counter()
    result = runner.invoke(main, ["calc", "--from", str(path), "--plot", str(png)])
    elapsed = time.perf_counter() - started
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert name in result.stderr
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    assert elapsed < 30  # a bomb is refused, not expanded (a generous bound, not a timing test)


def test_missing_file_and_folder_are_errors(runner, tmp_path):
    gone = runner.invoke(main, ["calc", "--from", str(tmp_path / "gone.fit")])
    assert gone.exit_code == 1 and "gone.fit: no such file" in gone.stderr
    folder = tmp_path / "runs.fit"
    folder.mkdir()
    as_dir = runner.invoke(main, ["calc", "--from", str(folder)])
    assert as_dir.exit_code == 1 and "is a folder" in as_dir.stderr


@pytest.mark.parametrize(
    "args, parameter",
    [
        (["--from", "x.fit", "--steps", "80"], "from"),
        (["--from", "x.fit", "--spm", "170"], "from"),
        (["--steps", "80", "--plot", "p.png"], "plot"),
        (["--spm", "170", "--splits", "km"], "splits"),
        (["--spm", "170", "--cadence-units", "steps"], "cadence-units"),
    ],
)
def test_contradictory_options_are_usage_errors(runner, args, parameter):
    result = runner.invoke(main, ["calc", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {parameter}: ")


# --- tap, in a real pseudo-terminal, as a runner would use it ------------------


@pytest.fixture
def tap_session(subprocess_env):
    """Start `cadence tap --json` on a pty; yield (send, finish)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cadence", "tap", "--json", "--seconds", "60"],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
        env=subprocess_env,
        close_fds=True,
    )
    os.close(follower)
    read_until(leader, b"Tap a key")

    def finish(key=b"\n"):
        os.write(leader, key)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        return json.loads(out)

    yield (lambda data: os.write(leader, data)), finish, leader
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    os.close(leader)


def test_tap_with_a_missed_and_a_doubled_tap(tap_session):
    send, finish, leader = tap_session
    # About 150 spm (0.4 s per step); one step is skipped and one tap doubled.
    # Only the rhythm matters, and a loaded machine only blurs it a little.
    for i in range(16):
        if i == 8:
            time.sleep(0.4)
            continue
        send(b" ")
        if i == 12:  # a bounce: the same step tapped twice
            time.sleep(0.05)
            send(b" ")
            time.sleep(0.35)
        else:
            time.sleep(0.4)
    out = read_until(leader, b"steps/min")
    assert b"taps" in out
    data = finish()
    assert data["source"]["taps"] == 16
    assert data["source"]["doubled_taps"] == 1
    assert data["source"]["missed_taps"] == 1
    assert 120 < data["cadence_spm"] < 180
    assert data["target_5_spm"] > data["cadence_spm"]


def test_tap_q_finishes_and_too_few_taps_is_an_error(subprocess_env):
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cadence", "tap"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=subprocess_env,
    )
    os.close(follower)
    read_until(leader, b"Tap a key")
    os.write(leader, b" ")
    time.sleep(0.3)
    os.write(leader, b"q")
    out = read_until(leader, b"Error:")
    proc.wait(timeout=30)
    os.close(leader)
    assert proc.returncode == 2
    assert b"Error: taps: need at least 4 taps, got 1" in out


def test_a_pipe_as_a_recording_is_refused_at_once(runner, tmp_path):
    fifo = tmp_path / "run.fit"
    os.mkfifo(fifo)
    result = runner.invoke(main, ["calc", "--from", str(fifo)])  # used to block for ever
    assert result.exit_code == 1
    assert result.stderr == f"Error: {fifo}: not a regular file (a pipe, device or socket)\n"


def test_a_gzip_with_a_corrupt_deflate_stream_is_one_error_line(runner, tmp_path):
    packed = gzip.compress(b"x" * 1000)
    path = write_bytes(tmp_path / "run.fit.gz", packed[:10] + b"\xff" * 50)
    result = runner.invoke(main, ["calc", "--from", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"Error: {path}: not a readable gzip file")
    assert "Traceback" not in result.output


def test_a_plan_that_would_end_after_the_year_9999_is_refused(runner):
    result = runner.invoke(main, ["plan", "--current", "170", "--start", "9999-12-31"])
    assert result.exit_code == 2
    assert result.stderr == "Error: start: 9999-12-31: the plan's 4 weeks would end after 9999\n"


@needs_shared
@pytest.mark.parametrize(
    ("args", "figures"),
    [
        (["plan", "--current", "150", "--start", "2026-03-02"], ["2 Mar", "158", "+5.3%"]),
        (["plan", "--current", "140", "--goal", "170", "--start", "2026-12-21"], ["4 Jan", "170"]),
        (["calc", "--from", "FIT"], ["0.85", "16:06", "164.0", "(median over 44:09"]),
        (["calc", "--from", "FIT", "--splits", "mile"], ["   mi ", "0.60", "162.0"]),
    ],
    ids=["plan", "plan-stages", "laps", "miles"],
)
def test_tables_on_a_40_column_terminal_keep_every_figure_whole(cadence_cmd, args, figures):
    from tests.tty import lines_at_width

    run = str(fit("activity-small-fenix2-run.fit"))
    lines = lines_at_width([*cadence_cmd, *[run if a == "FIT" else a for a in args]], 40)
    text = "\n".join(lines)
    assert "…" not in text, text
    # The file's name is the one line allowed to be longer: it is not cut either.
    assert all(len(line) <= 40 for line in lines if run not in line), text
    for figure in figures:
        assert figure in text, (figure, text)


def test_splits_by_the_mile_are_in_miles(runner, tmp_path, run):
    path = write(tmp_path / "run.gpx", gpx_text(run))
    result = runner.invoke(main, ["calc", "--from", str(path), "--splits", "mile"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "│ mile" in line]
    assert rows and all(" mi │" in row and " km " not in row for row in rows), result.stdout


@needs_shared
@pytest.mark.parametrize(
    ("kind", "said"),
    [("lap", "one lap (--splits km"), ("km", "under two kilometres"), ("mile", "under two miles")],
)
def test_asking_for_splits_the_run_does_not_have_says_so(runner, kind, said):
    short = str(fit("garmin-fenix-5-run.fit"))  # 0.16 km, one lap
    result = runner.invoke(main, ["calc", "--from", short, "--splits", kind])
    assert result.exit_code == 0, result.output
    assert f"No per-{kind} table: the recording" in result.stderr and said in result.stderr


def test_a_gpx_cut_short_keeps_the_points_before_the_cut_as_a_cut_fit_does(runner, tmp_path, run):
    text = gpx_text(run).encode()

    def elapsed_s(path):
        result = runner.invoke(main, ["calc", "--from", str(path), "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["recording"]["elapsed_s"], result.stderr

    whole_s, _ = elapsed_s(write_bytes(tmp_path / "a.gpx", text))
    cut_s, said = elapsed_s(write_bytes(tmp_path / "cut.gpx", text[: len(text) * 3 // 4]))
    assert "the file ends early, inside its XML (line" in said
    assert "track points read before it" in said
    assert 0.6 * whole_s < cut_s < 0.8 * whole_s
    # Written after a complete GPX (a crashed copy's NULs): all of it is kept.
    junk_s, said = elapsed_s(write_bytes(tmp_path / "junk.gpx", text + bytes(100)))
    assert junk_s == whole_s and "left out what follows the end of the GPX" in said
    # Damage in the middle is not a cut: still refused, on many lines or on one
    # (as minifying exporters write it: every error is then on the last line).
    one_line = text.replace(b"\n", b"")
    named = one_line.replace(b"Amsterdam Running", "ж".encode() * 3000)  # 2 bytes a character
    for name, cut in [
        ("one.gpx", one_line[: len(one_line) * 3 // 4]),
        ("named.gpx", named[: len(named) * 3 // 4]),
        ("padded.gpx", text[: len(text) * 3 // 4] + bytes(4096)),  # a crashed write's NULs
        ("cr.gpx", text.replace(b"\n", b"\r")[: len(text) * 3 // 4]),
        # Cut at a line's end, as a recorder writing a line at a time leaves it.
        ("line-end.gpx", b"\n".join(text.split(b"\n")[:1000]) + b"\n"),
        ("line-end-crlf.gpx", b"\r\n".join(text.split(b"\n")[:1000]) + b"\r\n\r\n"),
    ]:
        kept_s, _ = elapsed_s(write_bytes(tmp_path / name, cut))
        assert 0.5 * whole_s < kept_s < 0.8 * whole_s, name
    for name, damaged in [
        ("bad.gpx", text.replace(b"<trkpt", b"<trkpt <", 1)),
        ("bad-one-line.gpx", one_line[:60000] + b"<<" + one_line[60002:]),
        ("bad-cr.gpx", text.replace(b"\n", b"\r").replace(b"<trkpt", b"<trkpt <", 1)),
    ]:
        refused = runner.invoke(
            main, ["calc", "--from", str(write_bytes(tmp_path / name, damaged))]
        )
        assert refused.exit_code == 1 and "not well-formed XML at line" in refused.stderr, name


@pytest.mark.parametrize("how", ["terminal closed", "SIGTERM"])
def test_tap_stopped_from_outside_exits_as_the_signal_and_ends_its_status_line(
    cadence_cmd, subprocess_env, how
):
    from tests.tty import TerminalSession

    with TerminalSession([*cadence_cmd, "tap"], subprocess_env) as tap:
        assert b"Tap a key" in read_until(tap.leader, b"Tap a key")
        os.write(tap.leader, b" ")
        assert b"1 tap" in read_until(tap.leader, b"1 tap")
        code, shown = tap.stop(how)
    assert code == (143 if how == "SIGTERM" else 129)  # 129 was 1: the lost terminal's EIO
    # On a line of its own, not glued onto "… 30 s left".
    assert how != "SIGTERM" or (b"\r\nStopped.\r\n" in shown and b"left Stopped." not in shown)


def test_sport_says_what_a_recording_is_where_the_judgement_from_the_data_is_wrong(
    runner, tmp_path, run
):
    # A run whose speed reads like a ride's (a GPS far too fast: 3x), filed under no sport.
    fast = dataclasses.replace(run, speed_mps=3 * run.speed_mps)
    path = write(tmp_path / "run.tcx", tcx_text(fast, layout="strava", sport="Other"))
    refused = runner.invoke(main, ["calc", "--from", str(path)])
    assert refused.exit_code == 1 and "say so: --sport run (or walk)" in refused.stderr
    told = runner.invoke(main, ["calc", "--from", str(path), "--sport", "run", "--json"])
    assert told.exit_code == 0, told.output
    assert json.loads(told.stdout)["recording"]["sport"] == "running"
    planned = runner.invoke(main, ["plan", "--from", str(path), "--sport", "run", "--json"])
    assert planned.exit_code == 0, planned.output
    # Filed under the wrong sport: read as told, with a warning.
    biked = write(tmp_path / "bike.tcx", tcx_text(run, sport="Biking"))
    said = runner.invoke(main, ["calc", "--from", str(biked), "--sport", "run"])
    assert said.exit_code == 0, said.output
    assert "the file says cycling; taken for a run, as --sport says" in said.stderr
    # A file under "other" names no sport: told, it is no mistake to warn of.
    other = runner.invoke(main, ["calc", "--from", str(path), "--sport", "run"])
    assert other.exit_code == 0 and "the file says" not in other.stderr
    # The warning comes before an error that follows it.
    empty = write(tmp_path / "nocad.tcx", tcx_text(run, sport="Biking").replace("RunCadence", "X"))
    failed = runner.invoke(main, ["calc", "--from", str(empty), "--sport", "run"])
    assert failed.exit_code == 1 and "no cadence data" in failed.stderr
    assert "the file says cycling; taken for a run" in failed.stderr.splitlines()[0]
    for command in (["calc", "--spm", "160"], ["plan", "--current", "160"]):
        alone = runner.invoke(main, [*command, "--sport", "run"])
        assert alone.exit_code == 2 and "sport: only goes with --from FILE" in alone.stderr
