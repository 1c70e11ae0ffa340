"""Read recorded activities: FIT (fitdecode) here, GPX and TCX in :mod:`.activity_xml`.

The only module that talks to fitdecode (:mod:`.activity_xml` to defusedxml).
Each reader turns a file into a :class:`cadence.core.recording.Recording`
through :class:`RecordRows`; the cadence maths is in :mod:`cadence.core.activity`.
Files are opened read-only and never written. A file that ends early or has a
broken trailer keeps the records read before the damage, with a warning.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import math
import os
import warnings as _warnings
import zlib
from pathlib import Path

from cadence.core.recording import Recording, haversine_m
from cadence.errors import ActivityFileError
from cadence.files import display_path, not_a_file_reason

#: Larger files are refused (a day-long FIT file is a few MB).
MAX_FILE_BYTES = 256 * 1024 * 1024
ACTIVITY_EXTENSIONS = (".fit", ".gpx", ".tcx")


def _read_bytes(path: Path, name: str) -> bytes:
    try:
        if path.is_dir():
            raise ActivityFileError(f"{name} is a folder, not an activity file")
        if path.exists() and not path.is_file():  # reading a pipe or a device would block
            raise ActivityFileError(f"{name}: {not_a_file_reason(str(path))}")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ActivityFileError(
                f"{name} is {size / 2**20:.0f} MB, larger than any activity file "
                f"({MAX_FILE_BYTES // 2**20} MB at most)"
            )
        if path.suffix.lower() == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise ActivityFileError(f"{name} unpacks to more than {MAX_FILE_BYTES} bytes")
        else:
            data = path.read_bytes()
    except FileNotFoundError:
        raise ActivityFileError(f"{name}: no such file") from None
    except PermissionError:
        raise ActivityFileError(f"{name}: permission denied") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ActivityFileError(f"{name}: not a readable gzip file ({exc})") from None
    except OSError as exc:
        raise ActivityFileError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise ActivityFileError(f"{name} is empty (0 bytes)")
    return data


def activity_format(path: str | os.PathLike) -> str:
    """``"FIT"``, ``"GPX"`` or ``"TCX"`` from the file name (``.gz`` allowed).

    Raises
    ------
    ActivityFileError
        If the extension is none of these.

    Examples
    --------
    >>> activity_format("run.fit"), activity_format("Morning_Run.GPX.gz")
    ('FIT', 'GPX')
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".gz":
        suffix = Path(p.stem).suffix.lower()
    if suffix not in ACTIVITY_EXTENSIONS:
        raise ActivityFileError(
            f"{display_path(path)}: not an activity file; give a .fit, .gpx or .tcx file "
            "(optionally .gz, as in a Strava export)"
        )
    return suffix[1:].upper()


def read_activity(path: str | os.PathLike) -> Recording:
    """Read a FIT, GPX or TCX file into a :class:`Recording`.

    Parameters
    ----------
    path : path-like
        A ``.fit``, ``.gpx`` or ``.tcx`` file, optionally gzipped (``.fit.gz``).

    Returns
    -------
    Recording
        Records in time order, with the file's own cadence units; problems
        that still left data to use are in ``Recording.warnings``.

    Raises
    ------
    ActivityFileError
        If the file is missing, empty, unreadable, not of its format, unsafe
        XML, or holds no timed records. The message names the file.
    """
    name = display_path(path)
    file_format = activity_format(path)
    data = _read_bytes(Path(path), name)
    if file_format == "FIT":
        return _read_fit(data, name)
    from cadence.activity_xml import read_gpx, read_tcx  # they build on RecordRows, here

    return (read_gpx if file_format == "GPX" else read_tcx)(data, name)


# --- shared -----------------------------------------------------------------


def _number(x) -> float:
    """A finite float from a field's value or text; NaN for missing or junk."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


class RecordRows:
    """Columns being filled, one row per record."""

    def __init__(self) -> None:
        self.when: list[dt.datetime] = []
        self.cadence: list[float] = []
        self.speed: list[float] = []
        self.distance: list[float] = []
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.lap: list[int] = []
        self.segment: list[int] = []

    def add(
        self, when, cadence=None, speed=None, distance=None, lat=None, lon=None, lap=0, segment=0
    ):
        self.when.append(when)
        self.cadence.append(_number(cadence))
        self.speed.append(_number(speed))
        self.distance.append(_number(distance))
        self.lat.append(_number(lat))
        self.lon.append(_number(lon))
        self.lap.append(lap)
        self.segment.append(segment)

    def recording(
        self, name: str, file_format: str, *, units: str, sport, device=None, warnings=()
    ) -> Recording:
        import numpy as np

        warnings = list(warnings)
        if not self.when:
            raise ActivityFileError(f"{name} has no track points or records with a time")
        when = np.array([w.timestamp() for w in self.when])
        order = np.argsort(when, kind="stable")
        if np.any(np.diff(when) < 0):
            warnings.append("records were out of time order; sorted them")
        start = min(self.when)
        time_s = when[order] - when[order][0]

        def col(values):
            return np.asarray(values, dtype=float)[order]

        distance = col(self.distance)
        if not np.isfinite(distance).any():
            lat, lon = col(self.lat), col(self.lon)
            if np.isfinite(lat).sum() > 1:
                distance = haversine_m(lat, lon, segment=np.asarray(self.segment)[order])
        return Recording(
            name=name,
            file_format=file_format,
            time_s=time_s,
            cadence_raw=col(self.cadence),
            speed_mps=col(self.speed),
            distance_m=distance,
            lap=np.asarray(self.lap, dtype=np.int64)[order],
            cadence_units=units,
            sport=sport,
            start=start.astimezone(dt.timezone.utc),
            device=device,
            warnings=warnings,
        )


# --- FIT ---------------------------------------------------------------------


def _read_fit(data: bytes, name: str) -> Recording:
    import fitdecode

    from cadence.core.recording import normalize_sport, sport_of_sessions

    rows = RecordRows()
    problems: list[str] = []
    session_sports: list[str | None] = []
    lap_starts: list[dt.datetime] = []
    sport_msg = None
    device = None
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        try:
            with fitdecode.FitReader(
                io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE
            ) as reader:
                for frame in reader:
                    if not isinstance(frame, fitdecode.FitDataMessage):
                        continue
                    get = frame.get_value
                    if frame.name == "record":
                        when = get("timestamp", fallback=None)
                        if not isinstance(when, dt.datetime):
                            continue
                        cadence = get("cadence", fallback=None)
                        if cadence is not None:
                            cadence = cadence + (get("fractional_cadence", fallback=None) or 0)
                        speed = get("enhanced_speed", fallback=None)
                        rows.add(
                            when,
                            cadence=cadence,
                            speed=get("speed", fallback=None) if speed is None else speed,
                            distance=get("distance", fallback=None),
                        )
                    elif frame.name == "lap":
                        start = get("start_time", fallback=None)
                        if isinstance(start, dt.datetime):
                            lap_starts.append(start)
                    elif frame.name == "session":
                        session_sports.append(normalize_sport(get("sport", fallback=None)))
                    elif frame.name == "sport":
                        sport_msg = normalize_sport(get("sport", fallback=None))
                    elif frame.name == "file_id" and device is None:
                        device = _fit_device(frame)
        except fitdecode.FitHeaderError as exc:
            if not rows.when and not session_sports:
                raise ActivityFileError(f"{name} is not a FIT file ({exc})") from None
            problems.append(f"stopped reading at a damaged header ({exc}); used what came before")
        except fitdecode.FitEOFError as exc:
            if not rows.when:
                raise ActivityFileError(
                    f"{name}: the FIT file ends before any record ({exc})"
                ) from None
            problems.append(f"the file ends early ({exc}); used the records read before it")
        except fitdecode.FitCRCError as exc:
            problems.append(f"checksum mismatch ({exc}); the file may be damaged")
        except fitdecode.FitError as exc:
            if not rows.when:
                raise ActivityFileError(f"{name} is not a readable FIT file ({exc})") from None
            problems.append(f"stopped reading at damaged data ({exc}); used what came before")
    problems += sorted({f"decoder: {w.message}" for w in caught})

    sport = sport_of_sessions(session_sports or [sport_msg], name=name)
    if lap_starts:
        import bisect

        starts = sorted(lap_starts)
        rows.lap = [max(bisect.bisect_right(starts, w) - 1, 0) for w in rows.when]
    return rows.recording(
        name, "FIT", units="strides", sport=sport, device=device, warnings=problems
    )


def _fit_device(frame) -> str | None:
    maker = frame.get_value("manufacturer", fallback=None)
    product = frame.get_value("garmin_product", fallback=None) or frame.get_value(
        "product_name", fallback=None
    )
    parts = [str(p) for p in (maker, product) if p is not None and not isinstance(p, int)]
    return " ".join(parts).title() if parts else None
