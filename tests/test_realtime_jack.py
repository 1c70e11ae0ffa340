"""Real-time playback through a real JACK server (dummy driver), recorded by a
second JACK client: every beat must arrive at its exact sample.

The Makefile installs jackd2 (Debian). The test starts its own server under a
unique name and always stops it.
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.realtime

if not sys.platform.startswith("linux"):
    pytest.skip("the JACK dummy-driver test runs on Linux only", allow_module_level=True)

jack = pytest.importorskip("jack", reason="JACK-Client is a test extra: make test installs it")

SR = 48000
PERIOD = 256


@pytest.fixture
def jack_server(jack_process):
    return jack_process[0]


@pytest.fixture
def jack_process():
    """A JACK server of the test's own (dummy driver): (its name, its process)."""
    jackd = shutil.which("jackd")
    assert jackd, "jackd not found: install the Debian package jackd2 (make test does)"
    name = f"cadence-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    proc = subprocess.Popen(
        # -S: synchronous, so every client's period is waited for (no dropped cycles on
        # a loaded CI machine); --no-realtime: no scheduling privileges needed.
        [jackd, "--no-realtime", "-S", "-n", name, "-d", "dummy", "-r", str(SR), "-p", str(PERIOD)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                probe = jack.Client("probe", servername=name, no_start_server=True)
                probe.close()
                break
            except jack.JackError:
                assert proc.poll() is None, f"jackd exited: {proc.stdout.read().decode()}"
                assert time.monotonic() < deadline, "jackd did not start in 20 s"
                time.sleep(0.1)
        yield name, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # libjack leaves its clients' semaphores of a stopped server behind: ours go.
        for sem in Path("/dev/shm").glob(f"jack_sem.*_{name}_*"):
            sem.unlink(missing_ok=True)


class Recorder:
    """A JACK client that records whatever is connected to its input."""

    def __init__(self, server, seconds):
        self.client = jack.Client("cadence-recorder", servername=server, no_start_server=True)
        self.port = self.client.inports.register("in")
        self.buffer = np.zeros(int(seconds * SR), dtype=np.float32)
        self.pos = 0
        self.client.set_process_callback(self._process)

    def _process(self, frames):
        data = self.port.get_array()
        n = min(frames, len(self.buffer) - self.pos)
        self.buffer[self.pos : self.pos + n] = data[:n]
        self.pos += n

    def connect_first_output(self, exclude, timeout_s=20):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ports = [
                p
                for p in self.client.get_ports(is_audio=True, is_output=True)
                if not p.name.startswith(("system:", "cadence-recorder:"))
            ]
            if ports:
                self.client.connect(ports[0], self.port)
                return ports[0].name
            if exclude.poll() is not None:
                break
            time.sleep(0.001)
        raise AssertionError("the metronome never registered a JACK output port")


def record_cadence(jack_server, cadence_cmd, subprocess_env, args, *, seconds, timeout_s=180):
    """Run ``cadence ARGS --device JACK --json`` while a second client records it.

    Returns (return code, its JSON summary or None, its stderr, the recording).
    """
    import json

    recorder = Recorder(jack_server, seconds=seconds)
    recorder.client.activate()
    try:
        env = {**subprocess_env, "JACK_DEFAULT_SERVER": jack_server, "JACK_NO_START_SERVER": "1"}
        proc = subprocess.Popen(
            [*cadence_cmd, *args, "--device", "JACK", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        connected = threading.Thread(target=recorder.connect_first_output, args=(proc,))
        connected.start()
        out, err = proc.communicate(timeout=timeout_s)
        connected.join()
        time.sleep(0.5)
    finally:
        recorder.client.deactivate()
        recorder.client.close()
    summary = json.loads(out) if proc.returncode == 0 else None
    return proc.returncode, summary, err, recorder.buffer[: recorder.pos]


def test_metronome_plays_every_beat_on_its_sample_through_jack(
    jack_server, cadence_cmd, subprocess_env
):
    spm, duration_s, count_in = 172, 15, 2
    args = ["metronome", str(spm), "--duration", f"{duration_s}s", "--count-in", str(count_in)]
    code, summary, err, signal = record_cadence(
        jack_server, cadence_cmd, subprocess_env, args, seconds=duration_s + 10, timeout_s=120
    )
    assert code == 0, err
    assert summary["completed"] is True
    # PortAudio reports the dummy driver's own xruns (its timer runs late on a busy,
    # non-real-time machine; seen even with an empty callback) as output underflows.
    # With -S the graph still runs every period, so the recording stays continuous:
    # the count is reported, and the samples below are what is checked.
    assert isinstance(summary["underruns"], int)
    assert summary["sr"] == SR

    nz = np.flatnonzero(signal != 0)
    assert len(nz), "nothing was recorded"
    starts = np.concatenate([nz[:1], nz[1:][np.diff(nz) > 1]])
    # The count-in beep (-6 dB) is louder than a plain click (-11 dB): tell them apart
    # by the peak of their first 5 ms.
    peaks = np.array([np.abs(signal[n : n + SR // 200]).max() for n in starts])
    count_in_onsets = starts[peaks > 0.4]
    beat_onsets = starts[peaks <= 0.4]

    expected_beats = sum(1 for k in range(1000) if round(k * 60 * SR / spm) < duration_s * SR)
    assert len(beat_onsets) == expected_beats, (len(beat_onsets), expected_beats)
    assert 1 <= len(count_in_onsets) <= count_in  # the recorder may connect a little late
    assert count_in_onsets.max() < beat_onsets.min()

    # Every interval, the count-in included, within 1 sample of 60*sr/spm.
    ideal = 60 * SR / spm
    intervals = np.diff(np.concatenate([count_in_onsets, beat_onsets]))
    assert np.abs(intervals - ideal).max() <= 1, intervals
    # And no drift: beat k lies at its exact offset from the first beat.
    k = np.arange(len(beat_onsets))
    offsets = beat_onsets - beat_onsets[0]
    np.testing.assert_array_equal(offsets, np.round(k * ideal).astype(int))
    assert summary["beats"] == expected_beats + count_in


def _playing_metronome(server, cadence_cmd, subprocess_env):
    """`cadence metronome 170` for ten minutes through the JACK server `server`, playing."""
    env = {**subprocess_env, "JACK_DEFAULT_SERVER": server, "JACK_NO_START_SERVER": "1"}
    metronome = subprocess.Popen(
        [*cadence_cmd, "metronome", "170", "--duration", "10m", "--device", "JACK"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    line = metronome.stderr.readline()
    assert line.startswith("Playing 170 spm"), line
    return metronome


def test_a_server_that_dies_mid_session_ends_it_with_one_line(
    jack_process, cadence_cmd, subprocess_env
):
    name, jackd = jack_process
    metronome = _playing_metronome(name, cadence_cmd, subprocess_env)
    time.sleep(1.0)
    # The server goes away (SIGTERM: a server killed with SIGKILL stays in JACK's
    # shared registry, which holds only a few, and later servers fail to start).
    jackd.terminate()  # the metronome used to wait for it for ever
    # Generous: the watchdog ends it a few seconds after the last callback.
    _, err = metronome.communicate(timeout=60)
    assert metronome.returncode == 1, err
    assert err.startswith("Error: the audio output ") and "stopped after" in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_to_a_playing_metronome_stops_it_with_no_summary(
    signum, code, jack_server, cadence_cmd, subprocess_env
):
    metronome = _playing_metronome(jack_server, cadence_cmd, subprocess_env)
    time.sleep(1.0)  # playing (landing earlier, the signal must do the same)
    metronome.send_signal(signum)
    out, err = metronome.communicate(timeout=60)
    # Stopped from outside, as killed: it used to be taken for a Ctrl-C (exit 0, a summary).
    assert metronome.returncode == code, err
    assert err.endswith("Stopped.\n") and "Traceback" not in err
    assert out == ""


@pytest.mark.parametrize("how", ["terminal closed", "SIGTERM"])
def test_a_metronome_on_a_terminal_stopped_from_outside_exits_as_the_signal(
    how, jack_server, cadence_cmd, subprocess_env
):
    from tests.tty import TerminalSession, read_until

    env = {**subprocess_env, "JACK_DEFAULT_SERVER": jack_server, "JACK_NO_START_SERVER": "1"}
    args = [*cadence_cmd, "metronome", "170", "--duration", "10m", "--device", "JACK"]
    with TerminalSession(args, env) as metronome:
        assert b" left" in read_until(metronome.leader, b" left"), "no status line"  # playing
        code, shown = metronome.stop(how)
    assert code == (143 if how == "SIGTERM" else 129)  # 129 was 1: the lost terminal's EIO
    assert how != "SIGTERM" or (b"\r\nStopped.\r\n" in shown and b"leftStopped." not in shown)


def test_play_through_jack_sounds_the_offline_session_sample_for_sample(
    jack_server, cadence_cmd, subprocess_env
):
    """60 s of two songs and their transitions, live: the recording is the rendered session."""
    from cadence.analysis import analyze_file
    from cadence.mixer import MusicSession
    from cadence.songs import choose_songs
    from tests.conftest import REPO

    songs = [str(REPO / "audio" / n) for n in ("sunrise-run.mp3", "neon-stride.ogg")]
    spm, count_in = 165, 2
    chosen, _ = choose_songs([analyze_file(p) for p in songs], spm, max_stretch_pct=8.0)
    session = MusicSession(chosen, spm, duration_s=60.0, count_in=count_in, sr=SR)
    assert len(session.placements) >= 3  # the two songs, the first again: two transitions
    music = np.concatenate(list(session.music()))
    click = np.zeros_like(music)
    session.click_renderer().render(click)
    expected = np.clip(music + click, -1, 1)[:, 0]

    args = ["play", str(spm), *songs, "--count-in", str(count_in), "--duration", "60s"]
    code, summary, err, recorded = record_cadence(
        jack_server, cadence_cmd, subprocess_env, args, seconds=len(expected) / SR + 20
    )
    assert code == 0, err
    assert summary["completed"] is True and summary["sr"] == SR
    assert summary["music_late_s"] == 0.0  # the producer kept ahead all the way
    start = int(np.flatnonzero(recorded != 0)[0])
    # The recorder connects a little after the first sound: find where it came in.
    probe_at = start + SR
    lag = probe_at - _find(expected, recorded[probe_at : probe_at + 4096])
    lo, hi = max(0, start - lag), min(len(expected), len(recorded) - lag)
    got, want = recorded[lo + lag : hi + lag], expected[lo:hi]
    n = len(got)
    assert n > len(expected) - 5 * SR  # nearly all of the session was heard
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.max(np.abs(got)) > 0.1  # the music is there, not only clicks


def _find(haystack: np.ndarray, needle: np.ndarray) -> int:
    """Where `needle` occurs exactly in `haystack` (first sample)."""
    first = np.flatnonzero(np.abs(haystack - needle[0]) < 1e-7)
    for i in first:
        if i + len(needle) <= len(haystack) and np.allclose(
            haystack[i : i + len(needle)], needle, atol=1e-6
        ):
            return int(i)
    raise AssertionError("the recording does not hold the session")
