"""Playing a session for a runner: live keys, a status line, a clean stop.

Joins the playback edge and the terminal edge. With a terminal: arrow keys
up/down change the tempo by 1 spm, page-up/page-down by 5, space pauses and
resumes, q (or Esc) quits, and a status line shows the tempo, the time, the
interval and the time to the next change. Without one (piped, CI) it just
plays until the end or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cadence.core.durations import format_clock
from cadence.core.render import BeatRenderer, Status
from cadence.errors import AudioDeviceLostError, Terminated

PAUSED = "PAUSED"
#: With no callback for this long, the device is taken for gone.
WATCHDOG_S = 4.0

KEY_NUDGES = {"up": 1.0, "down": -1.0, "pageup": 5.0, "pagedown": -5.0, "+": 1.0, "-": -1.0}
QUIT_KEYS = {"q", "Q", "escape", "eof"}
HELP_LINE = "up/down ±1 spm · PgUp/PgDn ±5 · space pause · q quit"
#: The song in the status line is cut to no shorter than this before it is left out.
MIN_DETAIL = 12
#: ... and of a song's name, cut to keep its BPM and stretch.
MIN_NAME = 6


@dataclass(frozen=True)
class PlayResult:
    """How a played session ended."""

    played_s: float
    beats: int
    final_spm: float
    underruns: int
    completed: bool
    sr: int
    device: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def status_line(st: Status, *, programme: bool, width: int = 80) -> str:
    """One line for the runner: tempo, clock, interval, next change.

    At most ``width - 1`` characters: the least needed parts go first, so the
    line never wraps (a wrapped line is reprinted every second, one row down).
    """
    parts = _status_parts(st, programme=programme)
    detail = parts.index(st.detail) if st.detail and st.detail in parts else None
    while len(parts) > 1 and len(" · ".join(parts)) > width - 1:
        droppable = [i for i, p in enumerate(parts) if i > 0 and p != PAUSED]
        if not droppable:
            break
        last = droppable[-1]
        over = len(" · ".join(parts)) - (width - 1)
        if last == detail and len(parts[last]) - over >= MIN_DETAIL:
            parts[last] = _cut_detail(parts[last], len(parts[last]) - over)
            break
        del parts[last]
    return " · ".join(parts)[: max(1, width - 1)]


def _cut_detail(text: str, keep: int) -> str:
    """`text` in `keep` characters: a song's name cut before its BPM and stretch, if it can."""
    head, sep, rest = text.partition(" BPM ")
    name, _, bpm = head.rpartition(" ")
    tail = f" {bpm}{sep}{rest}"
    if sep and name and keep - len(tail) - 1 >= MIN_NAME:
        return name[: keep - len(tail) - 1] + "…" + tail
    return text[: keep - 1] + "…"


def _status_parts(st: Status, *, programme: bool) -> list[str]:
    parts = ["    silent" if st.silent else f"{st.spm:6.1f} spm"]
    if st.elapsed_s < 0:
        parts.append(f"count-in {format_clock(-st.elapsed_s + 0.999)}")
    else:
        parts.append(format_clock(st.elapsed_s))
        if programme:
            parts.append(f"{st.label} (round {st.cycle + 1})")
        if st.to_change_s is not None and programme:
            parts.append(f"change in {format_clock(st.to_change_s + 0.999)}")
        elif st.remaining_s is not None:
            parts.append(f"{format_clock(st.remaining_s + 0.999)} left")
    if st.detail and st.elapsed_s >= 0:  # the song last: cut first, so the clock stays
        parts.append(st.detail)
    if st.paused:
        parts.append(PAUSED)
    return parts


def apply_key(renderer: BeatRenderer, key: str) -> bool:
    """Act on one key press; False means quit."""
    if key in QUIT_KEYS:
        return False
    own_keys = getattr(renderer, "key", None)  # music: click on/off, its volume
    if own_keys is not None and own_keys(key):
        return True
    if key in KEY_NUDGES:
        renderer.nudge(KEY_NUDGES[key])
    elif key == "space":
        renderer.pause(not renderer.paused)
    return True


class Watchdog:
    """Notices a stream that stops calling back (its server or device is gone)."""

    def __init__(self, player, *, timeout_s: float = WATCHDOG_S, clock=time.monotonic) -> None:
        self.player = player
        self.timeout_s = max(timeout_s, 10 * getattr(player, "latency_s", 0.0))
        self.clock = clock
        self._seen = (-1, clock())
        self.stalled = False

    def alive(self) -> bool:
        """False once no callback has come for `timeout_s` (paused streams call back too)."""
        now = self.clock()
        count = self.player.callbacks
        if count != self._seen[0]:
            self._seen = (count, now)
        elif now - self._seen[1] > self.timeout_s:
            self.stalled = True
        return not self.stalled


def help_lines(text: str, *, width: int) -> list[str]:
    """The keys' help `text` (items between " · ") in lines under `width`
    columns, broken between items, so a narrow terminal still shows "q quit".

    Examples
    --------
    >>> help_lines("up/down ±1 spm · PgUp/PgDn ±5 · space pause · q quit", width=40)
    ['up/down ±1 spm · PgUp/PgDn ±5', 'space pause · q quit']
    """
    lines: list[str] = []
    for item in text.split(" · "):
        if lines and len(lines[-1]) + 3 + len(item) < width:
            lines[-1] += " · " + item
        else:
            lines.append(item)
    return lines


def _echo_if_possible(echo: Callable[[str], Any], text: str) -> None:
    """`echo` `text` unless the terminal is gone (closed: EIO), as it is after SIGHUP."""
    with contextlib.suppress(OSError):
        echo(text)


def play_session(
    player,  # cadence.playback.Player (not imported here: it loads sounddevice)
    *,
    interactive: bool,
    echo: Callable[[str], None],
    width: int = 80,
) -> PlayResult:
    """Play until the session ends, q, or Ctrl-C; return what was played.

    Parameters
    ----------
    player : cadence.playback.Player
        An opened, not yet started, player.
    interactive : bool
        Read keys and show a status line (needs a terminal on stdin).
    echo : callable
        Writes a status line (no newline added; it starts with a carriage return).
    width : int, keyword-only
        The terminal's width: the status line stays shorter, so it never wraps.
    """
    renderer = player.renderer
    programme = bool(renderer.session.intervals)
    completed = quit_by_user = False
    watchdog = Watchdog(player)
    player.start()
    try:
        if interactive:
            from cadence.terminal import KeyReader

            with KeyReader() as keys:
                for line in help_lines(getattr(renderer, "help_line", HELP_LINE), width=width):
                    echo(line + "\n")
                last = ""
                while player.active and watchdog.alive():
                    if not all(apply_key(renderer, k) for k in keys.read(0.1)):
                        quit_by_user = True
                        break
                    line = status_line(renderer.status(), programme=programme, width=width)
                    if line != last:
                        echo("\r" + line.ljust(len(last)))
                        last = line
                echo("\n")
        else:
            while player.active and watchdog.alive():
                time.sleep(0.1)
        completed = renderer.finished
        if completed:
            player.wait(timeout_s=max(1.0, 4 * player.latency_s))
            player.close()
    except Terminated:  # SIGTERM or SIGHUP: stopped from outside, exits as the signal would
        if interactive:  # end the status line, so "Stopped." is not glued onto it
            _echo_if_possible(echo, "\n")
        raise
    except KeyboardInterrupt:
        quit_by_user = True
        _echo_if_possible(echo, "\n")
    finally:
        stopped = player.stop()
    if quit_by_user and not stopped:
        raise AudioDeviceLostError(
            f"the audio output {player.device.name} did not stop when asked;"
            " is its sound server still running?",
            hung=True,
        )
    if not (completed or quit_by_user):
        why = (
            f"no callback for {watchdog.timeout_s:g} s" if watchdog.stalled else "its stream ended"
        )
        raise AudioDeviceLostError(
            f"the audio output {player.device.name} stopped after "
            f"{format_clock(renderer.position / renderer.sr)} ({why}); "
            "is its sound server still running?",
            hung=not stopped,
        )
    return PlayResult(
        played_s=max(0, renderer.position - renderer.count_in_samples) / renderer.sr,
        beats=renderer.beats_played,
        final_spm=renderer.status().spm,
        underruns=player.underruns,
        completed=completed,
        sr=renderer.sr,
        device=f"{player.device.name} ({player.device.hostapi})",
    )
