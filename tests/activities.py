"""Recorded runs for the tests: a known run, written as GPX and TCX the way
Garmin Connect and Strava export them.

The run is made second by second, so the truth (the median cadence of the
running seconds) is known without any of cadence's own code.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED

START = dt.datetime(2026, 11, 1, 7, 0, 0, tzinfo=dt.timezone.utc)
LAT0, LON0 = 52.37, 4.89


@dataclass
class Run:
    """One second per row: strides per minute (one foot), speed, what it is."""

    strides: np.ndarray
    speed_mps: np.ndarray
    phase: list[str]  # "stand", "run", "walk" per second
    lap: np.ndarray

    @property
    def seconds(self) -> int:
        return self.strides.size

    def truth_spm(self, what: str = "run") -> float:
        mask = np.array([p == what for p in self.phase])
        return float(np.median(2 * self.strides[mask]))

    def lap_truth_spm(self, lap: int) -> float:
        mask = np.array([p == "run" for p in self.phase]) & (self.lap == lap)
        return float(np.median(2 * self.strides[mask]))

    def seconds_of(self, what: str) -> int:
        return sum(p == what for p in self.phase)

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Eastward along a parallel, at each second's speed."""
        metres = np.concatenate([[0.0], np.cumsum(self.speed_mps[:-1])])
        lon = LON0 + np.degrees(metres / (6_371_008.8 * math.cos(math.radians(LAT0))))
        return np.full(self.seconds, LAT0), lon

    def distance_m(self) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(self.speed_mps[:-1])])


def make_run(seed: int = 7) -> Run:
    """Stand 60 s, run 10 min (~84), walk 1 min, run 10 min (~86), stop 1 min, run 7 min (~88)."""
    rng = np.random.default_rng(seed)
    plan = [
        ("stand", 60, 0, 0.0, 0),
        ("run", 600, 84, 2.9, 0),
        ("walk", 60, 56, 1.4, 1),
        ("run", 600, 86, 3.0, 1),
        ("stand", 60, 0, 0.0, 2),
        ("run", 420, 88, 3.1, 2),
    ]
    strides, speed, phase, lap = [], [], [], []
    for what, seconds, centre, mps, lap_no in plan:
        jitter = rng.integers(-2, 3, seconds) if centre else np.zeros(seconds, int)
        strides.append(centre + jitter)
        speed.append(np.full(seconds, mps) + (rng.normal(0, 0.05, seconds) if mps else 0))
        phase += [what] * seconds
        lap.append(np.full(seconds, lap_no))
    return Run(
        strides=np.concatenate(strides).astype(float),
        speed_mps=np.concatenate(speed),
        phase=phase,
        lap=np.concatenate(lap),
    )


def _iso(second: float, *, millis: bool) -> str:
    when = START + dt.timedelta(seconds=float(second))
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (".000Z" if millis else "Z")


def gpx_text(
    run: Run,
    *,
    layout: str = "garmin",
    sport: str | None = "running",
    cadence=None,
    with_cadence: bool = True,
    keep=None,
) -> str:
    """GPX 1.1 with TrackPointExtension, as Garmin Connect or Strava writes it.

    `cadence` replaces the per-second values written (e.g. steps instead of
    strides); `keep` (a boolean mask) writes only some seconds, as a watch's
    "smart recording" does.
    """
    values = run.strides if cadence is None else np.asarray(cadence)
    lat, lon = run.positions()
    if layout == "garmin":
        head = (
            '<gpx creator="Garmin Connect" version="1.1" '
            'xsi:schemaLocation="http://www.topografix.com/GPX/1/1 '
            'http://www.topografix.com/GPX/11.xsd" '
            'xmlns:ns3="http://www.garmin.com/xmlschemas/TrackPointExtension/v1" '
            'xmlns="http://www.topografix.com/GPX/1/1" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:ns2="http://www.garmin.com/xmlschemas/GpxExtensions/v3">\n'
            '  <metadata>\n    <link href="connect.garmin.com">\n'
            "      <text>Garmin Connect</text>\n    </link>\n"
            f"    <time>{_iso(0, millis=True)}</time>\n  </metadata>\n"
        )
        prefix, millis, name = "ns3", True, "Amsterdam Running"
    else:
        head = (
            '<gpx creator="StravaGPX" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://www.topografix.com/GPX/1/1 '
            "http://www.topografix.com/GPX/1/1/gpx.xsd "
            "http://www.garmin.com/xmlschemas/GpxExtensions/v3 "
            "http://www.garmin.com/xmlschemas/GpxExtensionsv3.xsd "
            "http://www.garmin.com/xmlschemas/TrackPointExtension/v1 "
            'http://www.garmin.com/xmlschemas/TrackPointExtensionv1.xsd" version="1.1" '
            'xmlns="http://www.topografix.com/GPX/1/1" '
            'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1" '
            'xmlns:gpxx="http://www.garmin.com/xmlschemas/GpxExtensions/v3">\n'
            f" <metadata>\n  <time>{_iso(0, millis=False)}</time>\n </metadata>\n"
        )
        prefix, millis, name = "gpxtpx", False, "Morning Run"
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', head, " <trk>\n"]
    out.append(f"  <name>{name}</name>\n")
    if sport is not None:
        out.append(f"  <type>{sport}</type>\n")
    out.append("  <trkseg>\n")
    for i in range(run.seconds):
        if keep is not None and not keep[i]:
            continue
        ext = ""
        if with_cadence:
            ext = (
                f"<extensions><{prefix}:TrackPointExtension><{prefix}:hr>140</{prefix}:hr>"
                f"<{prefix}:cad>{int(values[i])}</{prefix}:cad>"
                f"</{prefix}:TrackPointExtension></extensions>"
            )
        out.append(
            f'   <trkpt lat="{lat[i]:.7f}" lon="{lon[i]:.7f}"><ele>2.0</ele>'
            f"<time>{_iso(i, millis=millis)}</time>{ext}</trkpt>\n"
        )
    out.append("  </trkseg>\n </trk>\n</gpx>\n")
    return "".join(out)


def tcx_text(run: Run, *, layout: str = "garmin", sport: str = "Running") -> str:
    """TCX v2 with laps, as Garmin Connect (ns3:RunCadence) or Strava (Cadence) writes it."""
    lat, lon = run.positions()
    distance = run.distance_m()
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<TrainingCenterDatabase xsi:schemaLocation="'
        "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2 "
        'http://www.garmin.com/xmlschemas/TrainingCenterDatabasev2.xsd" '
        'xmlns:ns5="http://www.garmin.com/xmlschemas/ActivityGoals/v1" '
        'xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2" '
        'xmlns:ns2="http://www.garmin.com/xmlschemas/UserProfile/v2" '
        'xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n',
        f'  <Activities>\n    <Activity Sport="{sport}">\n      <Id>{_iso(0, millis=True)}</Id>\n',
    ]
    for lap in np.unique(run.lap):
        idx = np.flatnonzero(run.lap == lap)
        out.append(
            f'      <Lap StartTime="{_iso(idx[0], millis=True)}">\n'
            f"        <TotalTimeSeconds>{idx.size:.1f}</TotalTimeSeconds>\n"
            f"        <DistanceMeters>{distance[idx[-1]] - distance[idx[0]]:.1f}</DistanceMeters>\n"
            "        <Intensity>Active</Intensity>\n"
            "        <TriggerMethod>Manual</TriggerMethod>\n        <Track>\n"
        )
        for i in idx:
            if layout == "garmin":
                cad = ""
                ext = (
                    f"<Extensions><ns3:TPX><ns3:Speed>{run.speed_mps[i]:.3f}</ns3:Speed>"
                    f"<ns3:RunCadence>{int(run.strides[i])}</ns3:RunCadence></ns3:TPX></Extensions>"
                )
            else:
                cad = f"<Cadence>{int(run.strides[i])}</Cadence>"
                ext = (
                    '<Extensions><TPX xmlns="http://www.garmin.com/xmlschemas/ActivityExtension/v2">'
                    f"<Speed>{run.speed_mps[i]:.3f}</Speed></TPX></Extensions>"
                )
            out.append(
                f"          <Trackpoint><Time>{_iso(i, millis=layout == 'garmin')}</Time>"
                f"<Position><LatitudeDegrees>{lat[i]:.7f}</LatitudeDegrees>"
                f"<LongitudeDegrees>{lon[i]:.7f}</LongitudeDegrees></Position>"
                f"<AltitudeMeters>2.0</AltitudeMeters>"
                f"<DistanceMeters>{distance[i]:.2f}</DistanceMeters>"
                f"<HeartRateBpm><Value>140</Value></HeartRateBpm>{cad}{ext}</Trackpoint>\n"
            )
        out.append("        </Track>\n      </Lap>\n")
    out.append(
        '      <Creator xsi:type="Device_t"><Name>Forerunner 245</Name></Creator>\n'
        "    </Activity>\n  </Activities>\n</TrainingCenterDatabase>\n"
    )
    return "".join(out)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


ACTIVITIES = SHARED / "data" / "activities"
needs_shared = pytest.mark.skipif(
    not ACTIVITIES.is_dir(),
    reason=f"the real FIT recordings are not there: {ACTIVITIES} (../shared beside the checkout)",
)


def fit(name):
    return str(ACTIVITIES / name)


def write_bytes(path, data):
    path.write_bytes(data)
    return path
