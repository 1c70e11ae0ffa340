"""Music at your cadence from Python: the demo library's songs, a run/walk ramp, one file.

.venv/bin/python examples/api_play.py [OUT.flac]

Chooses the songs of audio/ that fit 168 spm within 8 %, lays a ramp from
160 through two rounds of run 1 min / walk 30 s, and renders it (music and
click) to OUT (default out/api-play.flac), then prints its parts and songs.
"""

import sys
from pathlib import Path

from cadence.audio.write import check_render_path
from cadence.core.session import parse_intervals
from cadence.errors import CadenceError
from cadence.mixer import MusicSession, render_session_file
from cadence.songs import choose_songs, gather_tracks

repo = Path(__file__).parents[1]
out = Path(sys.argv[1]) if len(sys.argv) > 1 else repo / "out" / "api-play.flac"
try:
    tracks, from_folders = gather_tracks(
        [str(repo / "audio")],
        use_cache=False,
        on_problem=lambda path, why: print(f"{Path(path).name}: {why}", file=sys.stderr),
    )
    songs, skipped = choose_songs(tracks, 168, max_stretch_pct=8.0, from_folders=from_folders)
    session = MusicSession(
        songs,
        168,
        intervals=parse_intervals("run:1m,walk:30s"),
        repeat=2,
        ramp_from_spm=160.0,
        ramp_over_s=120.0,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    check_render_path(out, parameter="output", kind="a file cadence rendered")  # ours, or new
    info = render_session_file(session, str(out))
except CadenceError as exc:  # one hierarchy: a bad file, no fitting song, a full disk
    sys.exit(f"Error: {exc}")
start, reached = info["ramp_spm"]
print(f"{out.name}: {info['duration_s']:.1f} s, ramp {start:g} -> {reached:g} spm")
for part in info["parts"]:
    click = "click" if part["click"] else "no click"
    print(
        f"  {part['label']:4s} round {part['round']}: {part['start_s']:6.1f} s"
        f" at {part['spm']:g} spm, {click}"
    )
first_heard = {}  # a song goes on through the ramp's stairs: one entry a stair
for song in info["songs"]:
    first_heard.setdefault(song["path"], song)
for song in list(first_heard.values())[:3]:
    print(f"  {song['start_s']:6.1f} s  {Path(song['path']).name}  {song['stretch_pct']:+.1f} %")
