"""How fast `calc --from` reads a recorded run, against the bare parsers.

For each file: the parser alone (fitdecode iterating every frame; gpxpy.parse;
ElementTree parsing the TCX), then cadence's reader, then reader + summary, all
in this process, best of N. The 4-hour GPX and TCX are written at 1 Hz by the
tests' generator (Garmin Connect layout); the FIT files are the real ones in
../shared/data/activities/. Also the whole command's wall time.

    .venv/bin/python benchmarks/activity_speed.py [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cadence.activity import read_activity
from cadence.core.activity import summarize_recording
from cadence.errors import CadenceError
from tests.activities import Run, gpx_text, tcx_text

ACTIVITIES = ROOT.parent / "shared" / "data" / "activities"


def best_s(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bare_fit(path: Path) -> None:
    import fitdecode

    with fitdecode.FitReader(str(path)) as reader:
        for _ in reader:
            pass


def bare_gpx(path: Path) -> None:
    import gpxpy

    gpxpy.parse(path.read_text(encoding="utf-8"))


def bare_tcx(path: Path) -> None:
    import xml.etree.ElementTree as ET

    ET.parse(path)


def long_run(hours: float) -> Run:
    n = int(hours * 3600)
    rng = np.random.default_rng(3)
    return Run(
        strides=(86 + rng.integers(-3, 4, n)).astype(float),
        speed_mps=3.0 + rng.normal(0, 0.1, n),
        phase=["run"] * n,
        lap=np.arange(n) // 1800,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        run = long_run(4)
        files = []
        for name in ("activity-small-fenix2-run.fit", "sample-activity.fit"):
            if (ACTIVITIES / name).exists():
                files.append((ACTIVITIES / name, bare_fit))
        gpx = Path(tmp) / "4h-run.gpx"
        gpx.write_text(gpx_text(run), encoding="utf-8")
        tcx = Path(tmp) / "4h-run.tcx"
        tcx.write_text(tcx_text(run), encoding="utf-8")
        files += [(gpx, bare_gpx), (tcx, bare_tcx)]

        print(f"best of {args.runs}, in-process, one core")
        print(
            f"{'file':34} {'size':>8} {'records':>8} {'parser alone':>13} "
            f"{'read':>8} {'read+summary':>13} {'÷ parser':>9}"
        )
        for path, bare in files:
            rec = read_activity(path)
            bare_s = best_s(lambda p=path, b=bare: b(p), args.runs)
            read_s = best_s(lambda p=path: read_activity(p), args.runs)

            def whole(p=path):
                # The ride is refused after reading and checking; that time counts too.
                with contextlib.suppress(CadenceError):
                    summarize_recording(read_activity(p))

            whole_s = best_s(whole, args.runs)
            print(
                f"{path.name:34} {path.stat().st_size / 1e6:6.2f} MB {rec.time_s.size:8d} "
                f"{bare_s:11.3f} s {read_s:6.3f} s {whole_s:11.3f} s {whole_s / bare_s:8.2f}×"
            )

        script = Path(sys.executable).with_name("cadence")
        for path in (files[0][0], gpx):
            cmd = [str(script), "calc", "--from", str(path), "--json"]
            subprocess.run(cmd, capture_output=True, check=False)
            walls = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                subprocess.run(cmd, capture_output=True, check=False)
                walls.append(time.perf_counter() - t0)
            print(f"cadence calc --from {path.name} --json: {min(walls):.3f} s wall (best)")


if __name__ == "__main__":
    main()
