"""Metronome speed: offline rendering (× real time) and the callback's CPU cost.

Goals (issue 3): render a 60-minute session with ramp and intervals at
>= 1000× real time on one core; the playback callback costs < 1 % of a core.

Baselines measured in the same run:
* rendering: a naive whole-array renderer (allocate the hour, add a click at
  each beat), the usual way to write a metronome file in numpy;
* callback CPU: the same real-time stream with an empty callback (it only
  zeroes the buffer), so the cost of PortAudio/JACK itself is separated out.
  The real-time part runs through a JACK server with the dummy driver when
  `jackd` is installed (make test installs it), else it is skipped and says so.

    .venv/bin/python benchmarks/metronome_speed.py [--minutes 60] [--play-seconds 20]
"""

from __future__ import annotations

import os

# One core: no BLAS thread pools (the CLI sets the same).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from cadence.audio.write import write_session
from cadence.core.render import BeatRenderer
from cadence.core.session import Session, parse_intervals
from cadence.core.synth import voice_bank

SR = 44100


def session_for(minutes: float) -> Session:
    return Session(
        172,
        duration_s=minutes * 60,
        intervals=parse_intervals("run:4m,walk:1m"),
        ramp_from_spm=160,
        ramp_over_s=10 * 60,
        accent=2,
    )


def best_of(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def render_blocks(session: Session, blocksize: int) -> None:
    renderer = BeatRenderer(session, sr=SR)
    buf = np.zeros(blocksize, dtype=np.float32)
    while not renderer.finished:
        renderer.render(buf)


def silence_blocks(session: Session, blocksize: int) -> None:
    """The floor: writing the same number of samples of silence, block by block."""
    buf = np.zeros(blocksize, dtype=np.float32)
    for _ in range(0, round(session.duration_s * SR), blocksize):
        buf.fill(0.0)


def naive_render(session: Session) -> np.ndarray:
    """Whole-array baseline: cumulative rounded intervals, constant tempo per beat."""
    click = voice_bank("click", sr=SR).beat
    total = round(session.duration_s * SR)
    out = np.zeros(total + len(click), dtype=np.float32)
    t = 0.0
    while True:
        n = round(t * SR)
        if n >= total:
            break
        # The tempo at this moment (ramp), walks silent: a typical hand-written loop.
        minute = t / 60
        spm = 160 + 12 * min(1.0, minute / 10)
        if (t % 300) < 240:
            out[n : n + len(click)] += click
        t += 60 / spm
    return out[:total]


def offline(minutes: float) -> None:
    session = session_for(minutes)
    audio_s = minutes * 60
    print(f"Offline rendering: {minutes:g} min session (172 spm, ramp from 160 over 10 min,")
    print("run:4m,walk:1m intervals, accents), mono, 44.1 kHz, best of 3, CPU time on one core")
    rows = [
        ("silence into 65536-frame blocks (baseline)", lambda: silence_blocks(session, 65536)),
        ("naive whole-array numpy loop", lambda: naive_render(session)),
        ("cadence BeatRenderer, 65536-frame blocks", lambda: render_blocks(session, 65536)),
        ("cadence BeatRenderer, 4096-frame blocks", lambda: render_blocks(session, 4096)),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for ext in ("wav", "flac"):
            path = os.path.join(tmp, f"s.{ext}")
            rows.append(
                (
                    f"cadence render + encode to .{ext} (write_session)",
                    lambda p=path: write_session(BeatRenderer(session, sr=SR), p),
                )
            )
        base = None
        print(f"  {'what':48s} {'CPU s':>8s} {'× real time':>12s} {'cost ÷ base':>12s}")
        for name, fn in rows:
            cpu = best_of(fn)
            base = base or cpu
            print(f"  {name:48s} {cpu:8.3f} {audio_s / cpu:11.0f}× {cpu / base:11.1f}×")
    print("  goal: >= 1000× real time for rendering on one core")
    print(
        "  (np.zeros leaves untouched pages unmapped, so the naive loop never writes most samples)"
    )


def callback_cost_offline(seconds: float = 120.0) -> None:
    session = session_for(seconds / 60)
    print(f"\nCallback work without a device: {seconds:g} s of stereo 48 kHz audio in small blocks")
    print(f"  {'blocksize':>9s} {'CPU s':>8s} {'% of a core':>12s}")
    for blocksize in (64, 256, 1024):
        renderer = BeatRenderer(session, sr=48000)
        buf = np.zeros((blocksize, 2), dtype=np.float32)
        t0 = time.process_time()
        while not renderer.finished:
            renderer.render(buf)
        cpu = time.process_time() - t0
        print(f"  {blocksize:9d} {cpu:8.3f} {100 * cpu / seconds:11.3f} %")


def callback_cost_jack(play_s: float) -> None:
    print(
        f"\nReal-time playback through JACK (dummy driver, 48 kHz, period 256), {play_s:g} s each"
    )
    jackd = shutil.which("jackd")
    if not jackd:
        print("  skipped: jackd not installed (Debian package jackd2; make test installs it)")
        return
    import sounddevice as sd

    from cadence.playback import Player

    name = f"cadence-bench-{os.getpid()}"
    server = subprocess.Popen(
        [jackd, "--no-realtime", "-S", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    time.sleep(1.5)
    try:
        sd._terminate()
        sd._initialize()

        def measure(callback_factory) -> tuple[float, int]:
            t0, w0 = time.process_time(), time.perf_counter()
            underruns = callback_factory()
            return (time.process_time() - t0) / (time.perf_counter() - w0), underruns

        def empty() -> int:
            flags = [0]

            def cb(out, frames, t, status):
                if status.output_underflow:
                    flags[0] += 1
                out.fill(0)

            with sd.OutputStream(
                samplerate=48000, channels=2, dtype="float32", callback=cb, latency="low"
            ):
                time.sleep(play_s)
            return flags[0]

        def metronome() -> int:
            player = Player(
                lambda sr: BeatRenderer(session_for(play_s / 60), sr=sr),
                device="JACK",
                latency="low",
            )
            player.start()
            player.wait()
            player.close()
            return player.underruns

        base, base_xruns = measure(empty)
        cost, xruns = measure(metronome)
        print(f"  {'stream':44s} {'process CPU':>12s} {'underruns':>10s}")
        print(f"  {'empty callback (baseline)':44s} {100 * base:10.2f} % {base_xruns:10d}")
        print(f"  {'cadence metronome callback':44s} {100 * cost:10.2f} % {xruns:10d}")
        print(f"  callback's own cost: {100 * (cost - base):+.2f} % of a core (goal < 1 %)")
        print("  (underruns: the dummy driver's xruns, seen with the empty callback too)")
    finally:
        sd._terminate()
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--play-seconds", type=float, default=20)
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} cores\n")
    offline(args.minutes)
    callback_cost_offline()
    callback_cost_jack(args.play_seconds)


if __name__ == "__main__":
    main()
