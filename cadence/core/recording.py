"""A recorded activity as read from a file: its records, its sport, and the time
and distance each record stands for.

Pure: :mod:`cadence.activity` fills a :class:`Recording` from FIT, GPX or TCX;
:mod:`cadence.core.activity` finds the cadence in it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from cadence.errors import ActivityFileError

#: A record never stands for more than this many seconds.
MAX_RECORD_S = 10.0

#: Sports whose cadence is steps, by the kind of activity they are.
STEP_SPORTS = {
    "running": "run",
    "trail_running": "run",
    "treadmill_running": "run",
    "track_running": "run",
    "walking": "walk",
    "hiking": "walk",
    "mountaineering": "walk",
}
#: Sports that say nothing about what the cadence counts; the data decides.
NEUTRAL_SPORTS = {"generic", "training", "fitness_equipment", "all", "other", "transition"}
#: What other sports' cadence counts, for the refusal message.
NON_STEP_CADENCE = {
    "cycling": "pedal revolutions per minute",
    "e_biking": "pedal revolutions per minute",
    "rowing": "strokes per minute",
    "paddling": "strokes per minute",
    "kayaking": "strokes per minute",
    "swimming": "strokes per minute",
}
_SPORT_ALIASES = {
    "run": "running",
    "trailrun": "running",
    "virtualrun": "running",
    "walk": "walking",
    "hike": "hiking",
    "biking": "cycling",
    "bike": "cycling",
    "ride": "cycling",
    "virtualride": "cycling",
    "mountain_biking": "cycling",
    "road_biking": "cycling",
    "ebikeride": "e_biking",
    "swim": "swimming",
    "rowing_machine": "rowing",
    # Strava's older GPX exports give the activity type as a number.
    "1": "cycling",
    "9": "running",
}


def normalize_sport(name: str | None) -> str | None:
    """A file's sport name in FIT's spelling (``running``, ``cycling`` …), or None.

    Examples
    --------
    >>> normalize_sport("Running"), normalize_sport("Biking"), normalize_sport("Ride")
    ('running', 'cycling', 'cycling')
    >>> normalize_sport("  ") is None
    True
    """
    if name is None:
        return None
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    if not key:
        return None
    return _SPORT_ALIASES.get(key, key)


def sport_of_sessions(sports: list[str | None], *, name: str) -> str | None:
    """The one sport of a file's sessions (None when none is named).

    Raises
    ------
    ActivityFileError
        For a multisport file (a triathlon) that mixes stepping and other
        sports: its legs' cadences count different things.

    Examples
    --------
    >>> sport_of_sessions(["running", None], name="a.fit")
    'running'
    >>> sport_of_sessions(["walking", "running"], name="a.fit")
    'running'
    """
    known = sorted({s for s in sports if s})
    if len(known) <= 1:
        return known[0] if known else None
    if all(s in STEP_SPORTS or s in NEUTRAL_SPORTS for s in known):
        runs = [s for s in known if STEP_SPORTS.get(s) == "run"]
        return runs[0] if runs else next((s for s in known if s in STEP_SPORTS), None)
    raise ActivityFileError(
        f"{name} is a multisport file ({', '.join(known)}): its legs' cadences count "
        "different things. Export the run on its own and use that file."
    )


@dataclass(frozen=True)
class Recording:
    """What a FIT, GPX or TCX file holds that matters for cadence.

    Attributes
    ----------
    name : str
        The file as the user named it, for messages.
    file_format : str
        ``"FIT"``, ``"GPX"`` or ``"TCX"``.
    time_s : ndarray, shape (n,)
        Seconds since the first record, non-decreasing.
    cadence_raw : ndarray, shape (n,)
        Cadence as recorded, in `cadence_units`; NaN where missing.
    speed_mps, distance_m : ndarray, shape (n,)
        Speed and cumulative distance; NaN where missing.
    lap : ndarray of int, shape (n,)
        Lap index of each record (all 0 when the file has no laps).
    cadence_units : str
        ``"strides"`` (one foot, doubled), ``"steps"`` (both feet) or
        ``"auto"`` (decided from the values).
    sport : str or None
        The sport the file names, in FIT's spelling (see :func:`normalize_sport`).
    start : datetime or None
        When the first record was taken (UTC).
    device : str or None
        The recording device, if the file says.
    warnings : list of str
        Problems met while reading (a truncated file, skipped points).
    """

    name: str
    file_format: str
    time_s: np.ndarray
    cadence_raw: np.ndarray
    speed_mps: np.ndarray
    distance_m: np.ndarray
    lap: np.ndarray
    cadence_units: str = "auto"
    sport: str | None = None
    start: dt.datetime | None = None
    device: str | None = None
    warnings: list[str] = field(default_factory=list)


def haversine_m(
    lat_deg: np.ndarray, lon_deg: np.ndarray, *, segment: np.ndarray | None = None
) -> np.ndarray:
    """Cumulative great-circle distance along a track, metres (NaN-safe).

    A point without a position adds nothing; the first point is at 0 m.

    Parameters
    ----------
    lat_deg, lon_deg : np.ndarray, shape (n,)
        Positions in degrees, in time order; NaN where a point has none.
    segment : np.ndarray of int, shape (n,), keyword-only, optional
        The track segment of each point (GPX ``<trkseg>``, TCX ``<Track>``):
        the way from one segment's last position to the next one's first is
        not known to have been travelled (a lost fix, a pause, another track)
        and adds nothing.

    Examples
    --------
    >>> d = haversine_m(np.array([0.0, 0.0]), np.array([0.0, 0.01]))
    >>> round(float(d[-1]), 1)
    1112.0
    >>> d = haversine_m(np.zeros(3), np.array([0.0, 0.01, 0.5]), segment=np.array([0, 0, 1]))
    >>> round(float(d[-1]), 1)  # the jump to the second segment is not counted
    1112.0
    """
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    if lat.size == 0:
        return np.zeros(0)
    step = np.zeros(lat.size)
    have = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    if have.size > 1:
        a, b = have[:-1], have[1:]
        h = (
            np.sin((lat[b] - lat[a]) / 2) ** 2
            + np.cos(lat[a]) * np.cos(lat[b]) * np.sin((lon[b] - lon[a]) / 2) ** 2
        )
        step[b] = 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
        if segment is not None:
            segment = np.asarray(segment)
            step[b[segment[a] != segment[b]]] = 0.0
    return np.cumsum(step)


#: Over twice anyone's top speed (a sprinter's is 12.4 m/s): a distance that
#: grows faster between two records is a damaged value or a GPS jump, and adds
#: nothing. Generous on purpose: a watch catching up after its first fix (30 m
#: in a second) keeps its distance, and the total agrees with the watch's own.
MAX_DISTANCE_RATE_MPS = 30.0
#: What GPS noise may add between two close records on top of that.
DISTANCE_SLACK_M = 50.0


def clean_distance_m(
    time_s: np.ndarray, distance_m: np.ndarray, *, stepping: np.ndarray | None = None
) -> tuple[np.ndarray, int, float]:
    """Cumulative distance from the first record, without damaged values and jumps.

    A value far from the median of the five records around it (further than
    :data:`MAX_DISTANCE_RATE_MPS` could take the runner in their time, plus
    :data:`DISTANCE_SLACK_M`) is a damaged record and is left out. Of the rest,
    a step back adds nothing, nor a step forward faster than that rate (a GPS
    jump).

    Parameters
    ----------
    time_s, distance_m : np.ndarray, shape (n,)
        Each record's time and the file's cumulative distance (NaN where none).
    stepping : np.ndarray of bool, shape (n,), keyword-only, optional
        Whether the runner was stepping at each record. A distance that
        catches up after positions froze (a tunnel) may cover the stepping time
        since it last changed; without steps (standing), only its own record's.

    Returns
    -------
    distance_m : np.ndarray, shape (n,)
        From 0 at the first record with a distance; NaN where the file has none
        or the value was left out.
    left_out : int
        Values and steps left out as damaged or too fast.
    largest_m : float
        How far the largest of them was off (0 with none).

    Examples
    --------
    >>> d, left_out, largest = clean_distance_m(np.arange(5.0), np.array([0, 3, 50_000, 9, 12.0]))
    >>> d.tolist(), left_out, largest
    ([0.0, 3.0, nan, 9.0, 12.0], 1, 49991.0)
    """
    d = np.asarray(distance_m, dtype=float)
    t = np.asarray(time_s, dtype=float)
    out = np.full(d.size, np.nan)
    have = np.flatnonzero(np.isfinite(d))
    if have.size == 0:
        return out, 0, 0.0
    v, tt = d[have], t[have]
    if v.size >= 5:
        windows = np.lib.stride_tricks.sliding_window_view(np.pad(v, 2, mode="edge"), 5)
        spans = np.lib.stride_tricks.sliding_window_view(np.pad(tt, 2, mode="edge"), 5)
        off = np.abs(v - np.median(windows, axis=1))
        damaged = off > MAX_DISTANCE_RATE_MPS * (spans[:, -1] - spans[:, 0]) + DISTANCE_SLACK_M
    else:
        off, damaged = np.zeros(v.size), np.zeros(v.size, dtype=bool)
    kept = ~damaged
    vk, tk = v[kept], tt[kept]
    step = np.diff(vk)
    # A step may cover the stepping time since the distance last changed:
    # positions frozen for a minute in a tunnel, then 180 m at once, are 180 m
    # in that minute; after standing still, a leap is a bad fix.
    dt = np.diff(tk)
    if stepping is not None:
        steps_k = np.asarray(stepping, dtype=bool)[have][kept]
        stepped_s = np.concatenate([[0.0], np.cumsum(np.append(dt, 0.0) * steps_k)])
        changed = np.concatenate([[True], step != 0])
        since = np.maximum.accumulate(np.where(changed, np.arange(vk.size), 0))
        dt = np.maximum(dt, stepped_s[1:-1] - stepped_s[since[:-1]])
    jump = step > MAX_DISTANCE_RATE_MPS * dt + DISTANCE_SLACK_M
    counted = np.where((step > 0) & ~jump, step, 0.0)
    cumulative = np.full(v.size, np.nan)
    cumulative[kept] = np.concatenate([[0.0], np.cumsum(counted)])
    out[have] = cumulative
    largest = max([0.0, *off[damaged], *step[jump]])
    return out, int(damaged.sum() + jump.sum()), float(largest)


#: A speed worked out from the distance spans at least this long: GPS positions
#: that change every 2 s, in records written every second, give 0, 2x, 0, 2x...
#: record by record.
SPEED_SPAN_S = 2.0


def derived_speed_mps(time_s: np.ndarray, distance_m: np.ndarray) -> np.ndarray:
    """Each record's speed from the distance covered until the first record at
    least :data:`SPEED_SPAN_S` later (the next one, for records that far apart),
    never across a gap longer than :data:`MAX_RECORD_S` (a pause): near one,
    the span reaches back instead, so the record before a pause is not a stop.

    Parameters
    ----------
    time_s, distance_m : np.ndarray, shape (n,)
        Each record's time and cumulative distance (NaN where none).

    Returns
    -------
    np.ndarray, shape (n,)
        Metres per second; NaN without a distance or a neighbour to measure by.

    Examples
    --------
    >>> d = np.array([0.0, 0, 6, 6, 12, 12, 18])  # a position every 2 s, 3 m/s
    >>> np.diff(d).tolist()  # record by record: a stop every other second
    [0.0, 6.0, 0.0, 6.0, 0.0, 6.0]
    >>> derived_speed_mps(np.arange(7.0), d).tolist()
    [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]
    """
    t = np.asarray(time_s, dtype=float)
    d = np.asarray(distance_m, dtype=float)
    out = np.full(d.size, np.nan)
    idx = np.flatnonzero(np.isfinite(d))
    if idx.size < 2:
        return out
    tt, dd = t[idx], d[idx]
    breaks = np.flatnonzero(np.diff(tt) > MAX_RECORD_S) + 1
    first = np.concatenate([[0], breaks])
    last = np.concatenate([breaks - 1, [idx.size - 1]])
    stretch = np.cumsum(np.isin(np.arange(idx.size), breaks))
    k = np.arange(idx.size)
    hi = np.minimum(np.searchsorted(tt, tt + SPEED_SPAN_S), last[stretch])
    # Near a stretch's end the way ahead is short: reach back for the rest.
    back = np.searchsorted(tt, tt[hi] - SPEED_SPAN_S, side="right") - 1
    lo = np.where(tt[hi] - tt >= SPEED_SPAN_S, k, np.maximum(back, first[stretch]))
    lo = np.minimum(lo, k)
    dt = tt[hi] - tt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        speed = (dd[hi] - dd[lo]) / dt
    speed[~(dt > 0)] = np.nan
    out[idx] = speed
    return out


def record_weights_s(time_s: np.ndarray) -> np.ndarray:
    """Seconds each record stands for: the time to the next one, at most 10 s.

    The last record gets the median interval.

    Examples
    --------
    >>> record_weights_s(np.array([0.0, 1, 3, 60])).tolist()
    [1.0, 2.0, 10.0, 2.0]
    """
    time_s = np.asarray(time_s, dtype=float)
    if time_s.size == 0:
        return np.zeros(0)
    gaps = np.diff(time_s)
    last = float(np.median(gaps)) if gaps.size else 1.0
    return np.clip(np.append(gaps, last), 0.0, MAX_RECORD_S)
