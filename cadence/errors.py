"""The one exception hierarchy of :mod:`cadence`.

Every error a user can cause is a :class:`CadenceError`. Its message names the
parameter or file at fault; the CLI prints it as ``Error: <message>`` and exits
with :attr:`CadenceError.exit_code`, never with a traceback. Messages name
Python parameters (a :class:`ParameterError`'s ``parameter``, and others in
backquotes, e.g. ```ramp_over_s```); the CLI shows its option names instead.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class CadenceError(Exception):
    """Base class of every error raised by :mod:`cadence` on purpose."""

    #: Process exit code the CLI uses for this error.
    exit_code: int = 1


class ParameterError(CadenceError, ValueError):
    """A parameter is out of range, malformed, or contradicts another one.

    Exit code 2, like a command-line usage error.
    """

    exit_code = 2

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        #: The message without the parameter's name in front.
        self.detail = message
        super().__init__(f"{parameter}: {message}")


class AudioDeviceError(CadenceError):
    """No usable audio output (missing PortAudio, no device, device refused).

    Parameters
    ----------
    reason : str
        What is wrong, without advice (shown where the caller has its own plan B).
    hint : str, optional
        What to do instead; the message is ``"<reason>; <hint>"``.
    """

    def __init__(self, reason: str, *, hint: str | None = None) -> None:
        self.reason = reason
        super().__init__(f"{reason}; {hint}" if hint else reason)


class NoSuchDeviceError(AudioDeviceError):
    """``--device`` names no output, or several: a mistake in the options (exit
    code 2), and still no usable output, so ``--fallback-output`` renders instead."""

    exit_code = 2


class AudioDeviceLostError(AudioDeviceError):
    """The audio output stopped in the middle of a session (server or device gone).

    `hung` is True when the stream could not even be stopped: the audio
    library is stuck, and the process should end without waiting for it.
    """

    def __init__(self, reason: str, *, hung: bool = False) -> None:
        self.hung = hung
        super().__init__(reason)


class AudioFileError(CadenceError):
    """An audio file cannot be read, decoded or written; the message names it."""


class ActivityFileError(CadenceError):
    """A recorded activity (FIT, GPX, TCX) cannot be used; the message names it."""


#: Signals that stop a command as Ctrl-C does, raised as :class:`Terminated`.
STOP_SIGNALS = ("SIGTERM", "SIGHUP")


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Python runs, so they stop work as Ctrl-C does.

    Every clean-up that runs on Ctrl-C (temporary files, worker processes, the
    terminal's settings) runs on these too. A subclass of KeyboardInterrupt for
    that reason; `signum` is the signal.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signum)


# A stop signal's exception can be swallowed where Python cannot raise it: in
# a C library's callback into Python (soundfile reads through one), where it
# is printed as "Exception ignored" and dropped. The handlers note the stop
# here too, and long loops call :func:`raise_if_stopped`.
_stop: KeyboardInterrupt | None = None


def note_stop(exc: KeyboardInterrupt | None) -> None:
    """Remember a stop the signal handler raises (None forgets it: a new command)."""
    global _stop
    _stop = exc


def raise_if_stopped() -> None:
    """Raise again a stop that was noted but swallowed on the way (not inside
    :func:`stops_deferred`, which raises it at its end)."""
    if _stop is not None and not _deferring:
        raise type(_stop)(*_stop.args)


# A stop raised in the middle of a C library's close can free a handle twice:
# soundfile's close frees the SNDFILE, then sets its Python attribute to None,
# and a handler that raises between the two leaves a handle its destructor
# frees again ("double free detected", an abort instead of the clean-up).
_deferring = 0
_deferred: KeyboardInterrupt | None = None


@contextlib.contextmanager
def stops_deferred() -> Iterator[None]:
    """Hold back a stop signal's exception (Ctrl-C, SIGTERM, SIGHUP) while the
    block runs, and raise it at its end: for closing a C library's handle, which
    must run to its end once. Blocks nest; in a thread other than the main one
    (where signal handlers never run) it does nothing.
    """
    global _deferring, _deferred
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _deferred is not None:
            held, _deferred = _deferred, None
            raise held


def raise_stop(exc: KeyboardInterrupt) -> None:
    """What a stop signal's handler does with its exception: raise it now, or,
    inside :func:`stops_deferred`, at the block's end."""
    global _deferred
    if _deferring:
        _deferred = exc
        return
    raise exc
