"""Audio-device edge: the only module that talks to sounddevice (PortAudio).

A thin adapter: :class:`Player` opens an output stream whose callback asks a
:class:`~cadence.core.render.BeatRenderer` to fill the device's buffer, counts
the underruns the stream reports, and stops the stream when the session ends.
Everything the callback does is the renderer's, which is tested with plain
numpy buffers.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from dataclasses import dataclass
from typing import Any

from cadence.core.render import BeatRenderer
from cadence.errors import AudioDeviceError, NoSuchDeviceError, ParameterError, stops_deferred

_NO_DEVICE_HINT = "render the session to a file instead with --output FILE"
#: How long stopping a stream may take before the device is taken for gone.
STOP_TIMEOUT_S = 2.0


def _device_error(reason: str) -> AudioDeviceError:
    """An AudioDeviceError that suggests --output; `.reason` holds the bare reason."""
    return AudioDeviceError(reason, hint=_NO_DEVICE_HINT)


def _sounddevice() -> Any:
    """Import sounddevice, turning a missing PortAudio into a clear error."""
    try:
        return importlib.import_module("sounddevice")
    except OSError as exc:  # sounddevice raises OSError when libportaudio is missing
        if sys.platform.startswith("linux"):
            how = "install the package libportaudio2 (sudo apt-get install libportaudio2)"
        elif sys.platform == "darwin":
            how = "reinstall sounddevice (its macOS wheel includes PortAudio)"
        else:
            how = "install PortAudio"
        raise _device_error(f"PortAudio library not found: {how}") from exc


@dataclass(frozen=True)
class OutputDevice:
    """An audio output as PortAudio lists it."""

    index: int
    name: str
    hostapi: str
    channels: int
    default_sr: int
    is_default: bool

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def list_output_devices() -> list[OutputDevice]:
    """All devices with at least one output channel.

    Raises
    ------
    AudioDeviceError
        If PortAudio is missing or cannot list devices.
    """
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_out = sd.default.device[1]
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"cannot list audio devices: {exc}") from exc
    return [
        OutputDevice(
            index=d["index"],
            name=d["name"],
            hostapi=hostapis[d["hostapi"]]["name"],
            channels=d["max_output_channels"],
            default_sr=round(d["default_samplerate"]),
            is_default=d["index"] == default_out,
        )
        for d in devices
        if d["max_output_channels"] > 0
    ]


def check_device_name(spec: str | int | None) -> None:
    """Refuse an empty `spec` (``--device ""``, a script's unset variable): ``""``
    is in every name, so it would pick one without a word.

    Raises
    ------
    NoSuchDeviceError
        If `spec` is empty or blank (exit code 2).
    """
    if spec is not None and not str(spec).strip():
        raise NoSuchDeviceError(
            "device: an empty name; give a name or an index (see cadence devices)"
        )


def choose_output_device(devices: list[OutputDevice], spec: str | int | None) -> OutputDevice:
    """Pick the device `spec` names: None for the default, an index, or part of a name.

    Raises
    ------
    AudioDeviceError
        If there is no output device.
    NoSuchDeviceError
        If `spec` is empty or matches none or several (exit code 2).
    """
    check_device_name(spec)
    text = None if spec is None else str(spec).strip()
    if not devices:
        raise _device_error("no audio output device found")
    if text is None:
        default = [d for d in devices if d.is_default]
        return default[0] if default else devices[0]
    if text.isdigit():
        for d in devices:
            if d.index == int(text):
                return d
        raise NoSuchDeviceError(f"device: no output device with index {text} (see cadence devices)")
    matches = [d for d in devices if text.lower() in f"{d.name}, {d.hostapi}".lower()]
    exact = [d for d in matches if d.name.lower() == text.lower()]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]
    default = [d for d in matches if d.is_default]
    if len(default) == 1:  # e.g. "JACK": every JACK client is listed, the default is "system"
        return default[0]
    if not matches:
        raise NoSuchDeviceError(f"device: no output device matches {text!r} (see cadence devices)")
    names = "; ".join(f"{d.index}: {d.name} ({d.hostapi})" for d in matches)
    raise NoSuchDeviceError(f"device: {text!r} matches several outputs ({names}); give its index")


class Player:
    """Play a renderer through an output device.

    Parameters
    ----------
    make_renderer : callable
        Called with the device's sample rate (Hz), returns the
        :class:`~cadence.core.render.BeatRenderer` to play.
    device : str or int, optional
        Output device (default: the system default).
    latency : str or float
        PortAudio latency: "low", "high" or seconds.
    blocksize : int
        Frames per callback; 0 lets PortAudio choose (best for latency).

    Attributes
    ----------
    renderer : BeatRenderer
    sr : int
        The stream's sample rate.
    device : OutputDevice
    underruns : int
        Callbacks whose status reported an output underflow.
    """

    def __init__(
        self,
        make_renderer: Any,
        *,
        device: str | int | None = None,
        latency: str | float = "low",
        blocksize: int = 0,
    ) -> None:
        self._sd = sd = _sounddevice()
        self.device = choose_output_device(list_output_devices(), device)
        self.sr = self.device.default_sr
        self.renderer: BeatRenderer = make_renderer(self.sr)
        self.underruns = 0
        #: Callbacks so far: the heartbeat the watchdog listens to.
        self.callbacks = 0
        self._done = threading.Event()
        if blocksize < 0:
            raise ParameterError("blocksize", f"must be 0 or more, got {blocksize}")
        try:
            self._stream = sd.OutputStream(
                samplerate=self.sr,
                device=self.device.index,
                channels=min(2, self.device.channels),
                dtype="float32",
                latency=latency,
                blocksize=blocksize,
                callback=self._callback,
                finished_callback=self._done.set,
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise _device_error(
                f"cannot open {self.device.name} ({self.device.hostapi}): {exc}"
            ) from exc

    def _callback(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        # Real-time thread: only counters and the renderer, which fills in place.
        self.callbacks += 1
        if status.output_underflow:
            self.underruns += 1
        self.renderer.render(outdata)
        if self.renderer.finished:
            raise self._sd.CallbackStop

    @property
    def latency_s(self) -> float:
        """The stream's output latency in seconds."""
        return float(self._stream.latency)

    @property
    def active(self) -> bool:
        """Whether the stream is still playing."""
        return not self._done.is_set()

    def start(self) -> None:
        try:
            self._stream.start()
        except self._sd.PortAudioError as exc:
            raise AudioDeviceError(f"cannot start {self.device.name}: {exc}") from exc

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until the session ends (True) or `timeout_s` passes (False)."""
        return self._done.wait(timeout_s)

    def stop(self, *, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """Stop now (what is buffered is dropped) and close the stream.

        Returns False if the audio library did not return within `timeout_s`
        (a server that died mid-stream can leave it waiting for ever); the
        stream is then left to the end of the process.
        """
        self._done.set()
        if self._stream.closed:
            return True

        def abort() -> None:
            with contextlib.suppress(Exception):  # a dead server: nothing more to do
                self._stream.abort()
                self._stream.close()

        worker = threading.Thread(target=abort, name="cadence-stop", daemon=True)
        worker.start()
        # A stop signal must not end the wait while the worker is inside
        # PortAudio: the exit's Pa_Terminate would close the stream a second time.
        with stops_deferred():
            worker.join(timeout_s)
        return not worker.is_alive()

    def close(self) -> None:
        """Close after a natural end (the last buffers have been played)."""
        # Whole, or a Ctrl-C between Pa_CloseStream and the pointer's reset
        # would leave a freed stream for stop() to abort.
        with stops_deferred():
            if not self._stream.closed:
                self._stream.stop()
                self._stream.close()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
