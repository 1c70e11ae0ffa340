"""Reading real recordings: FIT records against an independent decode, GPX sport, errors."""

import csv
import datetime as dt

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
