"""The calculator from Python: cadence, targets and a plan.

.venv/bin/python examples/api_calculator.py
"""

import datetime as dt

from cadence.core.calc import cadence_report, steps_to_spm
from cadence.core.plan import progression_plan
from cadence.core.tap import spm_from_tap_times

# 78 right-foot contacts in 60 s.
report = cadence_report(steps_to_spm(78, seconds=60, one_foot=True))
print(f"cadence {report.cadence_spm} spm", end=" -> ")
print(f"+5 %: {report.target_5_spm}, +10 %: {report.target_10_spm}")

# Tap times in seconds (one step missed at 2.1 s, one tap bounced at 3.52 s).
taps = [0.0, 0.35, 0.70, 1.05, 1.40, 1.75, 2.45, 2.80, 3.15, 3.50, 3.52, 3.85, 4.20]
estimate = spm_from_tap_times(taps)
print(f"tapped {estimate.spm:.1f} spm ({estimate.missed} missed, {estimate.doubled} doubled)")

plan = progression_plan(
    report.cadence_spm, goal_spm=report.target_10_spm, start_date=dt.date(2026, 11, 23)
)
for week in plan.weeks:
    print(f"week {week.week} from {week.start_date}: {week.spm} spm (+{week.total_pct} %)")
