"""Reading real recordings: FIT records against an independent decode, GPX sport, errors."""

import csv
import datetime as dt
import re

import pytest

from cadence.activity import read_activity
from cadence.core.activity import summarize_recording
from cadence.errors import ActivityFileError
from tests.activities import ACTIVITIES, fit, gpx_text, needs_shared, write, write_bytes


@needs_shared
def test_fit_records_match_the_independently_decoded_csv():
    rec = read_activity(fit("garmin-fenix-5-run.fit"))
    with open(ACTIVITIES / "garmin-fenix-5-run-records.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == rec.time_s.size == 21
    pdt = dt.timezone(dt.timedelta(hours=-7))
    first = dt.datetime.strptime(rows[0]["timestamp"], "%a %b %d %H:%M:%S PDT %Y")
    assert rec.start == first.replace(tzinfo=pdt)
    for row, t, cadence, speed in zip(rows, rec.time_s, rec.cadence_raw, rec.speed_mps):
        when = dt.datetime.strptime(row["timestamp"], "%a %b %d %H:%M:%S PDT %Y")
        assert (when - first).total_seconds() == t
        # The CSV has the whole strides only; the FIT file adds fractional_cadence.
        assert int(cadence) == int(row["cadence"]) and cadence - int(cadence) in (0.0, 0.5)
        assert speed == pytest.approx(float(row["speed"]), abs=1e-3)


def test_gpx_without_sport_decides_from_the_data(tmp_path, run):
    rec = read_activity(write(tmp_path / "a.gpx", gpx_text(run, sport=None)))
    assert rec.sport is None
    assert summarize_recording(rec).kind == "run"


GPX_LAT = r'lat="([0-9.]+)"'
TCX_LAT = r"<LatitudeDegrees>([0-9.]+)<"


def _split_far_apart(text: str, *, open_tag: str, close_tag: str, between: str, lat: str) -> str:
    """`text`'s first track (between `open_tag` and `close_tag`) cut in two
    halves joined by `between`, the second one 50 km north: as if the fix were
    lost, or two runs were kept in one file. `lat` matches a latitude."""
    head, rest = text.split(open_tag, 1)
    points, tail = rest.split(close_tag, 1)
    lines = points.splitlines(keepends=True)
    half = len(lines) // 2

    def north(m):
        return m.group(0).replace(m.group(1), f"{float(m.group(1)) + 0.45:.7f}")

    moved = [re.sub(lat, north, line) for line in lines[half:]]
    return head + open_tag + "".join(lines[:half]) + between + "".join(moved) + close_tag + tail


@pytest.mark.parametrize(
    "between",
    ["</trkseg><trkseg>", "</trkseg></trk><trk><trkseg>"],
    ids=["two-segments", "two-tracks"],
)
def test_the_gap_between_gpx_segments_or_tracks_is_not_run(tmp_path, run, between):
    whole = summarize_recording(read_activity(write(tmp_path / "a.gpx", gpx_text(run))))
    split = _split_far_apart(
        gpx_text(run), open_tag="<trkseg>", close_tag="</trkseg>", between=between, lat=GPX_LAT
    )
    assert split.count("<trkseg>") == 2
    cut = summarize_recording(read_activity(write(tmp_path / "b.gpx", split)))
    # The step cut is lost and the moved half's east-west metres shrink a
    # little (further north): within 1 %, not 50 km more.
    assert cut.distance_m == pytest.approx(whole.distance_m, rel=0.01)
    assert cut.median_spm == whole.median_spm


def test_the_gap_between_tcx_tracks_is_not_run(tmp_path, run):
    from tests.activities import tcx_text

    text = tcx_text(run)
    for tag in ("<DistanceMeters>", "</DistanceMeters>"):  # positions only
        text = text.replace(tag, f"<!--{tag}" if tag[1] != "/" else f"{tag}-->")
    whole = summarize_recording(read_activity(write(tmp_path / "a.tcx", text)))
    split = _split_far_apart(
        text, open_tag="<Track>", close_tag="</Track>", between="</Track><Track>", lat=TCX_LAT
    )
    assert split.count("<Track>") == text.count("<Track>") + 1
    cut = summarize_recording(read_activity(write(tmp_path / "b.tcx", split)))
    assert cut.distance_m == pytest.approx(whole.distance_m, rel=0.01)


def test_a_tcx_laps_positions_go_on_from_lap_to_lap(tmp_path, run):
    from tests.activities import tcx_text

    text = tcx_text(run)
    for tag in ("<DistanceMeters>", "</DistanceMeters>"):  # positions only
        text = text.replace(tag, f"<!--{tag}" if tag[1] != "/" else f"{tag}-->")
    assert text.count("<Lap ") > 2
    tcx = summarize_recording(read_activity(write(tmp_path / "a.tcx", text)))
    gpx = summarize_recording(read_activity(write(tmp_path / "a.gpx", gpx_text(run))))
    assert tcx.distance_m == pytest.approx(gpx.distance_m, abs=0.5)


def test_reader_errors_are_activity_file_errors(tmp_path):
    with pytest.raises(ActivityFileError, match="empty"):
        read_activity(write_bytes(tmp_path / "x.gpx", b""))


def test_a_large_gpx_is_read_in_memory_bounded_by_its_size(tmp_path, run_python, run):

    text = gpx_text(run)
    head, rest = text.split("<trkseg>", 1)
    points, tail = rest.rsplit("</trkseg>", 1)
    path = tmp_path / "long.gpx"
    with open(path, "w") as fh:  # the same run over and over: about 20 MB
        fh.write(head + "<trkseg>" + points * 50 + "</trkseg>" + tail)
    size_mb = path.stat().st_size / 2**20
    peak = (
        "import sys\n"
        "from cadence.activity import read_activity\n"
        "if sys.argv[1] != '-': read_activity(sys.argv[1])\n"
        "status = open('/proc/self/status').read().split()\n"
        "print(int(status[status.index('VmHWM:') + 1]) / 1024)\n"
    )

    def peak_mb(arg):
        done = run_python(peak, arg)
        assert done.returncode == 0, done.stderr
        return float(done.stdout)

    used = peak_mb(str(path)) - peak_mb("-")
    # The bytes, the columns and the parser's buffers: a whole tree was 20 times the file.
    assert used < 4 * size_mb, (used, size_mb)


@needs_shared
@pytest.mark.parametrize(
    ("slower", "minutes"),
    [
        (slower, minutes)
        for slower in (1.0, 0.8, 0.7, 0.6, 0.5)
        for minutes in [(0, None), (0, 15), (15, 30), (30, 45)]
        # Not told: a quarter hour at 16 km/h with 3 stretches of freewheeling.
        if (slower, minutes) != (0.5, (30, 45))
    ],
)
def test_a_real_ride_with_its_sport_taken_away_is_still_told_for_a_ride(slower, minutes):
    # A real bike ride (31 km/h median), whole or a quarter hour of it, slowed
    # down to 25, 22, 19 and 16 km/h: the median speed no longer gives it away;
    # its steps, too long for running, or its freewheeling do.
    import dataclasses

    ride = read_activity(fit("sample-activity.fit"))
    assert ride.sport == "cycling"
    start, end = minutes[0] * 60, (minutes[1] or 10**6) * 60
    part = (ride.time_s >= start) & (ride.time_s < end)
    unnamed = dataclasses.replace(
        ride,
        sport=None,
        time_s=ride.time_s[part] - start,
        cadence_raw=ride.cadence_raw[part],
        speed_mps=ride.speed_mps[part] * slower,
        distance_m=ride.distance_m[part] * slower,
        lap=ride.lap[part],
    )
    with pytest.raises(ActivityFileError, match="looks like a ride.*--sport run"):
        summarize_recording(unnamed)


@needs_shared
def test_the_real_runs_and_walk_are_not_taken_for_rides_without_their_sport():
    import dataclasses

    for name, kind in [
        ("activity-small-fenix2-run.fit", "run"),
        ("garmin-fenix-5-run.fit", "run"),
        ("garmin-fenix-5-walk.fit", "walk"),
    ]:
        rec = read_activity(fit(name))
        assert summarize_recording(dataclasses.replace(rec, sport=None)).kind == kind, name


@needs_shared
@pytest.mark.parametrize("damaged_m", [55_000.0, 0.0, 1e12])
def test_one_damaged_distance_in_a_real_run_leaves_its_distance_as_the_watch_said(damaged_m):
    import dataclasses

    rec = read_activity(fit("activity-small-fenix2-run.fit"))
    whole = summarize_recording(rec)
    distance = rec.distance_m.copy()
    distance[1400] = damaged_m  # mid-run, at about 4.5 km
    damaged = summarize_recording(dataclasses.replace(rec, distance_m=distance))
    assert round(whole.distance_m / 1000, 2) == 9.01
    assert damaged.distance_m == pytest.approx(whole.distance_m, abs=20)
    assert [s.distance_m for s in damaged.splits] == pytest.approx(
        [s.distance_m for s in whole.splits], abs=20
    )
    assert any("distance value(s) or jump(s) no runner could make" in w for w in damaged.warnings)
    assert not any("no runner could make" in w for w in whole.warnings)


def test_a_gps_point_far_off_the_track_adds_no_distance(tmp_path, run):
    text = gpx_text(run)
    whole = summarize_recording(read_activity(write(tmp_path / "a.gpx", text)))
    lines = text.splitlines(keepends=True)
    i = next(k for k, line in enumerate(lines) if "<trkpt" in line) + 900
    lines[i] = re.sub(
        r'lat="([0-9.]+)"', lambda m: f'lat="{float(m.group(1)) + 0.45:.7f}"', lines[i]
    )
    jumped = summarize_recording(read_activity(write(tmp_path / "b.gpx", "".join(lines))))
    assert jumped.distance_m == pytest.approx(whole.distance_m, abs=20)
