"""Choosing an output device, live keys and the status line, on plain objects."""

import numpy as np
import pytest

from cadence.core.render import BeatRenderer
from cadence.core.session import Session, parse_intervals
from cadence.errors import AudioDeviceError, NoSuchDeviceError
from cadence.live import HELP_LINE, apply_key, help_lines, status_line
from cadence.playback import choose_output_device
from tests.devices import FAKE


@pytest.mark.parametrize(
    ("spec", "index"),
    [(None, 3), ("5", 5), ("jack", 5), ("PULSE", 3), ("ALC257", 0), ("alsa", 3)],
)
def test_choose_output_device(spec, index):
    assert choose_output_device(FAKE, spec).index == index


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("9", "no output device with index 9 \\(see cadence devices\\)$"),
        ("usb", "matches"),
        ("", "device: an empty name"),  # "" is in every name: it picked one
        ("  ", "device: an empty name"),
    ],
)
def test_a_device_that_names_no_output_is_a_usage_error_without_advice_to_render(spec, message):
    with pytest.raises(NoSuchDeviceError, match=message) as caught:
        choose_output_device(FAKE, spec)
    assert caught.value.exit_code == 2 and isinstance(caught.value, AudioDeviceError)
    if not spec.strip():  # a mistake whether or not there are outputs
        with pytest.raises(NoSuchDeviceError, match="an empty name"):
            choose_output_device([], spec)


def test_no_output_at_all_suggests_rendering_to_a_file():
    with pytest.raises(AudioDeviceError, match="no audio output device found; .*--output FILE"):
        choose_output_device([], None)


def test_live_keys_steer_the_renderer():
    renderer = BeatRenderer(Session(170, duration_s=60), sr=8000)
    assert apply_key(renderer, "up")
    assert apply_key(renderer, "pageup")
    assert renderer.offset_spm == 6
    apply_key(renderer, "down")
    apply_key(renderer, "pagedown")
    assert renderer.offset_spm == 0
    apply_key(renderer, "space")
    assert renderer.paused
    apply_key(renderer, "space")
    assert not renderer.paused
    assert apply_key(renderer, "x")
    assert not apply_key(renderer, "q")
    assert not apply_key(renderer, "escape")


def test_status_line_shows_tempo_time_segment_and_next_change():
    session = Session(172, intervals=parse_intervals("run:2m,walk:1m"), repeat=3, count_in=4)
    renderer = BeatRenderer(session, sr=8000)
    assert status_line(renderer.status(), programme=True) == " 172.0 spm · count-in 0:02"
    buf = np.zeros(8000, dtype=np.float32)
    for _ in range(2 + 150):
        renderer.render(buf)
    renderer.nudge(2)
    renderer.pause()
    line = status_line(renderer.status(), programme=True)
    assert line == "    silent · 2:30 · walk (round 1) · change in 0:30 · PAUSED"
    renderer.pause(False)
    for _ in range(60):
        renderer.render(buf)
    line = status_line(renderer.status(), programme=True)
    assert line == " 174.0 spm · 3:30 · run (round 2) · change in 1:30"
    plain = BeatRenderer(Session(160, duration_s=600), sr=8000)
    plain.render(buf)
    assert status_line(plain.status(), programme=False) == " 160.0 spm · 0:01 · 9:59 left"


def test_keys_the_metronome_does_not_know_do_not_quit_it():
    renderer = BeatRenderer(Session(170), sr=8000)
    for key in ("unknown", "home", "end", "delete", "insert"):
        assert apply_key(renderer, key) is True
    assert apply_key(renderer, "escape") is False


def test_the_end_status_keeps_the_live_tempo_and_the_last_round():
    session = Session(170, intervals=parse_intervals("run:2s,walk:1s@150"), repeat=2)
    renderer = BeatRenderer(session, sr=8000)
    renderer.nudge(+1)
    renderer.nudge(+1)
    block = np.zeros(512, dtype=np.float32)
    while not renderer.finished:
        renderer.render(block)
    end = renderer.status()
    assert end.label == "end" and end.cycle == 1  # shown as round 2
    assert end.spm == pytest.approx(152.0)  # the walk's 150, raised twice


def test_the_watchdog_tells_a_stream_that_stopped_calling_back():
    from cadence.live import Watchdog

    class Player:
        callbacks = 0
        latency_s = 0.01

    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

    player, clock = Player(), Clock()
    dog = Watchdog(player, timeout_s=4.0, clock=clock)
    for _ in range(100):  # a live stream: a callback every 10 ms
        clock.now += 0.01
        player.callbacks += 1
        assert dog.alive()
    for _ in range(39):  # no callback: alive for the first 4 s, whatever the position
        clock.now += 0.1
        assert dog.alive()
    clock.now += 0.2
    assert not dog.alive() and dog.stalled


@pytest.mark.parametrize("width", [80, 60, 40, 20])
def test_the_status_line_never_wraps_a_narrow_terminal(width):
    session = Session(170, intervals=parse_intervals("run:2m,walk:1m"), repeat=10)
    renderer = BeatRenderer(session, sr=8000)
    renderer.render(np.zeros(8000 * 5, dtype=np.float32))
    renderer.pause(True)
    line = status_line(renderer.status(), programme=True, width=width)
    assert len(line) <= width - 1
    assert line.lstrip().startswith("170.0 spm")
    if width >= 20:
        assert "PAUSED" in line


@pytest.mark.parametrize("width", [80, 100])
def test_a_long_song_name_is_cut_before_its_bpm_and_stretch(width):
    import dataclasses

    session = Session(170, intervals=parse_intervals("run:2m,walk:1m"), repeat=10)
    renderer = BeatRenderer(session, sr=8000)
    renderer.render(np.zeros(8000 * 5, dtype=np.float32))
    song = "back-porch-shuffle-extended-dance-remix-of-the-year 167 BPM -0.6 %"
    line = status_line(
        dataclasses.replace(renderer.status(), detail=song), programme=True, width=width
    )
    assert len(line) <= width - 1
    assert line.endswith("… 167 BPM -0.6 %") and "back-porch" in line


class _StoppedPlayer:
    """A player whose stream is stopped by `stop` (an exception) as it starts playing."""

    callbacks = 0
    underruns = 0
    latency_s = 0.01
    device = FAKE[0]

    def __init__(self, stop: BaseException, *, stops_cleanly: bool = True) -> None:
        self.renderer = BeatRenderer(Session(170, duration_s=60), sr=8000)
        self._stop, self._stops_cleanly = stop, stops_cleanly
        self.stopped = 0

    def start(self) -> None:
        pass

    @property
    def active(self) -> bool:
        raise self._stop

    def stop(self) -> bool:
        self.stopped += 1
        return self._stops_cleanly


def test_ctrl_c_ends_a_session_with_what_was_played_and_sigterm_stops_it():
    from cadence.errors import Terminated
    from cadence.live import play_session

    player = _StoppedPlayer(KeyboardInterrupt())
    result = play_session(player, interactive=False, echo=lambda s: None)
    assert player.stopped == 1 and not result.completed  # Ctrl-C: quit, with a summary
    player = _StoppedPlayer(Terminated(15))
    with pytest.raises(Terminated):  # a SIGTERM: the stream stopped, and the process ends as killed
        play_session(player, interactive=False, echo=lambda s: None)
    assert player.stopped == 1


def test_a_stream_that_will_not_stop_when_quit_is_a_hung_device():
    from cadence.errors import AudioDeviceLostError
    from cadence.live import play_session

    player = _StoppedPlayer(KeyboardInterrupt(), stops_cleanly=False)
    with pytest.raises(AudioDeviceLostError, match="did not stop when asked") as lost:
        play_session(player, interactive=False, echo=lambda s: None)
    assert lost.value.hung  # the CLI then ends at once, past the exit handlers that would wait


@pytest.mark.parametrize("width", [20, 40, 60, 80, 200])
@pytest.mark.parametrize("command", ["metronome", "play"])
def test_the_keys_help_wraps_between_items_and_always_shows_how_to_quit(command, width):
    from cadence.core.musicrender import MusicRenderer

    text = HELP_LINE if command == "metronome" else MusicRenderer.help_line
    lines = help_lines(text, width=width)
    assert " · ".join(lines) == text  # nothing cut
    assert all(len(line) < width or " · " not in line for line in lines), lines
    assert lines[-1].endswith("q quit")
    if width >= 80:
        assert lines == [text]
