"""Listen through the figures: where `cadence beats SONG --click OUT.wav` puts its clicks.

For each song of ``../shared/bench/music-dev/`` (as its OGG and as an MP3 made
from it by ffmpeg, which a user is more likely to have), this runs the real
command in a subprocess, then finds the clicks in OUT.wav: OUT minus the
song at the gain it was mixed at is the clicks alone, and each click's first
sample is its time. It prints how far the clicks fall from

* the song's chart beats (the truth: hand-synced rhythm-game charts), and
* the song's own onsets, which is what an ear hears the click against:
  librosa's onset peaks on a 1024-point spectrogram every 128 samples (the
  detector music-dev's README used to check its charts).

    .venv/bin/python benchmarks/click_offsets.py [--limit N] [--mp3-only]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beat_accuracy import MATCH_WINDOW_S, REPO, music_rows

CADENCE = REPO / ".venv" / "bin" / "cadence"


def clicks_in(out_path: Path, song_path: Path) -> np.ndarray:
    """Times (s) of the clicks mixed into `out_path` over `song_path`."""
    from cadence.audio.readers import read_audio

    mixed, sr = read_audio(out_path)
    music, _ = read_audio(song_path)
    n = min(len(mixed), len(music))
    mixed, music = mixed[:n, 0].astype(np.float64), music[:n, 0].astype(np.float64)
    # The music is at MUSIC_GAIN_DB, less what the whole was turned down where
    # clicks on loud beats would clip ("turned down 0.6 dB more"): its gain
    # is the least-squares one (the clicks are a sliver of the samples).
    gain = float(mixed @ music) / max(float(music @ music), 1e-12)
    # The WAV holds 16-bit samples: what is left of the music is under 1e-4.
    added = mixed - music * gain
    loud = np.abs(added) > 0.02
    starts = np.flatnonzero(loud & ~np.concatenate([[False], loud[:-1]]))
    if len(starts) == 0:
        return np.zeros(0)
    starts = starts[np.concatenate([[True], np.diff(starts) > 0.1 * sr])]
    return starts / sr


def nearest_offsets_ms(times: np.ndarray, reference: np.ndarray) -> np.ndarray:
    if len(times) == 0 or len(reference) == 0:
        return np.zeros(0)
    j = np.abs(times[:, None] - reference[None, :]).argmin(axis=1)
    d = times - reference[j]
    return 1000 * d[np.abs(d) <= MATCH_WINDOW_S]


def music_onsets(path: Path) -> np.ndarray:
    import librosa

    y, sr = librosa.load(path, sr=None, mono=True)
    strength = librosa.onset.onset_strength(y=y, sr=sr, hop_length=128, n_fft=1024)
    return librosa.onset.onset_detect(onset_envelope=strength, sr=sr, hop_length=128, units="time")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--mp3-only", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    rows = music_rows()[: args.limit or None]
    kinds = ["mp3"] if args.mp3_only else ["ogg", "mp3"]
    totals = {k: {"grid": [], "onsets": []} for k in kinds}
    with tempfile.TemporaryDirectory(prefix="cadence-clicks-") as tmp:
        for r in rows:
            src = Path(r["path"])
            line = f"{src.stem[:30]:30s}"
            for kind in kinds:
                song = src
                if kind == "mp3":
                    song = Path(tmp) / f"{src.stem}.mp3"
                    subprocess.run(
                        [
                            "ffmpeg",
                            "-loglevel",
                            "error",
                            "-y",
                            "-i",
                            str(src),
                            "-b:a",
                            "192k",
                            str(song),
                        ],
                        check=True,
                    )
                out = Path(tmp) / f"{src.stem}-{kind}-clicked.wav"
                proc = subprocess.run(
                    [str(CADENCE), "beats", str(song), "--click", str(out)],
                    capture_output=True,
                    text=True,
                    env={**os.environ, "COLUMNS": "100"},
                )
                if proc.returncode != 0:
                    line += f"  {kind}: failed ({proc.stderr.strip()[:60]})"
                    continue
                clicks = clicks_in(out, song)
                written = re.search(r"with (\d+) clicks", proc.stdout)
                if written and int(written.group(1)) != len(clicks):
                    # Found more or fewer than were written: the figures are not the clicks'.
                    line += f"  {kind}: {len(clicks)} clicks found of {written.group(1)} written"
                    continue
                to_grid = nearest_offsets_ms(clicks, r["beats"])
                to_onsets = nearest_offsets_ms(clicks, music_onsets(song))
                totals[kind]["grid"].append(to_grid)
                totals[kind]["onsets"].append(to_onsets)
                line += (
                    f"  {kind}: {len(clicks):3d} clicks, vs chart {np.median(to_grid):+5.1f} ms"
                    f" (|med| {np.median(np.abs(to_grid)):4.1f}), vs onsets"
                    f" {np.median(to_onsets):+5.1f} ms"
                )
                out.unlink()
            print(line, flush=True)
    print()
    print(f"{'':6s} {'clicks vs chart beats (ms)':>34s}   {'clicks vs the music onsets (ms)':>34s}")
    print(
        f"{'file':6s} {'signed med':>11s} {'|med|':>7s} {'p95':>7s} {'matched':>7s}   "
        f"{'signed med':>11s} {'|med|':>7s} {'p95':>7s} {'matched':>7s}"
    )
    for kind in kinds:
        g = np.concatenate(totals[kind]["grid"] or [np.zeros(0)])
        o = np.concatenate(totals[kind]["onsets"] or [np.zeros(0)])
        n_beats = sum(len(r["beats"]) for r in rows)
        print(
            f"{kind:6s} {np.median(g):+11.1f} {np.median(np.abs(g)):7.1f} "
            f"{np.percentile(np.abs(g), 95):7.1f} {len(g) / n_beats:7.0%}   "
            f"{np.median(o):+11.1f} {np.median(np.abs(o)):7.1f} "
            f"{np.percentile(np.abs(o), 95):7.1f} {len(o) / n_beats:7.0%}"
        )


if __name__ == "__main__":
    main()
