"""How fast ``cadence play -o`` renders a session, and whether its memory grows with the session.

Each run is a fresh process pinned to one core (``taskset -c 0`` where
available): analyse the songs (decode, beats; no cache), choose and plan
them, then render the session (decode, stretch, crossfade, click, encode)
to an MP3 file, as for a phone. The songs are ``../shared/bench/music-dev/``'s
real ones (60-s excerpts, OGG); a session longer than they last plays them
again, decoded and stretched again each time, as a real one would.

Printed per session length: seconds taken, throughput (× real time; the
goal is >= 20× for 30 minutes) and peak memory. Peak memory should not grow
with the session's length: the 30-minute run against the 10-minute one.

Then live play, without a sound card (what happens before and inside the
audio callback): the time from the command to the first music ready to
sound (folder scanned and cached before, as a runner's library is; and with
no cache), the callback's cost: :class:`cadence.core.musicrender.MusicRenderer`
rendering 256-frame periods at 48 kHz from the ring, as a share of one core;
and a live tempo change (up, 5 s in): how long the producer takes to post
the re-planned music, and how many beats after the key the change is heard.

    .venv/bin/python benchmarks/play_speed.py [--minutes 10,30] [--spm 165] [--format mp3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from cadence.liveplay import CHANGE_LEAD_S

MUSIC_DEV = REPO.parent / "shared" / "bench" / "music-dev" / "audio"

CHILD = r"""
import json, os, resource, sys, time
for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[v] = "1"
from cadence.audio.decode import warm_up
warm_up()
import python_stretch  # noqa: F401  (imports are not the work measured)
from cadence.mixer import MusicSession, render_session_file
from cadence.songs import choose_songs, gather_tracks
folder, out, spm, minutes = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
t0 = time.process_time()
tracks, from_folders = gather_tracks([folder], use_cache=False, on_problem=lambda p, r: None)
t1 = time.process_time()
songs, skipped = choose_songs(tracks, spm, max_stretch_pct=8.0, from_folders=from_folders)
session = MusicSession(songs, spm, duration_s=minutes * 60)
info = render_session_file(session, out)
t2 = time.process_time()
print(json.dumps({
    "analyse_s": t1 - t0, "render_s": t2 - t1, "audio_s": info["duration_s"],
    "songs": len(songs), "placed": len(info["songs"]),
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


LIVE = r"""
import json, os, sys, time
t_start = time.perf_counter()
for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[v] = "1"
from cadence.core.musicrender import MusicRenderer
from cadence.liveplay import LiveMusic
from cadence.mixer import MusicSession
from cadence.songs import choose_songs, gather_tracks
folder, cache, spm = sys.argv[1], sys.argv[2], float(sys.argv[3])
tracks, ff = gather_tracks([folder], cache_path=cache, on_problem=lambda p, r: None)
songs, _ = choose_songs(tracks, spm, max_stretch_pct=8.0, from_folders=ff)
session = MusicSession(songs, spm, sr=48000)
with LiveMusic(session) as live:
    live.wait_ready()
    first_sound_s = time.perf_counter() - t_start
    while live.ring.room > 0 and not live.feed.done:
        time.sleep(0.01)  # let the producer fill the ring
    time.sleep(0.5)
    r = MusicRenderer(session.click_renderer(), live.feed)
    import numpy as np
    out = np.zeros((256, 2), np.float32)
    calls = min(1000, live.ring.available // 256)
    t = time.perf_counter()
    for _ in range(calls):
        r.render(out)
    per_call = (time.perf_counter() - t) / calls
    # A live tempo change: from the key to the producer's switch, and where it lands.
    from cadence.core.ring import PENDING
    live.attach(r)
    for _ in range(int(5 * 48000 / 256)):  # 5 s in, paced as a sound card would be
        while not live.feed.ready(r.position, 256):
            time.sleep(0.001)
        r.render(out)
        time.sleep(256 / 48000)
    key_at = r.position
    t = time.perf_counter()
    r.nudge(1.0)
    while not live.feed.control[PENDING]:
        time.sleep(0.0005)
    switch_s = time.perf_counter() - t
    at = live.plan.live[-1].at
    beats_after_key = (at - key_at) * (spm + 1) / (60 * 48000)
print(json.dumps({"first_sound_s": first_sound_s, "callback_share": per_call / (256 / 48000),
                  "switch_s": switch_s, "beats_after_key": beats_after_key}))
"""


def live(folder: Path, cache: Path, *, spm: float) -> dict:
    cmd = [sys.executable, "-c", LIVE, str(folder), str(cache), str(spm)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(minutes: float, *, spm: float, fmt: str, folder: Path) -> dict:
    out = Path(tempfile.mkdtemp(prefix="cadence-play-speed-")) / f"session.{fmt}"
    cmd = [sys.executable, "-c", CHILD, str(folder), str(out), str(spm), str(minutes)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
    except subprocess.CalledProcessError as exc:
        sys.exit(f"the run failed:\n{exc.stderr}")
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def ffmpeg_decode_ms_per_min(folder: Path) -> float | None:
    """This machine's speed today: FFmpeg's CPU time to decode the songs, per minute of audio.

    Measured in the same run, so that the figures above can be set against
    another day's on a shared machine (the render's own cost is mostly
    decoding, stretching and encoding, which all slow down with it).
    """
    import resource

    if not shutil.which("ffmpeg"):
        return None
    songs = sorted(folder.glob("*.ogg"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    minutes = 0.0
    for song in songs:
        cmd = ["ffmpeg", "-v", "quiet", "-threads", "1", "-i", str(song), "-f", "f32le", "-"]
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", "0", *cmd]
        pcm = subprocess.run(cmd, capture_output=True, check=True).stdout
        minutes += len(pcm) / (4 * 2 * 44100 * 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return 1000 * cpu / minutes if minutes else None


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--minutes", default="10,30")
    ap.add_argument("--spm", type=float, default=165.0)
    ap.add_argument("--format", default="mp3", choices=["mp3", "ogg", "flac", "wav"])
    ap.add_argument("--folder", type=Path, default=MUSIC_DEV)
    args = ap.parse_args()
    if not args.folder.is_dir():
        sys.exit(f"no songs at {args.folder} (../shared beside the checkout)")
    print(
        f"{'session':>8s} {'songs':>5s} {'analyse s':>9s} {'render s':>8s} {'total s':>7s} "
        f"{'x real time':>11s} {'peak MB':>7s}"
    )
    rows = []
    for minutes in (float(m) for m in args.minutes.split(",")):
        r = run(minutes, spm=args.spm, fmt=args.format, folder=args.folder)
        total = r["analyse_s"] + r["render_s"]
        rows.append(r)
        print(
            f"{minutes:6g} m {r['placed']:5d} {r['analyse_s']:9.1f} {r['render_s']:8.1f}"
            f" {total:7.1f} {r['audio_s'] / total:10.1f}x {r['peak_mb']:7.0f}"
        )
    print(
        f"({rows[0]['songs']} songs fit {args.spm:g} spm; CPU seconds on one core; "
        f"{args.format.upper()} out; goal: >= 20x real time for 30 minutes)"
    )
    from stretcher_build import built_for_this_cpu, wheel_tag  # beside this script

    tag = wheel_tag("python-stretch")
    how = "built here for this CPU (make)" if built_for_this_cpu(tag) else "PyPI's generic wheel"
    print(f"stretcher: python-stretch, {how}; wheel tag {tag}")
    reference = ffmpeg_decode_ms_per_min(args.folder)
    if reference:
        print(
            f"this machine today: FFmpeg decodes these songs in {reference:.0f} ms of CPU a minute"
            f" (the figures in the README were measured when it took 72-75)"
        )
    if len(rows) > 1:
        print(
            f"peak memory, longest against shortest session: "
            f"{rows[-1]['peak_mb'] / rows[0]['peak_mb']:.2f}x"
        )
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache.sqlite"
        cold = live(args.folder, cache, spm=args.spm)  # scans and fills the cache
        warm = live(args.folder, cache, spm=args.spm)
    print(
        f"live: command to music ready {warm['first_sound_s']:.2f} s with the folder cached"
        f" ({cold['first_sound_s']:.2f} s scanning it first; goal < 2 s); callback"
        f" {100 * warm['callback_share']:.2f} % of a core (goal < 2 %)"
    )
    print(
        f"live tempo change (+1 spm, 5 s in): switch posted {1000 * warm['switch_s']:.0f} ms after"
        f" the key (it has {1000 * CHANGE_LEAD_S:.0f} ms); music and click change"
        f" {warm['beats_after_key']:.2f} beats after the key (goal: within a beat or two)"
    )


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    main()
