"""The `cadence` command line: each command parses, calls the library, prints.

One module per group of commands (:mod:`.calculator`: calc, plan, tap;
:mod:`.metronome`: metronome, devices; :mod:`.analyzer`: bpm, scan) and one
that prints (:mod:`.output`). This module holds the group, the options the
commands share, the exit statuses and the turning of a :class:`CadenceError`
into ``Error: …``.

Start-up matters (``cadence calc`` should answer at once), so the command
modules import only click and light parts of :mod:`cadence` at the top; every
command imports what it needs inside its function, and nothing imports
librosa, numpy, rich or sounddevice at start-up.
"""

from __future__ import annotations

import enum
import os
import re
import sys
from typing import Any

# One thread per process for the numeric libraries: the analyzer parallelises
# over files (--jobs), and BLAS threads on small matrices only burn CPU.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import click  # noqa: E402

from cadence import __version__  # noqa: E402
from cadence.errors import (  # noqa: E402
    STOP_SIGNALS,
    CadenceError,
    ParameterError,
    Terminated,
    note_stop,
    raise_stop,
)


class ExitStatus(enum.IntEnum):
    """The process exit codes of `cadence`."""

    OK = 0
    #: A file could not be used, a device failed: the message says which.
    ERROR = 1
    #: A bad option or argument (click's own usage errors exit 2 too).
    USAGE = 2
    #: Stopped with Ctrl-C.
    INTERRUPTED = 130


#: The library's parameter names and the options that set them, where the
#: option is not the parameter's name with dashes for underscores.
OPTION_NAMES = {
    "duration_s": "duration",
    "ramp_from_spm": "ramp-from",
    "ramp_over_s": "ramp-over",
    "volume_db": "volume",
    "tolerance_spm": "tolerance",
    "target_spm": "target",
    "current_spm": "current",
    "goal_spm": "goal",
    "weeks_per_stage": "weeks",
    "start_date": "start",
}
_QUOTED_NAME = re.compile(r"`([a-z][a-z0-9_]*)`")


def option_name(parameter: str) -> str:
    """The option (without dashes) that sets the library's `parameter`.

    Examples
    --------
    >>> option_name("ramp_over_s"), option_name("count_in")
    ('ramp-over', 'count-in')
    """
    return OPTION_NAMES.get(parameter, parameter.replace("_", "-"))


def error_message(exc: CadenceError) -> str:
    """`exc`'s message in the command line's words: option names for parameter names."""
    if isinstance(exc, ParameterError):
        text = f"{option_name(exc.parameter)}: {exc.detail}"
    else:
        text = str(exc)
    return _QUOTED_NAME.sub(lambda m: f"--{option_name(m.group(1))}", text)


_stopping = False


def _ignore_further_stops() -> None:
    """Once stopping, stop once: a second Ctrl-C must not break the clean-up, nor
    the interpreter's own shutdown ("Exception ignored ... KeyboardInterrupt")."""
    import signal

    global _stopping
    _stopping = True
    for name in ("SIGINT", *STOP_SIGNALS):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def _interrupted(signum: int, frame: Any) -> None:
    _ignore_further_stops()
    note_stop(KeyboardInterrupt())
    raise_stop(KeyboardInterrupt())


def _terminated(signum: int, frame: Any) -> None:
    _ignore_further_stops()
    note_stop(Terminated(signum))
    raise_stop(Terminated(signum))


def _quiet_about_stops(unraisable: Any) -> None:
    """A stop raised inside a C library's callback is dropped there ("Exception
    ignored ..." and a traceback): say nothing, it is raised again outside."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        return
    sys.__unraisablehook__(unraisable)


def catch_stop_signals() -> dict:
    """Ctrl-C raises KeyboardInterrupt, SIGTERM and SIGHUP :class:`Terminated`, each once:
    temporaries, workers and the terminal are cleaned up, and further signals
    are ignored while that happens. Returns the handlers it replaced."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    note_stop(None)
    sys.unraisablehook = _quiet_about_stops
    wanted = {signal.SIGINT: _interrupted}
    wanted.update({getattr(signal, n): _terminated for n in STOP_SIGNALS if hasattr(signal, n)})
    return {sig: signal.signal(sig, handler) for sig, handler in wanted.items()}


def restore_signals(previous: dict) -> None:
    """Put back the handlers :func:`catch_stop_signals` replaced (a command run in-process)."""
    import signal

    for sig, handler in previous.items():
        signal.signal(sig, handler)


class CadenceGroup(click.Group):
    """A click group that turns :class:`CadenceError` into ``Error: …`` and an exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Output that cannot be written (> /dev/full, a full disk), from a
        # command or from --help and --version, which run before `invoke`.
        try:
            return super().main(*args, **kwargs)
        except OSError as exc:
            if isinstance(exc, BrokenPipeError) or not _writing_stdout(exc):
                raise  # `cadence … | head`: click's main exits quietly
            _discard(sys.stdout)  # the interpreter's flush at exit must not fail again
            reason = exc.strerror or str(exc)
            click.echo(f"Error: cannot write the output (standard output): {reason}", err=True)
            sys.exit(ExitStatus.ERROR)

    def invoke(self, ctx: click.Context) -> Any:
        previous = catch_stop_signals()
        try:
            result = super().invoke(ctx)
            if sys.stdout is not None:  # None: started with it closed (>&-)
                sys.stdout.flush()  # a full disk or a gone terminal is met here, not at exit
            return result
        except CadenceError as exc:
            from cadence.cli.output import for_stderr

            click.echo(for_stderr(f"Error: {error_message(exc)}"), err=True)
            ctx.exit(exc.exit_code)
        except Terminated as exc:  # exit as the signal would, after the clean-up
            _say_if_possible("Stopped.")
            ctx.exit(128 + exc.signum)
        except KeyboardInterrupt:  # Ctrl-C outside a command's own handling
            _say_if_possible("Interrupted.")
            ctx.exit(ExitStatus.INTERRUPTED)
        finally:
            if not _stopping:  # once stopping, they stay ignored to the process's end
                restore_signals(previous)


def _writing_stdout(exc: OSError) -> bool:
    """Whether `exc` was raised writing to standard output (``> /dev/full``, a
    full disk, a terminal gone): the frame that raised holds the stream, its
    ``write``, or a rich console printing to it. A file the tool writes itself
    has its own message (files.py)."""
    streams = {id(sys.stdout), id(sys.__stdout__)}
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    for value in tb.tb_frame.f_locals.values():
        try:
            held = (value, getattr(value, "__self__", None), getattr(value, "file", None))
        except Exception:  # a property that fails: not a stream
            continue
        if any(id(h) in streams for h in held):
            return True
    return False


def _say_if_possible(text: str) -> None:
    """`text` on standard error, unless the terminal is gone (closed: SIGHUP, then
    EIO): the exit status must still say which signal stopped the command."""
    try:
        click.echo(text, err=True)
    except OSError:
        _discard(sys.stderr)
        _discard(sys.stdout)


def _discard(stream: Any) -> None:
    """Point `stream`'s file descriptor at /dev/null (nothing more can reach it)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (CliRunner)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


#: A file argument the command opens itself: a missing or unreadable one is that
#: file's own error line, not a usage error that stops every other file
#: (click checks readability only as the user running it, and not as root).
INPUT_PATH = click.Path(readable=False)
#: A file the command writes: not a folder; whether it may be replaced is the
#: command's check (cadence.files.check_replaceable), not click's.
OUTPUT_PATH = click.Path(dir_okay=False, readable=False)


def refuse_a_song(
    target: str, sources, *, parameter: str = "output", same: str = "is one of the songs"
) -> None:
    """Refuse, even with --force, an output that is a song read or a file in a folder read.

    Parameters
    ----------
    target : str
        The file to be written.
    sources : iterable of str
        The songs and folders the command reads.
    parameter : str, keyword-only
        The option that named `target`.
    same : str, keyword-only
        What the message says when `target` is one of `sources`.
    """
    if not os.path.exists(target):
        return
    real = os.path.realpath(target)
    for source in sources:
        if not os.path.exists(source):
            continue
        if os.path.samefile(target, source):
            from cadence.songs import PLAYLIST_SUFFIXES

            if source.lower().endswith(PLAYLIST_SUFFIXES):
                same = "is a playlist being played"
            raise ParameterError(parameter, f"{target} {same}; give another name")
        if os.path.isdir(source) and real.startswith(os.path.realpath(source) + os.sep):
            raise ParameterError(
                parameter,
                f"{target} is in {source}, a folder being played (its files are read as"
                " songs); write outside it",
            )


#: The most worker processes a scan starts (each holds a decoder and a song).
MAX_JOBS = 64


def default_jobs() -> int:
    """Worker processes when --jobs is not given: the CPUs this process may run
    on (``taskset``, a container's CPU set), not every CPU of the machine
    (a CPU quota alone is not seen)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        usable = os.cpu_count() or 1
    return max(1, min(MAX_JOBS, usable))


def jobs_option(help: str, *flags: str) -> Any:
    """The ``--jobs`` option of a command that scans folders: 1 to :data:`MAX_JOBS`."""
    return click.option(
        "--jobs", *flags, type=click.IntRange(1, MAX_JOBS), help=f"{help}  [default: CPUs usable]"
    )


def json_option(help: str) -> Any:
    """The ``--json`` flag, as ``as_json``."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def voice_option(help: str) -> Any:
    """The ``--voice`` choice of the metronome's sounds, as ``voice``."""
    from cadence.core.session import VOICES

    return click.option(
        "--voice", type=click.Choice(VOICES), default="click", show_default=True, help=help
    )


@click.group(cls=CadenceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cadence")
def main() -> None:
    """Raise your running cadence (steps per minute) to take load off your knees.

    \b
    Count your steps for a minute, then:
      cadence calc --steps 78 --one-foot     current cadence and +5/+10 % targets
      cadence plan --current 156             a week-by-week progression
      cadence tap                            measure cadence by tapping a key
    \b
    Then practise at the new cadence:
      cadence metronome 164                  a beat at 164 steps a minute
      cadence scan ~/Music --target 164      the songs of a folder that fit
      cadence play 164 ~/Music               your songs at exactly 164
    """


# The commands register themselves on `main`.
from cadence.cli import analyzer, calculator, metronome, music  # noqa: E402, F401
