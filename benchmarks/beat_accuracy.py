"""Beat-position and tempo accuracy, and speed, against librosa, on both development sets.

Sets (neither is in the repository):

* ``music``: ``../shared/bench/music-dev/``, 20 real songs with hand-synced
  chart grids (beat k at ``first_beat_s + k * 60 / bpm``);
* ``gmd``: the Groove MIDI drum performances, rendered once by
  ``python3 ../shared/bench/render_dev_set.py ~/.cache/cadence-devset``
  (beat k at ``k * 60 / bpm`` from the start of the render).

Usage::

    .venv/bin/python benchmarks/beat_accuracy.py [--sets music,gmd] [--limit N]

For every track, in one process on one core, side by side (track by track,
in alternating order, so that a shared machine's drifting speed slows both):

* librosa (baseline): ``librosa.load(path, sr=22050)`` + ``librosa.beat.beat_track``;
* cadence: :func:`cadence.analysis.analyze_file` (decode, envelopes, tempo, beats).

Scores follow mir_eval's conventions (mir_eval itself computes them; it is
in the ``bench`` extra): beats before 5 s are left out; F-measure with a
±70 ms window; CMLt and AMLt (continuity at the correct / any metrical
level); the median and 95th percentile of |detected - true| over the beats
matched within 70 ms; tempo acc1 (within 4 %), acc2 (also ×2, ×½) and within
1 BPM (octave-folded), as ``../shared/bench/score.py`` counts them. Speed is
CPU seconds on one core, as × real time, with cadence's throughput over
librosa's. A second table times each side's decoder alone on the same files
(soundfile for librosa, cadence's block reader) and splits the whole time
into decoding and the rest, with the rest's speed against librosa's.

Goals (issue 15), on real music: F >= 0.90, AMLt >= 0.90, median offset
<= 10 ms, p95 <= 30 ms, acc1 >= 0.85, within 1 BPM >= 0.95; acc2 >= 0.97 on
every set; speed >= 2× librosa.
"""

from __future__ import annotations

import os

# One core: no BLAS thread pools (the CLI sets the same).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import csv
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
MUSIC_DEV = SHARED / "bench" / "music-dev"
DEFAULT_GMD = Path(os.environ.get("CADENCE_DEVSET", Path.home() / ".cache" / "cadence-devset"))
MATCH_WINDOW_S = 0.07


def music_rows() -> list[dict]:
    rows = []
    with open(MUSIC_DEV / "tracks.csv", newline="") as f:
        for r in csv.DictReader(f):
            bpm, first, dur = float(r["bpm"]), float(r["first_beat_s"]), float(r["duration_s"])
            n = int((dur - first) * bpm / 60) + 1
            rows.append(
                {
                    "path": str(MUSIC_DEV / r["file"]),
                    "bpm": bpm,
                    "beats": first + np.arange(n) * 60.0 / bpm,
                    "group": r["source"].split("@")[0],
                }
            )
    return rows


def gmd_rows(dev_set: Path) -> list[dict]:
    import soundfile as sf

    manifest = dev_set / "manifest.csv"
    if not manifest.exists():
        sys.exit(
            f"No rendered drum set at {dev_set}. Render it once with:\n"
            f"  python3 {SHARED / 'bench' / 'render_dev_set.py'} {dev_set}"
        )
    rows = []
    with open(manifest, newline="") as f:
        for r in csv.DictReader(f):
            bpm = float(r["bpm"])
            dur = sf.info(r["path"]).duration
            n = int(dur * bpm / 60) + 1
            rows.append(
                {
                    "path": r["path"],
                    "bpm": bpm,
                    "beats": np.arange(n) * 60.0 / bpm,
                    "group": Path(r["path"]).name.split("_")[0],  # the drummer
                }
            )
    return rows


def librosa_beats(path: str) -> tuple[float | None, np.ndarray]:
    import librosa

    y, sr = librosa.load(path, sr=22050)
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    bpm = float(np.atleast_1d(tempo)[0])
    return (bpm if bpm > 0 else None), np.asarray(beats, dtype=float)


def cadence_beats(path: str) -> tuple[float | None, np.ndarray]:
    from cadence.analysis import analyze_file

    r = analyze_file(path)
    return r.bpm, np.asarray(r.beats or [], dtype=float)


def librosa_decode(path: str) -> None:
    """What ``librosa.load`` decodes with: soundfile, the whole file at its own rate."""
    import soundfile as sf

    sf.read(path, dtype="float32", always_2d=False)


def cadence_decode(path: str) -> None:
    """What ``analyze_file`` decodes with: its first block reader, the whole file."""
    from cadence.audio.readers import block_readers

    _name, reader = block_readers(path)[0]
    for _block in reader(path, 65536):
        pass


DECODERS = {"librosa beat_track": librosa_decode, "cadence": cadence_decode}


def tempo_ok(est: float | None, true: float, factors, tol: float = 0.04) -> bool:
    return est is not None and any(abs(est - true * f) <= tol * true * f for f in factors)


def beat_scores(ref: np.ndarray, est: np.ndarray) -> dict:
    import mir_eval

    ref_t = mir_eval.beat.trim_beats(ref)
    est_t = mir_eval.beat.trim_beats(est)
    f = mir_eval.beat.f_measure(ref_t, est_t, f_measure_threshold=MATCH_WINDOW_S)
    _cmlc, cmlt, _amlc, amlt = mir_eval.beat.continuity(ref_t, est_t)
    offsets = []
    if len(est_t) and len(ref_t):
        # Each estimated beat against its nearest true beat, within the window.
        j = np.clip(np.searchsorted(ref_t, est_t), 1, len(ref_t) - 1)
        near = np.where(np.abs(ref_t[j - 1] - est_t) < np.abs(ref_t[j] - est_t), j - 1, j)
        d = est_t - ref_t[near]
        offsets = d[np.abs(d) <= MATCH_WINDOW_S].tolist()
    return {"f": f, "cmlt": cmlt, "amlt": amlt, "offsets": offsets}


def run_side_by_side(methods: dict, rows: list[dict], set_name: str, *, split: bool) -> dict:
    """Each method (and, with `split`, its decoder alone) on each track in turn.

    Track by track, in alternating order, so that a shared machine whose
    speed drifts over minutes slows both sides alike. Returns, per method,
    its results, its CPU seconds and its decoder's (None without `split`).
    """
    out = {label: ([], 0.0, 0.0 if split else None) for label in methods}
    for i, r in enumerate(rows):
        labels = list(methods) if i % 2 == 0 else list(methods)[::-1]
        for label in labels:
            results, cpu, dec = out[label]
            t0 = time.process_time()
            bpm, beats = methods[label](r["path"])
            cpu += time.process_time() - t0
            if split:
                t0 = time.process_time()
                DECODERS[label](r["path"])
                dec += time.process_time() - t0
            results.append({"path": r["path"], "bpm": bpm, "beats": beats})
            out[label] = (results, cpu, dec)
        print(f"\r{set_name}: {i + 1}/{len(rows)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return out


def summarize(rows: list[dict], results: list[dict]) -> dict:
    scores = [beat_scores(r["beats"], e["beats"]) for r, e in zip(rows, results)]
    offsets = np.abs(np.concatenate([s["offsets"] for s in scores] or [[]])) * 1000
    signed = np.concatenate([s["offsets"] for s in scores] or [[]]) * 1000
    n = len(rows)
    return {
        "f": float(np.mean([s["f"] for s in scores])),
        "cmlt": float(np.mean([s["cmlt"] for s in scores])),
        "amlt": float(np.mean([s["amlt"] for s in scores])),
        "median_ms": float(np.median(offsets)) if len(offsets) else float("nan"),
        "p95_ms": float(np.percentile(offsets, 95)) if len(offsets) else float("nan"),
        "signed_ms": float(np.median(signed)) if len(signed) else float("nan"),
        "acc1": sum(tempo_ok(e["bpm"], r["bpm"], [1]) for r, e in zip(rows, results)) / n,
        "acc2": sum(tempo_ok(e["bpm"], r["bpm"], [1, 2, 0.5]) for r, e in zip(rows, results)) / n,
        "within1": sum(
            e["bpm"] is not None and any(abs(e["bpm"] - r["bpm"] * f) <= 1.0 for f in (1, 2, 0.5))
            for r, e in zip(rows, results)
        )
        / n,
        "per_track": scores,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sets", default="music,gmd", help="comma-separated: music, gmd")
    ap.add_argument("--gmd-dir", type=Path, default=DEFAULT_GMD)
    ap.add_argument("--limit", type=int, default=0, help="only the first N tracks of each set")
    ap.add_argument("--no-librosa", action="store_true", help="cadence only (no baseline)")
    ap.add_argument("--show-tracks", action="store_true", help="one line per track")
    ap.add_argument(
        "--no-decode-split",
        action="store_true",
        help="leave out the second table (each side's decoding timed alone)",
    )
    ap.add_argument("--json", type=Path, help="also write every track's figures here")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    sets = {}
    for name in args.sets.split(","):
        rows = music_rows() if name == "music" else gmd_rows(args.gmd_dir)
        sets[name] = rows[: args.limit] if args.limit else rows
    methods = {"cadence": cadence_beats}
    if not args.no_librosa:
        methods = {"librosa beat_track": librosa_beats, **methods}
    first = next(iter(sets.values()))[0]["path"]
    for fn in methods.values():  # imports and numba's JIT outside the timed runs
        fn(first)

    import soundfile as sf

    dump = {}
    head = (
        f"{'set':6s} {'method':19s} {'F':>6s} {'CMLt':>6s} {'AMLt':>6s} {'med ms':>7s} "
        f"{'p95 ms':>7s} {'acc1':>6s} {'acc2':>6s} {'±1BPM':>6s} {'×RT':>6s} {'speed':>6s}"
    )
    lines = []
    decode_lines = []
    for set_name, rows in sets.items():
        audio_s = sum(sf.info(r["path"]).duration for r in rows)
        base_cpu = base_rest = None
        runs = run_side_by_side(methods, rows, set_name, split=not args.no_decode_split)
        for label, (results, cpu, dec) in runs.items():
            m = summarize(rows, results)
            base_cpu = base_cpu or cpu
            if dec is not None:
                # "The rest" is the whole run less a decode timed apart, so
                # the noise of both timings lands in it.
                rest = cpu - dec if cpu > dec else None
                base_rest = base_rest or rest
                per_min = 60_000.0 / audio_s
                rest_ms = f"{rest * per_min:9.0f}" if rest else f"{'n/a':>9s}"
                rest_speed = f"{base_rest / rest:12.2f}×" if rest and base_rest else f"{'n/a':>13s}"
                decode_lines.append(
                    f"{set_name:6s} {label:19s} {cpu * per_min:9.0f} {dec * per_min:9.0f} "
                    f"{rest_ms} {rest_speed}"
                )
            lines.append(
                f"{set_name:6s} {label:19s} {m['f']:6.3f} {m['cmlt']:6.3f} {m['amlt']:6.3f} "
                f"{m['median_ms']:7.1f} {m['p95_ms']:7.1f} {m['acc1']:6.3f} {m['acc2']:6.3f} "
                f"{m['within1']:6.3f} {audio_s / cpu:5.0f}× {base_cpu / cpu:5.2f}×"
            )
            if args.show_tracks:
                for r, e, s in zip(rows, results, m["per_track"]):
                    med = np.median(np.abs(s["offsets"])) * 1000 if s["offsets"] else float("nan")
                    sgn = np.median(s["offsets"]) * 1000 if s["offsets"] else float("nan")
                    print(
                        f"  {label[:7]:7s} {Path(r['path']).name[:40]:40s} true {r['bpm']:6.1f} "
                        f"est {e['bpm'] or 0:6.1f} F {s['f']:.2f} AMLt {s['amlt']:.2f} "
                        f"med {med:5.1f} signed {sgn:+6.1f} ms"
                    )
            dump[f"{set_name}/{label}"] = [
                {
                    "path": r["path"],
                    "true_bpm": r["bpm"],
                    "bpm": e["bpm"],
                    "f": s["f"],
                    "amlt": s["amlt"],
                }
                for r, e, s in zip(rows, results, m["per_track"])
            ]
        lines.append(f"{'':6s} ({len(rows)} tracks, {audio_s / 60:.1f} min of audio)")
    print(head)
    print("\n".join(lines))
    print(
        "goals (music): F >= 0.90, AMLt >= 0.90, median <= 10 ms, p95 <= 30 ms, acc1 >= 0.85,"
        " ±1 BPM >= 0.95; acc2 >= 0.97 on every set; speed >= 2× librosa"
    )
    if decode_lines:
        print()
        print("the same work split: decoding alone (each side's own decoder, whole file, at")
        print("the rate it decodes at: cadence's MP3 mono at a quarter; timed apart right after")
        print("each track) and the rest (the whole less that: resampling, onset functions,")
        print("tempo, beats), CPU ms a minute of audio")
        print(
            f"{'set':6s} {'method':19s} {'whole':>9s} {'decoding':>9s} {'the rest':>9s} "
            f"{'rest speed':>13s}"
        )
        print("\n".join(decode_lines))
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1))


if __name__ == "__main__":
    main()
