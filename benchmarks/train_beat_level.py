"""Fit the beat-level model (`cadence.core.beat_level.LEVEL_WEIGHTS`); report how it generalizes.

The tempo estimate is read at one level of the metre; listeners may tap at
its half or its double. For every track of both development sets (see
``benchmarks/beat_accuracy.py``) this computes
:func:`cadence.core.beat_level.level_features` for each candidate level, labels
the candidate within 4 % of the true tempo, and fits a logistic regression
(scikit-learn, which librosa already installs) that scores the candidates.

It reports acc1 of the chosen level with one source left out at a time:
each chart repository of music-dev, each drummer of the drum set, trained on
all the others. The real music counts ``--music-weight`` times a drum
performance (20 songs against 314 performances; ``--grid`` shows what the
weight trades). Then it fits on everything
and prints the weights to paste into ``LEVEL_WEIGHTS``, and the acc1 of the
weights now in the code.

    .venv/bin/python benchmarks/train_beat_level.py [--limit N]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beat_accuracy import DEFAULT_GMD, gmd_rows, music_rows


def features_of(path: str):
    from cadence.audio.decode import onset_envelope
    from cadence.core.beat_level import level_candidates, level_features
    from cadence.core.tempo import _combined_envelope, estimate_tempo

    env = onset_envelope(path)
    est = estimate_tempo(env.bands, frame_rate_hz=env.frame_rate_hz)
    if est.bpm is None:
        return None, None
    onset = _combined_envelope(env.bands, frame_rate_hz=env.frame_rate_hz)
    cands = level_candidates(est.bpm)
    return cands, level_features(env.bands, cands, frame_rate_hz=env.frame_rate_hz, onset=onset)


def hit(bpm: float, true: float) -> bool:
    return abs(bpm - true) <= 0.04 * true


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--gmd-dir", type=Path, default=DEFAULT_GMD)
    ap.add_argument("--limit", type=int, default=0, help="only the first N drum performances")
    ap.add_argument("--music-weight", type=float, default=30.0)
    ap.add_argument("--C", type=float, default=100.0, help="inverse regularization strength")
    ap.add_argument(
        "--features-cache", type=Path, help="keep the features in this file (pickle) for reruns"
    )
    ap.add_argument(
        "--grid", action="store_true", help="also report held-out acc1 for a grid of C and weight"
    )
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    from sklearn.linear_model import LogisticRegression

    from cadence.core.beat_level import LEVEL_WEIGHTS

    gmd = gmd_rows(args.gmd_dir)
    items = [("music", r) for r in music_rows()] + [
        ("drums", r) for r in (gmd[: args.limit] if args.limit else gmd)
    ]
    import pickle

    cached = {}
    if args.features_cache and args.features_cache.exists():
        cached = pickle.loads(args.features_cache.read_bytes())
    data = []
    for i, (set_name, r) in enumerate(items, 1):
        if r["path"] not in cached:
            cached[r["path"]] = features_of(r["path"])
        cands, feats = cached[r["path"]]
        print(f"\rfeatures: {i}/{len(items)}", end="", file=sys.stderr, flush=True)
        data.append((set_name, r["group"], r["bpm"], cands, feats))
    print(file=sys.stderr)
    if args.features_cache:
        args.features_cache.write_bytes(pickle.dumps(cached))
    usable = [d for d in data if d[3] is not None]

    def fit(train, c=args.C, music_weight=args.music_weight):
        x = np.vstack([d[4] for d in train])
        y = np.concatenate([[hit(c, d[2]) for c in d[3]] for d in train])
        w = np.concatenate([[music_weight if d[0] == "music" else 1.0] * len(d[3]) for d in train])
        model = LogisticRegression(C=c, max_iter=5000).fit(x, y, sample_weight=w)
        return (*model.coef_[0], model.intercept_[0])

    def choose(weights, d):
        w = np.asarray(weights)
        return d[3][int(np.argmax(d[4] @ w[:-1] + w[-1]))]

    def acc1(results, set_name):
        picked = [ok for s, ok in results if s == set_name]
        return sum(picked) / max(1, len(picked)), len(picked)

    def leave_one_out(c, music_weight):
        held_out = []
        for group in sorted({(d[0], d[1]) for d in usable}):
            weights = fit([d for d in usable if (d[0], d[1]) != group], c, music_weight)
            for d in usable:
                if (d[0], d[1]) == group:
                    held_out.append((d[0], hit(choose(weights, d), d[2])))
        # Tracks with no tempo at all count as misses.
        return held_out + [(d[0], False) for d in data if d[3] is None]

    if args.grid:
        print(f"{'held-out acc1: C, music weight':44s} {'music':>7s} {'drums':>7s}")
        for c in (1.0, 100.0):
            for mw in (1.0, 3.0, 10.0, 30.0):
                res = leave_one_out(c, mw)
                print(
                    f"{f'C={c:g}, weight {mw:g}':44s} {acc1(res, 'music')[0]:7.3f} "
                    f"{acc1(res, 'drums')[0]:7.3f}"
                )
    held_out = leave_one_out(args.C, args.music_weight)
    n_features = usable[0][4].shape[1]
    if len(LEVEL_WEIGHTS) != n_features + 1:  # the features changed: refit before judging
        weights = fit(usable)
        print(f"LEVEL_WEIGHTS has {len(LEVEL_WEIGHTS)} values for {n_features} features; refitted:")
        sys.exit("LEVEL_WEIGHTS = (" + ", ".join(f"{w:.3f}" for w in weights) + ")")
    in_code = [(d[0], hit(choose(LEVEL_WEIGHTS, d), d[2])) for d in usable]
    in_code += [(d[0], False) for d in data if d[3] is None]
    print(f"{'acc1 of the chosen level':44s} {'music':>7s} {'drums':>7s}")
    for label, res in (
        ("one source / drummer left out (C, weight)", held_out),
        ("weights in the code (trained on all)", in_code),
    ):
        (m, nm), (g, ng) = acc1(res, "music"), acc1(res, "drums")
        print(f"{label:44s} {m:7.3f} {g:7.3f}   (n = {nm}, {ng})")
    weights = fit(usable)
    print(f"fitted on all (C={args.C:g}, music weight {args.music_weight:g}):")
    print("LEVEL_WEIGHTS = (" + ", ".join(f"{w:.3f}" for w in weights) + ")")


if __name__ == "__main__":
    main()
