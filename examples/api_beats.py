"""Beats from Python: a song's beats and its grid, and the tracker on plain arrays.

.venv/bin/python examples/api_beats.py [SONG]

Without SONG it reads audio/sunrise-run.mp3 from the demo library.
"""

import sys
from pathlib import Path

import numpy as np

from cadence.analysis import analyze_file
from cadence.core.beats import dp_beats, fit_grid

song = (
    sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).parents[1] / "audio/sunrise-run.mp3")
)
result = analyze_file(song)  # never raises for a bad file: see result.error
if result.error or not result.beats:
    sys.exit(f"Error: {song}: {result.error or result.note or 'no beats'}")
res = result.grid_residual_ms
print(f"{result.bpm} BPM, {len(result.beats)} beats, first at {result.beats[0]:.3f} s")
print(f"grid: {result.first_beat_s:.3f} s + k x {result.period_s:.4f} s, off by {res['median']} ms")
print(f"downbeats: {', '.join(f'{t:.3f}' for t in result.downbeats[:4])} ...")

# The core works on arrays alone: an onset envelope at 100 frames a second
# with a pulse every 0.4 s (150 BPM), one pulse missing.
onset = np.zeros(2000)
onset[10::40] = 1.0
onset[490] = 0.0
frames = dp_beats(onset, period_frames=40.0)
first_s, period_s, _ = fit_grid(frames / 100.0)
print(f"array: {len(frames)} beats, the missing one bridged;", end=" ")
print(f"grid {first_s:.2f} s + k x {period_s:.2f} s")
