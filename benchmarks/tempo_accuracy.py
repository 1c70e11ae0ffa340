"""Tempo accuracy and speed on the development set, against plain librosa.

The development set is the Groove MIDI Dataset performances in ../shared/bench,
rendered to MP3 by ../shared/bench/render_dev_set.py (not in the repository):

    python3 ../shared/bench/render_dev_set.py ~/.cache/cadence-devset   # ~25 min, once

Then:

    .venv/bin/python benchmarks/tempo_accuracy.py [--dev-set DIR] [--limit N]

For every track, in one process on one core, side by side (track by track, in
alternating order):
* plain librosa: ``librosa.load(path, sr=22050)`` + ``librosa.beat.beat_track``;
* cadence: :func:`cadence.analysis.analyze_file` (decode, envelope, estimate).
Prints acc1 (within 4 %), acc2 (also ×2, ×½), within 1 BPM (octave-folded),
as computed by ../shared/bench/score.py, and throughput as × real time (CPU
time on one core), with the ratio between the two.
Goals (issue 4): acc1 >= 0.90, acc2 >= 0.97, within 1 BPM >= 0.85, >= 2× the
throughput of plain librosa.
"""

from __future__ import annotations

import os

# One core: no BLAS thread pools (the CLI sets the same).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import csv
import importlib.util
import sys
import tempfile
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DEFAULT_DEV_SET = Path(os.environ.get("CADENCE_DEVSET", Path.home() / ".cache" / "cadence-devset"))


def plain_librosa(path: str) -> float | None:
    import librosa
    import numpy as np

    y, sr = librosa.load(path, sr=22050)
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    value = float(np.atleast_1d(tempo)[0])
    return value if value > 0 else None


def cadence_estimate(path: str) -> float | None:
    from cadence.analysis import analyze_file

    return analyze_file(path).bpm


def load_score():
    spec = importlib.util.spec_from_file_location("score", SHARED / "bench" / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.score


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dev-set", type=Path, default=DEFAULT_DEV_SET)
    ap.add_argument("--limit", type=int, default=0, help="only the first N tracks")
    ap.add_argument("--csv-dir", type=Path, help="keep the estimates here")
    ap.add_argument("--show-misses", action="store_true")
    args = ap.parse_args()
    manifest = args.dev_set / "manifest.csv"
    if not manifest.exists():
        sys.exit(
            f"No development set at {args.dev_set}. Render it once with:\n"
            f"  python3 {SHARED / 'bench' / 'render_dev_set.py'} {args.dev_set}"
        )
    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    if args.limit:
        rows = rows[: args.limit]
        tmp_manifest = Path(tempfile.mkstemp(suffix=".csv")[1])
        with open(tmp_manifest, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        manifest = tmp_manifest
    import soundfile as sf

    audio_s = sum(sf.info(r["path"]).duration for r in rows)
    warnings.filterwarnings("ignore")
    # Warm both up (imports, numba JIT) outside the timed loop.
    plain_librosa(rows[0]["path"])
    cadence_estimate(rows[0]["path"])

    methods = {"plain librosa (baseline)": plain_librosa, "cadence": cadence_estimate}
    out_dir = args.csv_dir or Path(tempfile.mkdtemp(prefix="cadence-tempo-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    score = load_score()
    # Track by track, in alternating order (beat_accuracy.py's loop).
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from beat_accuracy import run_side_by_side

    runs = run_side_by_side(
        {name: (lambda p, fn=fn: (fn(p), None)) for name, fn in methods.items()},
        rows,
        "tracks",
        split=False,
    )
    estimates = {name: {e["path"]: e["bpm"] for e in runs[name][0]} for name in methods}
    cpu = {name: runs[name][1] for name in methods}
    results = {}
    for name in methods:
        path = out_dir / (name.split()[0] + ".csv")
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "bpm"])
            for p, b in estimates[name].items():
                w.writerow([p, "" if b is None else f"{b:.2f}"])
        results[name] = (score(str(manifest), str(path))["all"], cpu[name], estimates[name])

    print(f"Development set: {len(rows)} tracks, {audio_s / 3600:.2f} h of audio ({args.dev_set})")
    head = ["acc1", "acc2", "within 1 BPM", "CPU s", "× real time", "speed"]
    widths = [6, 6, 13, 8, 12, 7]
    print(f"{'method':26s} " + " ".join(f"{h:>{w}s}" for h, w in zip(head, widths)))
    base_cpu = None
    for name, (m, cpu, _) in results.items():
        base_cpu = base_cpu or cpu
        print(
            f"{name:26s} {m['acc1']:6.3f} {m['acc2']:6.3f} {m['exact']:13.3f} {cpu:8.1f} "
            f"{audio_s / cpu:11.0f}× {base_cpu / cpu:6.2f}×"
        )
    print("goals: acc1 >= 0.90, acc2 >= 0.97, within 1 BPM >= 0.85, speed >= 2× plain librosa")
    print(f"estimates: {out_dir}")
    if args.show_misses:
        truth = {r["path"]: float(r["bpm"]) for r in rows}
        for p, b in results["cadence"][2].items():
            g = truth[p]
            if b is None or abs(b - g) > 0.04 * g:
                print(f"  miss: {Path(p).name:60s} true {g:6.1f}  cadence {b}")


if __name__ == "__main__":
    main()
