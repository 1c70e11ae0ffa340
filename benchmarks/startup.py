"""Start-up time of `cadence calc` and `cadence --help` against a bare interpreter.

Goal (issue 2): `cadence calc` under 0.3 s wall on a warm machine. Prints the
median of N runs of each command and the ratio to `python -c pass` measured in
the same run.

    .venv/bin/python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("cadence")


def median_wall_s(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, capture_output=True, check=False)  # warm the page cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    cadence = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "cadence"]
    cases = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "cadence --help": [*cadence, "--help"],
        "cadence calc --steps 78 --one-foot": [*cadence, "calc", "--steps", "78", "--one-foot"],
        "cadence plan --current 156 --json": [*cadence, "plan", "--current", "156", "--json"],
    }
    base = None
    print(f"{'command':40s} {'median wall':>12s} {'× baseline':>11s}  goal")
    for name, cmd in cases.items():
        t = median_wall_s(cmd, args.runs)
        base = base or t
        goal = "< 0.300 s" if "calc" in name else ""
        ok = "" if not goal else ("  ok" if t < 0.3 else "  MISSED")
        print(f"{name:40s} {t:10.3f} s {t / base:10.1f}×  {goal}{ok}")


if __name__ == "__main__":
    main()
