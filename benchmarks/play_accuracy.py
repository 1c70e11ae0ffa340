"""Music at a cadence: are the clicks on the songs' true beats, and is the time map true?

Renders sessions of the real songs of ``../shared/bench/music-dev/`` (their
true beats are known: beat k at ``first_beat_s + k * 60 / bpm``) with
``-o … --stems --json`` (through the library: the same functions), then:

* click on the beat: each song's true beats, mapped through the reported
  time map, against the clicks found in the click stem: the median and 95th
  percentile of |offset| over all beats of all songs (goal <= 10 and <= 25 ms);
* the time map is true to the audio: the source's fine onset envelope warped
  through the map against the music stem's, by cross-correlation in 10-s
  windows away from the crossfades (goal: median <= 3 ms, none over 15 ms);
* transitions: the music's RMS in each step across a crossfade against the
  step before (goal: within 3 dB), next to the same measure away from them;
* the click interval: the clicks found against the closed form
  ``anchor + round(j * 60 * sr / spm)`` (goal: exact).

Usage::

    .venv/bin/python benchmarks/play_accuracy.py [--spm 150,172] [--keep DIR]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import atexit
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

from beat_accuracy import music_rows

WINDOW_S = 10.0


def click_onsets(click: np.ndarray, *, sr: int) -> np.ndarray:
    """Sample of each click's first sound in the click stem."""
    loud = np.flatnonzero(np.abs(click) > 1e-3)
    if not len(loud):
        return loud
    return loud[np.concatenate([[True], np.diff(loud) > 0.1 * sr])]


def warped_lags_ms(song: dict, source_path: str, stem_env, *, fades: list) -> list[float]:
    """Lag (ms) of the stem's onsets behind the source's warped through the map, per window."""
    from cadence.audio.decode import FINE_RATE_HZ, onset_envelope

    pairs = np.array(song["time_map"])
    if len(pairs) < 8:
        return []
    src_env = onset_envelope(source_path)
    fr = FINE_RATE_HZ
    t_stem = stem_env.fine_start_s + np.arange(len(stem_env.fine)) / fr
    t_src = src_env.fine_start_s + np.arange(len(src_env.fine)) / fr
    lo, hi = pairs[0, 1], pairs[-1, 1]
    lags = []
    w = WINDOW_S
    for a in np.arange(lo, hi - w, w):
        if any(a < f1 and a + w > f0 for f0, f1 in fades):
            continue  # two songs sound in a crossfade
        sel = (t_stem >= a) & (t_stem < a + w)
        src_t = np.interp(t_stem[sel], pairs[:, 1], pairs[:, 0])
        x = np.interp(src_t, t_src, src_env.fine)
        y = stem_env.fine[sel]
        x, y = x - x.mean(), y - y.mean()
        m = 15
        cc = np.array([x[m:-m] @ y[m + k : len(y) - m + k] for k in range(-m, m + 1)])
        i = int(np.argmax(cc))
        d = 0.0
        if 0 < i < 2 * m:
            d = 0.5 * (cc[i - 1] - cc[i + 1]) / (cc[i - 1] - 2 * cc[i] + cc[i + 1])
        lags.append((i - m + d) / fr * 1000)
    return lags


def step_rms_db(music: np.ndarray, clicks_s: np.ndarray, *, sr: int) -> np.ndarray:
    """Level (dB) of the music in each step between clicks."""
    edges = np.round(clicks_s * sr).astype(int)
    rms = [np.sqrt(np.mean(music[a:b] ** 2)) + 1e-9 for a, b in itertools.pairwise(edges)]
    return 20 * np.log10(np.array(rms))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--spm", default="150,172", help="comma-separated cadences, one session each")
    ap.add_argument("--keep", type=Path, help="keep the rendered sessions in this folder")
    args = ap.parse_args()
    import soundfile as sf

    from cadence.analysis import analyze_file
    from cadence.audio.decode import onset_envelope
    from cadence.core.mix import step_sample
    from cadence.mixer import MusicSession, render_session_file
    from cadence.songs import choose_songs

    rows = {r["path"]: r for r in music_rows()}
    t0 = time.perf_counter()
    tracks = [analyze_file(p) for p in rows]
    print(f"analysed {len(tracks)} songs in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="cadence-play-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.keep is None:  # ~250 MB of renders: gone at the end, on Ctrl-C or a TERM too
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    offsets, lags, dips_fade, dips_other, grid_err = [], [], [], [], []
    played = set()
    for spm in (float(s) for s in args.spm.split(",")):
        songs, skipped = choose_songs(tracks, spm, max_stretch_pct=8.0)
        session = MusicSession(songs, spm, click="on")
        out = folder / f"session-{spm:g}.flac"
        t0 = time.perf_counter()
        info = render_session_file(session, str(out), stems=True)
        took = time.perf_counter() - t0
        sr = info["sr"]
        music, _ = sf.read(info["stems"]["music"], dtype="float64")
        click, _ = sf.read(info["stems"]["click"], dtype="float64")
        found = click_onsets(click[:, 0], sr=sr)
        step = 60 * sr / spm
        j = np.round((found - session.anchor) / step).astype(int)
        grid_err += list(found - [step_sample(k, anchor=session.anchor, spm=spm, sr=sr) for k in j])
        clicks_s = found / sr
        stem_env = onset_envelope(info["stems"]["music"])
        fades = [
            (b["start_s"], a["end_s"])
            for a, b in zip(info["songs"][:-1], info["songs"][1:], strict=True)
        ]
        print(
            f"{spm:g} spm: {len(info['songs'])} songs, {info['duration_s'] / 60:.1f} min,"
            f" rendered in {took:.1f} s ({info['duration_s'] / took:.0f}x real time);"
            f" {len(skipped.reasons)} left out",
            file=sys.stderr,
        )
        for song in info["songs"]:
            played.add(song["path"])
            r = rows[song["path"]]
            pairs = np.array(song["time_map"])
            true = r["beats"][(r["beats"] > pairs[0, 0]) & (r["beats"] < pairs[-1, 0])]
            mapped = np.interp(true, pairs[:, 0], pairs[:, 1])
            k = np.clip(np.searchsorted(clicks_s, mapped), 1, len(clicks_s) - 1)
            near = np.where(
                np.abs(clicks_s[k] - mapped) < np.abs(clicks_s[k - 1] - mapped),
                clicks_s[k],
                clicks_s[k - 1],
            )
            off = (mapped - near) * 1000
            offsets += list(off)
            song_lags = warped_lags_ms(song, song["path"], stem_env, fades=fades)
            lags += song_lags
            print(
                f"  {Path(song['path']).name:30s} {song['stretch_pct']:+5.1f} %"
                f" {'steady' if song['steady'] else 'mapped'}"
                f"  beat offset median {np.median(np.abs(off)):5.1f} p95"
                f" {np.percentile(np.abs(off), 95):6.1f} ms"
                f"  map lag median {np.median(np.abs(song_lags)) if song_lags else np.nan:4.1f} ms",
                file=sys.stderr,
            )
        levels = step_rms_db(music[:, 0], clicks_s, sr=sr)
        mids = (clicks_s[:-1] + clicks_s[1:]) / 2
        in_fade = np.zeros(len(levels), bool)
        for f0, f1 in fades:
            in_fade |= (mids > f0 - 1.0) & (mids < f1 + 1.0)
        jumps = np.abs(np.diff(levels))
        dips_fade += list(jumps[in_fade[1:]])
        dips_other += list(jumps[~in_fade[1:]])
    offsets, lags = np.abs(offsets), np.abs(lags)
    print()
    print(f"songs played: {len(played)} of {len(rows)}; beats: {len(offsets)}")
    print(
        f"click on the true beat: median {np.median(offsets):.2f} ms, p95"
        f" {np.percentile(offsets, 95):.2f} ms   (goals <= 10, <= 25)"
    )
    print(
        f"time map vs audio ({len(lags)} windows of {WINDOW_S:g} s): median {np.median(lags):.2f}"
        f" ms, largest {np.max(lags):.2f} ms   (goals <= 3, <= 15)"
    )
    print(
        f"level step to step across crossfades: largest {np.max(dips_fade):.2f} dB, p95"
        f" {np.percentile(dips_fade, 95):.2f} dB (elsewhere: largest {np.max(dips_other):.2f},"
        f" p95 {np.percentile(dips_other, 95):.2f})   (goal <= 3 dB)"
    )
    print(
        f"clicks against the closed-form grid: largest {np.max(np.abs(grid_err)):.0f} samples"
        " (the click's onset as found in the stem)"
    )


if __name__ == "__main__":
    main()
