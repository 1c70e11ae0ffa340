"""A recorded run from Python: read a FIT/GPX/TCX file, summarize its cadence.

.venv/bin/python examples/api_recorded_run.py [FILE]

Without FILE it reads the Fenix 2 run in ../shared/data/activities/.
"""

import sys
from pathlib import Path

from cadence.activity import read_activity
from cadence.core.activity import summarize_recording
from cadence.core.calc import cadence_report
from cadence.errors import CadenceError

default = (
    Path(__file__).resolve().parents[2] / "shared/data/activities/activity-small-fenix2-run.fit"
)
path = sys.argv[1] if len(sys.argv) > 1 else str(default)
try:
    run = summarize_recording(read_activity(path), splits="km")
except CadenceError as exc:
    sys.exit(f"Error: {exc}")

print(f"{run.kind}: median {run.median_spm:.1f} spm over {run.counted_s:.0f} s")
print(f"  10-90 %: {run.p10_spm:.1f}-{run.p90_spm:.1f} spm; {run.conversion}")
for split in run.splits:
    shown = "-" if split.median_spm is None else f"{split.median_spm:.1f} spm"
    print(f"  {split.label:>6}: {shown}")
if run.kind == "run":
    report = cadence_report(run.median_spm)
    print(f"targets: +5 % {report.target_5_spm}, +10 % {report.target_10_spm}")
