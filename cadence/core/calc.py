"""Cadence maths: steps to steps-per-minute, +5 % / +10 % targets, advice.

Units: ``spm`` is steps per minute counting both feet (what coaches and
running watches call cadence); ``seconds`` is a duration in seconds.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from cadence.core.session import MAX_SPM as METRONOME_MAX_SPM
from cadence.errors import ParameterError

#: Rule of thumb: runners under about this cadence usually overstride.
RULE_OF_THUMB_SPM = 160
#: Plausible human walking/running cadence, both feet. Outside it, the count
#: or the duration is almost certainly wrong.
MIN_PLAUSIBLE_SPM = 60.0
MAX_PLAUSIBLE_SPM = 260.0
#: The coaching guidance: raise cadence by 5-10 %, starting with 5 %.
STEP_INCREASES_PCT = (5, 10)


#: A count whose one step more or less moves the cadence by more than this
#: (steps/min) is too short to practise from: a +5 % step is about 8.
COUNT_RESOLUTION_SPM = 4.0


def _real(value: float, parameter: str) -> float:
    # numbers.Real takes numpy's integers and floats too (np.int64 was refused);
    # numpy's bool is not one, Python's bool is and is refused by name.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(parameter, f"must be a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # an int of 400 digits
        raise ParameterError(parameter, "is too large to be a number") from None


def _check_finite_number(value: float, parameter: str, *, kind: str = "finite number") -> float:
    value = _real(value, parameter)
    if not math.isfinite(value):
        raise ParameterError(parameter, f"must be a {kind}, got {value!r}")
    return value


def _check_positive_number(value: float, parameter: str) -> float:
    value = _check_finite_number(value, parameter, kind="finite positive number")
    if value <= 0:
        raise ParameterError(parameter, f"must be a positive number, got {value!r}")
    return value


def _spm_text(spm: float) -> str:
    """`spm` for a message: one decimal, or three figures when that would hide it."""
    return f"{spm:.1f}" if 0.1 <= spm < 1e6 else f"{spm:.3g}"


def _per_step_text(per_step: float) -> str:
    return f"{per_step:.0f}" if per_step >= 10 else f"{per_step:.2g}"


def count_too_short(*, seconds: float, one_foot: bool = False) -> str | None:
    """Why a count over `seconds` is too coarse to practise from, or None.

    One step more or less moves the cadence by ``60 / seconds`` steps/min
    (twice that for one foot's count, which is doubled).

    Examples
    --------
    >>> count_too_short(seconds=10).split(";")[0]
    'one step more or less in a 10 s count is 6 steps/min'
    >>> count_too_short(seconds=30) is None
    True
    """
    seconds = _check_positive_number(seconds, "seconds")
    per_step = (2 if one_foot else 1) * 60.0 / seconds
    if per_step <= COUNT_RESOLUTION_SPM:
        return None
    foot = "one-foot " if one_foot else ""
    return (
        f"one step more or less in a {seconds:g} s {foot}count is"
        f" {_per_step_text(per_step)} steps/min;"
        " count for 30-60 s for a figure to practise from"
    )


def check_plausible_spm(spm: float, *, parameter: str = "spm") -> float:
    """Return `spm` as a float if it is a plausible human cadence.

    Parameters
    ----------
    spm : float
        Cadence in steps per minute (both feet).
    parameter : str
        Name of the parameter to blame in the error message.

    Raises
    ------
    ParameterError
        If `spm` is not a finite number in [60, 260].
    """
    spm = _check_positive_number(spm, parameter)
    if not MIN_PLAUSIBLE_SPM <= spm <= MAX_PLAUSIBLE_SPM:
        raise ParameterError(
            parameter,
            f"{spm:g} steps/min is outside the plausible human range "
            f"{MIN_PLAUSIBLE_SPM:g}-{MAX_PLAUSIBLE_SPM:g}",
        )
    return spm


def steps_to_spm(steps: float, *, seconds: float = 60.0, one_foot: bool = False) -> float:
    """Cadence in steps per minute from a step count over a duration.

    Parameters
    ----------
    steps : float
        Steps counted. With ``one_foot=True`` these are one foot's ground
        contacts (the usual coaching method), which are doubled.
    seconds : float, keyword-only
        How long the count lasted, in seconds (default 60).
    one_foot : bool, keyword-only
        Whether `steps` counts one foot only.

    Returns
    -------
    float
        Steps per minute, both feet, unrounded.

    Raises
    ------
    ParameterError
        If `steps` or `seconds` is not positive, or the result is outside the
        plausible human range (60-260 spm).

    Examples
    --------
    >>> steps_to_spm(78, one_foot=True)
    156.0
    >>> steps_to_spm(41, seconds=15)
    164.0
    """
    steps = _check_positive_number(steps, "steps")
    seconds = _check_positive_number(seconds, "seconds")
    spm = steps * (2 if one_foot else 1) * 60.0 / seconds
    if not MIN_PLAUSIBLE_SPM <= spm <= MAX_PLAUSIBLE_SPM:
        counted = f"{steps:g} {'one-foot ' if one_foot else ''}steps in {seconds:g} s"
        raise ParameterError(
            "steps",
            f"{counted} gives {_spm_text(spm)} steps/min, outside the plausible human range "
            f"{MIN_PLAUSIBLE_SPM:g}-{MAX_PLAUSIBLE_SPM:g}; check the count and --seconds",
        )
    return spm


def round_half_up(x: float, *, ndigits: int = 0) -> float:
    """Round like people do (2.5 -> 3), not like :func:`round` (2.5 -> 2).

    The value goes through its shortest decimal repr first, so 163.85 is
    treated as the decimal 163.85 and not as 163.8499999.... Infinities and
    NaN are returned as they are, as :func:`round` does with `ndigits`.

    Raises
    ------
    ParameterError
        If `x` is not a real number or `ndigits` not a whole number.

    Examples
    --------
    >>> round_half_up(2.5), round_half_up(163.85, ndigits=1), round(2.5)
    (3.0, 163.9, 2)
    """
    x = _real(x, "x")
    if isinstance(ndigits, bool) or not isinstance(ndigits, numbers.Integral):
        raise ParameterError("ndigits", f"must be a whole number, got {ndigits!r}")
    if not math.isfinite(x):
        return x
    quantum = Decimal(1).scaleb(-ndigits)
    return float(Decimal(repr(x)).quantize(quantum, rounding=ROUND_HALF_UP))


def target_spm(cadence_spm: float, increase_pct: float) -> int:
    """The cadence `increase_pct` percent above `cadence_spm`, to whole spm.

    Raises
    ------
    ParameterError
        If `cadence_spm` is not a positive number, or `increase_pct` not a
        finite number above -100 (a cut of 100 % or more leaves no cadence).

    Examples
    --------
    >>> target_spm(156.0, 5), target_spm(156.0, 10)
    (164, 172)
    """
    cadence_spm = _check_positive_number(cadence_spm, "cadence_spm")
    increase_pct = _check_finite_number(increase_pct, "increase_pct")
    if increase_pct <= -100:
        raise ParameterError("increase_pct", f"must be above -100 (%), got {increase_pct:g}")
    raised = Decimal(repr(cadence_spm)) * (1 + Decimal(repr(increase_pct)) / 100)
    return int(raised.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class CadenceReport:
    """A measured cadence with its targets and advice.

    Attributes
    ----------
    cadence_spm : float
        Current cadence, steps per minute, one decimal.
    target_5_spm, target_10_spm : int or None
        The +5 % and +10 % targets, whole steps per minute; None for a target
        above :data:`METRONOME_MAX_SPM` (240), which no one needs to practise
        and the metronome does not play.
    below_rule_of_thumb : bool
        Whether the cadence is under :data:`RULE_OF_THUMB_SPM` (about 160 spm).
        In JSON its key is ``below_160``, kept for scripts written against
        earlier versions.
    advice : list of str
        Short coaching advice, in reading order.
    source : dict
        How the cadence was obtained (e.g. steps, seconds, one_foot).
    """

    cadence_spm: float
    target_5_spm: int | None
    target_10_spm: int | None
    below_rule_of_thumb: bool
    advice: list[str] = field(default_factory=list)
    source: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field (``below_rule_of_thumb`` as ``below_160``)."""
        return {
            ("below_160" if k == "below_rule_of_thumb" else k): v for k, v in asdict(self).items()
        }


def advice_for(cadence_spm: float, *, target_5_spm: int | None) -> list[str]:
    """Short advice grounded in the usual coaching guidance (no medical claims).

    It only suggests what the other commands do: no target (and no metronome)
    above :data:`METRONOME_MAX_SPM`.
    """
    lines = []
    if target_5_spm is None:
        return [
            f"{cadence_spm:g} steps/min is already a very high cadence: there is no need to "
            "raise it, and +5 % would be above the "
            f"{METRONOME_MAX_SPM:g} steps/min the metronome plays.",
            "If this is not what you counted, check the count and --seconds.",
            "If pain persists, see a physiotherapist.",
        ]
    if cadence_spm < RULE_OF_THUMB_SPM:
        lines.append(
            f"You are under the ~{RULE_OF_THUMB_SPM} steps/min rule of thumb. A 5-10 % higher "
            "step rate shortens each stride and lowers the load on your knees."
        )
    else:
        lines.append(
            f"You are at or above the ~{RULE_OF_THUMB_SPM} steps/min rule of thumb. Raising it "
            "is optional; if your knees complain, a 5 % increase is still worth trying."
        )
    lines += [
        f"Start with +5 % ({target_5_spm} steps/min): practise with the metronome "
        f"(cadence metronome {target_5_spm}) or music at that tempo.",
        "Expect 4-6 weeks of practice before the new cadence feels natural; "
        "then consider the next 5 %.",
        "Keep distance, speed and terrain unchanged while you adjust.",
        "If pain persists, see a physiotherapist.",
    ]
    return lines


def cadence_report(cadence_spm: float, *, source: dict | None = None) -> CadenceReport:
    """Targets and advice for a current cadence.

    Parameters
    ----------
    cadence_spm : float
        Current cadence in steps per minute (both feet).
    source : dict, optional
        How it was measured; copied into the report.

    Raises
    ------
    ParameterError
        If the cadence is outside the plausible human range, or `source` is
        not a mapping.

    Examples
    --------
    >>> r = cadence_report(156.0)
    >>> r.target_5_spm, r.target_10_spm, r.below_rule_of_thumb
    (164, 172, True)
    """
    cadence_spm = check_plausible_spm(cadence_spm, parameter="spm")
    if source is not None and not isinstance(source, Mapping):
        raise ParameterError(
            "source", f"must be a dict (how it was measured), got {reprlib.repr(source)}"
        )
    shown_spm = round_half_up(cadence_spm, ndigits=1)
    # Targets from the one-decimal figure the runner sees, so the two agree.
    t5, t10 = (target_spm(shown_spm, pct) for pct in STEP_INCREASES_PCT)
    t5, t10 = (t if t <= METRONOME_MAX_SPM else None for t in (t5, t10))
    return CadenceReport(
        cadence_spm=shown_spm,
        target_5_spm=t5,
        target_10_spm=t10,
        below_rule_of_thumb=shown_spm < RULE_OF_THUMB_SPM,
        advice=advice_for(shown_spm, target_5_spm=t5),
        source=dict(source or {}),
    )
