"""The stretcher built here for this CPU (``make``) against PyPI's generic wheel, in one run.

``make demo`` and ``make test`` compile python-stretch (Signalsmith Stretch)
from its source with ``-march=native`` on Linux x86-64 (see the Makefile's
``stretcher`` target). This script measures what that buys: PyPI's wheel of
the same version is downloaded to a temporary folder, and the two stretch
the same songs (``../shared/bench/music-dev/``, 60-s stereo excerpts) by
1.05 in alternating fresh processes pinned to one core. Printed: the CPU
time per minute of audio of each (median over rounds), their ratio, and how
far apart their outputs are. They are not the same samples: a phase
vocoder's phases wander apart with any change of rounding. On 2026-12-03 a
rebuild with PyPI's own flags (no ``-march``) was as far from the wheel as
the native build (magnitude spectra 27 dB apart, waveforms 8 dB, the same
RMS to 4 digits), so the distance is the rebuild's, not the CPU flags'.

    .venv/bin/python benchmarks/stretcher_build.py [--rounds 5] [--songs 3]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MUSIC_DEV = REPO.parent / "shared" / "bench" / "music-dev" / "audio"

CHILD = r"""
import json, sys, time
import numpy as np, soundfile as sf, python_stretch
songs, keep = sys.argv[1].split(","), sys.argv[2]
cpu = minutes = 0.0
outputs = []
for song in songs:
    x, sr = sf.read(song, dtype="float32", always_2d=True)
    x = np.ascontiguousarray(x.T)
    s = python_stretch.Signalsmith.Stretch(0)
    s.preset(x.shape[0], float(sr))
    s.timeFactor = 1.05
    t = time.process_time()
    y = s.process(x)
    cpu += time.process_time() - t
    minutes += x.shape[1] / sr / 60
    outputs.append(y)
if keep:
    np.save(keep, np.concatenate(outputs, axis=1))
print(json.dumps({"ms_per_min": 1000 * cpu / minutes, "minutes": minutes}))
"""


def wheel_tag(dist: str) -> str:
    """The installed `dist`'s wheel tag: ``…manylinux…`` from PyPI, ``…linux_…`` if built here."""
    text = importlib.metadata.distribution(dist).read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]
    return tags[0] if tags else "unknown"


def built_for_this_cpu(tag: str) -> bool:
    """Whether a wheel tag is a local build (``make``), not PyPI's generic ``manylinux`` wheel."""
    return "manylinux" not in tag


def pypi_wheel(version: str, into: Path) -> Path:
    """PyPI's wheel of python-stretch `version`, unpacked into `into` (a folder for PYTHONPATH)."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    cmd += ["--only-binary", ":all:", f"python-stretch=={version}", "-d", str(into / "dl")]
    subprocess.run(cmd, check=True, capture_output=True)
    (whl,) = (into / "dl").glob("*.whl")
    with zipfile.ZipFile(whl) as z:
        z.extractall(into / "site")
    return into / "site"


def stretch_run(songs: list[Path], *, pythonpath: Path | None, keep: Path | None) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    cmd = [sys.executable, "-c", CHILD, ",".join(map(str, songs)), str(keep or "")]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd="/")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--songs", type=int, default=3)
    ap.add_argument("--folder", type=Path, default=MUSIC_DEV)
    args = ap.parse_args()
    songs = sorted(args.folder.glob("*.ogg"))[: args.songs]
    if not songs:
        sys.exit(f"no songs at {args.folder} (../shared beside the checkout)")
    version = importlib.metadata.version("python-stretch")
    tag = wheel_tag("python-stretch")
    built_here = built_for_this_cpu(tag)
    print(f"installed: python-stretch {version}, wheel tag {tag}")
    print("  (built here for this CPU)" if built_here else "  (PyPI's wheel: run make to build)")
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="cadence-stretcher-") as tmp:
        site = pypi_wheel(version, Path(tmp))
        names = {"PyPI wheel": site, "installed": None}
        times: dict[str, list[float]] = {k: [] for k in names}
        minutes = 0.0
        for r in range(args.rounds):
            for name, path in names.items():
                keep = Path(tmp) / f"{name.split()[0]}.npy" if r == 0 else None
                out = stretch_run(songs, pythonpath=path, keep=keep)
                times[name].append(out["ms_per_min"])
                minutes = out["minutes"]
        a = np.load(Path(tmp) / "PyPI.npy")
        b = np.load(Path(tmp) / "installed.npy")
    print(
        f"{len(songs)} songs ({minutes:.1f} min of stereo audio) stretched by 1.05,"
        f" one core, {args.rounds} rounds, alternating:"
    )
    for name, t in times.items():
        med = statistics.median(t)
        print(f"  {name:11s} {med:6.0f} ms of CPU per minute of audio (min {min(t):.0f})")
    ratio = statistics.median(times["PyPI wheel"]) / statistics.median(times["installed"])
    print(f"installed build against PyPI's wheel: {ratio:.2f}x as fast")
    rms_a, rms_b = (float(np.sqrt(np.mean(v.astype(np.float64) ** 2))) for v in (a, b))
    print(
        f"outputs: same length {a.shape == b.shape}; RMS {rms_a:.4f} and {rms_b:.4f};"
        f" magnitude spectra {spectral_difference_db(a, b):.0f} dB apart, waveforms"
        f" {difference_db(a, b):.0f} dB"
    )


def difference_db(a, b) -> float:
    """The level of ``b - a`` against `a`'s (dB)."""
    import numpy as np

    d = (b - a).astype(np.float64)
    return float(10 * np.log10(np.mean(d**2) / np.mean(a.astype(np.float64) ** 2) + 1e-30))


def spectral_difference_db(a, b, *, n_fft: int = 2048, hop: int = 512) -> float:
    """The difference of the two mono mixes' magnitude spectrograms against `a`'s (dB)."""
    import numpy as np

    def mags(y):
        frames = np.lib.stride_tricks.sliding_window_view(y.mean(axis=0), n_fft)[::hop]
        return np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1))

    ma, mb = mags(a), mags(b)
    return float(20 * np.log10(np.linalg.norm(mb - ma) / np.linalg.norm(ma) + 1e-30))


if __name__ == "__main__":
    main()
