"""How a song fits a cadence, and the options of playing songs at one (standard library only).

Light on purpose: the command line reads these defaults when it starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cadence.errors import ParameterError

#: Default largest speed change (%): a DJ's pitch fader spans ±8 %.
MAX_STRETCH_PCT = 8.0
#: The most --max-stretch may be (%): beyond it a song is another song.
STRETCH_LIMIT_PCT = 50.0
#: Click choices over music: on every step, none, or with downbeats accented.
CLICK_MODES = ("on", "off", "accent")
#: The click's level over music (dB full scale).
CLICK_VOLUME_DB = -6.0


@dataclass(frozen=True)
class CadenceFit:
    """How a song fits a cadence.

    Attributes
    ----------
    steps_per_beat : int
        1 (a step on every beat) or 2 (half time: a step on every beat and
        between).
    target_bpm : float
        The song's tempo once stretched: ``spm / steps_per_beat``.
    speed : float
        Playback speed, ``target_bpm / bpm`` (> 1: faster).
    stretch_pct : float
        ``(speed - 1) * 100``.
    """

    steps_per_beat: int
    target_bpm: float
    speed: float
    stretch_pct: float


def fit_to_cadence(bpm: float, spm: float) -> CadenceFit:
    """The smaller speed change that puts a song at `bpm` on `spm` steps a minute.

    Parameters
    ----------
    bpm : float
        The song's tempo (beats a minute).
    spm : float
        The cadence (steps a minute).

    Returns
    -------
    CadenceFit
        At one step per beat or at half time, whichever needs less stretch.

    Raises
    ------
    ParameterError
        For a tempo or cadence that is not a positive number.

    Examples
    --------
    >>> fit = fit_to_cadence(167.0, 170.0)
    >>> fit.steps_per_beat, round(fit.stretch_pct, 2)
    (1, 1.8)
    >>> fit_to_cadence(88.0, 170.0).target_bpm
    85.0
    """
    for name, value in (("bpm", bpm), ("spm", spm)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ParameterError(name, f"must be a positive number, got {value!r}")
    options = [(k, spm / k) for k in (1, 2)]
    k, target = min(options, key=lambda kt: abs(math.log(kt[1] / bpm)))
    speed = target / bpm
    return CadenceFit(
        steps_per_beat=k, target_bpm=target, speed=speed, stretch_pct=(speed - 1.0) * 100.0
    )


def wider_stretch_hint(stretch_pct: float, *, outcome: str = "allow it") -> str:
    """The --max-stretch that would allow a stretch of `stretch_pct`, in words;
    or that none would, past :data:`STRETCH_LIMIT_PCT` (never a value the
    option then refuses).

    Examples
    --------
    >>> wider_stretch_hint(-12.3)
    '--max-stretch 13 would allow it'
    >>> wider_stretch_hint(68.8, outcome="take the first")
    'no --max-stretch would take the first: it goes up to 50 %'
    """
    needed = math.ceil(abs(stretch_pct) - 1e-9)
    if needed > STRETCH_LIMIT_PCT:
        return f"no --max-stretch would {outcome}: it goes up to {STRETCH_LIMIT_PCT:g} %"
    return f"--max-stretch {needed} would {outcome}"
