"""One song's plan for playing at a cadence: speed, time map, step grid (numpy).

:func:`plan_song` takes a song's beats (:mod:`cadence.core.beats`) and a
cadence and decides how it is played: one step a beat or half time
(:func:`cadence.core.songfit.fit_to_cadence`), within the largest stretch
allowed, and with which :class:`cadence.core.timemap.TimeMap`: one ratio for
a steady song, a line through the beats for one whose tempo wanders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cadence.core.beats import DRIFT_P95_MS
from cadence.core.songfit import (
    MAX_STRETCH_PCT,
    CadenceFit,
    fit_to_cadence,
    wider_stretch_hint,
)
from cadence.core.timemap import TimeMap, beat_time_map, drift_is_smooth
from cadence.errors import ParameterError

#: A song whose beats stray from its steady grid by less than this (95th
#: percentile, ms) is played at one ratio: the beat tracker's own line between
#: a steady track and one that drifts (on steady songs its misplaced beats
#: alone stray by up to ~25 ms; a map through them would follow its errors).
STEADY_P95_MS = DRIFT_P95_MS


@dataclass(frozen=True)
class SongPlan:
    """How one song is played at a cadence.

    Attributes
    ----------
    fit : CadenceFit
        Steps per beat and speed.
    steady : bool
        One ratio (True) or a map through the drifting beats (False).
    time_map : TimeMap
        Source seconds to output seconds (source 0 at output 0).
    grid_start_s : float
        Output second of grid slot 0, a beat of the song; the steps are
        ``grid_start_s + j * 60 / spm``.
    beats_s, downbeats_s : numpy.ndarray
        The song's beats and downbeats (source seconds).
    duration_s : float
        The source's length (seconds).
    """

    fit: CadenceFit
    steady: bool
    time_map: TimeMap
    grid_start_s: float
    beats_s: np.ndarray
    downbeats_s: np.ndarray
    duration_s: float

    @property
    def output_duration_s(self) -> float:
        """The stretched song's length (seconds)."""
        return float(self.time_map.to_output(self.duration_s))

    @property
    def output_beats_s(self) -> np.ndarray:
        """Where the song's beats are heard (output seconds)."""
        return self.time_map.to_output(self.beats_s)


def plan_song(
    beats_s: np.ndarray,
    *,
    first_beat_s: float,
    period_s: float,
    residual_p95_ms: float,
    duration_s: float,
    spm: float,
    downbeats_s: np.ndarray | None = None,
    max_stretch_pct: float = MAX_STRETCH_PCT,
) -> SongPlan:
    """Plan a song with a beat grid for playing at `spm` steps a minute.

    Parameters
    ----------
    beats_s : numpy.ndarray
        Its beats (seconds), as :func:`cadence.core.beats.track_beats` finds them.
    first_beat_s, period_s, residual_p95_ms : float, keyword-only
        Its fitted grid and how far the beats stray from it.
    duration_s : float, keyword-only
        Its length (seconds).
    spm : float, keyword-only
        The cadence.
    downbeats_s : numpy.ndarray, optional, keyword-only
    max_stretch_pct : float, keyword-only
        The largest speed change allowed (%, either way).

    Returns
    -------
    SongPlan

    Raises
    ------
    ParameterError
        If the song would need more than `max_stretch_pct` (named
        ``max_stretch``), or has too few beats.
    """
    beats_s = np.asarray(beats_s, dtype=np.float64)
    if len(beats_s) < 2:
        raise ParameterError("beats_s", "a song needs two or more beats to be played at a cadence")
    if not (math.isfinite(max_stretch_pct) and max_stretch_pct >= 0):
        raise ParameterError("max_stretch", f"must be a percentage >= 0, got {max_stretch_pct!r}")
    fit = fit_to_cadence(60.0 / period_s, spm)
    if abs(fit.stretch_pct) > max_stretch_pct + 1e-9:
        raise ParameterError(
            "max_stretch",
            f"the song is at {60.0 / period_s:.1f} BPM: {spm:g} spm needs a "
            f"{fit.stretch_pct:+.1f} % stretch, more than {max_stretch_pct:g} %"
            f" ({wider_stretch_hint(fit.stretch_pct)})",
        )
    steady = residual_p95_ms <= STEADY_P95_MS or not drift_is_smooth(
        beats_s, first_beat_s=first_beat_s, period_s=period_s
    )
    target_period_s = 60.0 / fit.target_bpm
    time_map = beat_time_map(
        beats_s,
        first_beat_s=first_beat_s,
        period_s=period_s,
        target_period_s=target_period_s,
        steady=steady,
    )
    anchor = first_beat_s if steady else beats_s[0]
    return SongPlan(
        fit=fit,
        steady=steady,
        time_map=time_map,
        grid_start_s=float(time_map.to_output(anchor)),
        beats_s=beats_s,
        downbeats_s=np.zeros(0) if downbeats_s is None else np.asarray(downbeats_s, np.float64),
        duration_s=float(duration_s),
    )
