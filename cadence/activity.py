"""Read recorded activities: FIT (fitdecode), GPX and TCX (defusedxml).

The only module that talks to these parsers. Each reader turns a file into a
:class:`cadence.core.recording.Recording`; the cadence maths is in
:mod:`cadence.core.activity`. Files are opened read-only and never written.

XML (GPX, TCX) is first parsed by defusedxml with DTDs forbidden, so entity
bombs and external entities are refused before any element is read; neither
format needs a DTD. A file that ends early or has a broken trailer keeps the
records read before the damage, with a warning.
"""

from __future__ import annotations

import contextlib
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
    reader = {"FIT": _read_fit, "GPX": _read_gpx, "TCX": _read_tcx}[file_format]
    return reader(data, name)


# --- shared -----------------------------------------------------------------


def _number(x) -> float:
    """A finite float from a field's value or text; NaN for missing or junk."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


class _Rows:
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

    rows = _Rows()
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


# --- XML (GPX, TCX) -----------------------------------------------------------


@contextlib.contextmanager
def _xml_errors(name: str, what: str):
    """defusedxml's and the parser's complaints as one ActivityFileError naming the file."""
    from xml.etree.ElementTree import ParseError

    import defusedxml

    try:
        yield
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden) as exc:
        raise ActivityFileError(
            f"{name} declares a DTD or entities, which {what} files never need; "
            f"refused as unsafe XML ({type(exc).__name__})"
        ) from None
    except defusedxml.DefusedXmlException as exc:
        raise ActivityFileError(f"{name}: refused as unsafe XML ({exc})") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        where = f" at line {line}, column {column}" if line else ""
        raise ActivityFileError(f"{name} is not well-formed XML{where}") from None


def _safe_xml(data: bytes, name: str, what: str):
    """Parse with defusedxml (no DTD, no entities); return the root element."""
    from defusedxml import ElementTree as SafeET

    with _xml_errors(name, what):
        return SafeET.fromstring(data, forbid_dtd=True)


#: A parse error this close to the end of the data is a cut (the parser
#: reports an unclosed tag where the tag begins, a few hundred bytes before).
CUT_WITHIN_BYTES = 1024


def _at_the_end(data: bytes, line: int, column: int) -> bool:
    """Whether the parser's error at `line`, `column` (1-based, 0-based, in
    characters) is within :data:`CUT_WITHIN_BYTES` of the end of `data`: a
    file cut short, not damaged in the middle (a file on one line has every
    error on its last line). Trailing blanks and NULs (a crashed write's
    padding) do not count; CR and CRLF end lines as LF does."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    end = len(data.rstrip(b" \t\n\x00"))
    lines_after = data.count(b"\n", 0, end) + 1 - line
    if not 0 <= lines_after <= CUT_WITHIN_BYTES:
        return False
    start = end
    for _ in range(lines_after + 1):  # back to the start of the error's line
        start = data.rfind(b"\n", 0, start)
    start += 1
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16: two bytes a character
        offset = start + 2 * column
    else:  # the column counts characters: a name in Cyrillic takes two bytes each
        offset = start + len(data[start:end].decode("utf-8", "replace")[:column].encode())
    return end - offset <= CUT_WITHIN_BYTES


class _CutXmlError(ActivityFileError):
    """The XML stops at the end of the data, inside an element: a cut file."""

    line = 0


def _iter_xml(data: bytes, name: str, what: str):
    """``(event, element)`` of a streaming parse with defusedxml (no DTD, no
    entities). Malformed XML at the very end of the data (a download or a copy
    cut short) raises :class:`_CutXmlError`, so the elements read before it
    can be kept."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import ElementTree as SafeET

    with _xml_errors(name, what):
        try:
            yield from SafeET.iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True)
        except ParseError as exc:
            line, column = getattr(exc, "position", (0, 0))
            if _at_the_end(data, line, column):
                cut = _CutXmlError(
                    f"{name} is not well-formed XML: it ends early, at line {line} (cut short?)"
                )
                cut.line = line
                raise cut from None
            raise


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _read_gpx(data: bytes, name: str) -> Recording:
    """Track points of a GPX file, read as a stream: each point is dropped once
    read, so a 200 MB file needs no more than its bytes and the columns. A file
    cut short keeps the points before the cut, with a warning (as a cut FIT)."""
    from cadence.core.recording import normalize_sport

    rows = _Rows()
    sports = set()
    untimed = 0
    device = None
    segment = 0  # each <trkseg> (and <trk>) its own: the gaps between are not run
    path: list[str] = []  # the open elements' local names
    problems: list[str] = []
    try:
        for event, el in _iter_xml(data, name, "GPX"):
            tag = _local(el.tag)
            if event == "start":
                if not path:
                    if tag != "gpx":
                        raise ActivityFileError(f"{name} is XML but not GPX (its root is <{tag}>)")
                    device = (el.get("creator") or "").strip() or None
                elif tag in ("trkseg", "trk"):
                    segment += 1
                path.append(tag)
                continue
            path.pop()
            if tag == "trkpt":
                when = _parse_time(_child_text(el, "time"))
                if when is None:
                    untimed += 1
                else:
                    cadence, speed = _gpx_extension_values(el)
                    rows.add(
                        when,
                        cadence=cadence,
                        speed=_child_text(el, "speed") or speed,
                        lat=el.get("lat"),
                        lon=el.get("lon"),
                        segment=segment,
                    )
                el.clear()
            elif tag == "type" and path and path[-1] == "trk":
                sport = normalize_sport(el.text)
                if sport:
                    sports.add(sport)
            elif tag in ("trkseg", "trk"):
                el.clear()  # what is left of the points read
    except _CutXmlError as exc:
        if not rows.when:
            raise
        problems.append(
            f"the file ends early, inside its XML (line {exc.line}); used the "
            f"{len(rows.when)} track points read before it"
        )
    if untimed:
        problems.append(f"skipped {untimed} track point(s) without a time")
    sport = sports.pop() if len(sports) == 1 else None
    return rows.recording(name, "GPX", units="auto", sport=sport, device=device, warnings=problems)


def _child_text(el, tag: str) -> str | None:
    for child in el:
        if _local(child.tag) == tag:
            return child.text
    return None


def _gpx_extension_values(point) -> tuple[str | None, str | None]:
    """Cadence and speed from a point's extensions: TrackPointExtension (Garmin,
    Strava) or plain tags."""
    cadence = speed = None
    for ext in point:
        if _local(ext.tag) != "extensions":
            continue
        for el in ext.iter():
            tag = _local(el.tag).lower()
            if tag in ("cad", "cadence", "runcadence") and cadence is None:
                cadence = el.text
            elif tag == "speed" and speed is None:
                speed = el.text
    return cadence, speed


def _read_tcx(data: bytes, name: str) -> Recording:
    from cadence.core.recording import normalize_sport

    root = _safe_xml(data, name, "TCX")
    if _local(root.tag) != "TrainingCenterDatabase":
        raise ActivityFileError(f"{name} is XML but not TCX (its root is <{_local(root.tag)}>)")
    activities = [el for el in root.iter() if _local(el.tag) == "Activity"]
    if not activities:
        raise ActivityFileError(f"{name} holds no <Activity>")
    problems: list[str] = []
    if len(activities) > 1:
        problems.append(f"the file holds {len(activities)} activities; used the first")
    activity = activities[0]
    sport = normalize_sport(activity.get("Sport"))
    rows = _Rows()
    untimed = 0
    laps = [el for el in activity if _local(el.tag) == "Lap"]
    # A second <Track> in a lap is a new segment (a pause or a lost fix before
    # it); a lap's first one goes on from the lap before, as the runner did
    # (Garmin starts a Track in every lap). A lap without one is one track.
    tracks = [
        (i, k, track)
        for i, lap in enumerate(laps)
        for k, track in enumerate([t for t in lap if _local(t.tag) == "Track"] or [lap])
    ]
    segment = 0
    for lap_index, k, track in tracks:
        segment += k > 0
        for tp in (el for el in track.iter() if _local(el.tag) == "Trackpoint"):
            fields = {}
            for el in tp.iter():
                fields.setdefault(_local(el.tag), el.text)
            when = _parse_time(fields.get("Time"))
            if when is None:
                untimed += 1
                continue
            # RunCadence (TPX extension) is the running cadence; Cadence is the
            # generic field that Strava and some apps fill for runs too.
            cadence = fields.get("RunCadence") or fields.get("Cadence")
            rows.add(
                when,
                cadence=cadence,
                speed=fields.get("Speed"),
                distance=fields.get("DistanceMeters"),
                lat=fields.get("LatitudeDegrees"),
                lon=fields.get("LongitudeDegrees"),
                lap=lap_index,
                segment=segment,
            )
    if untimed:
        problems.append(f"skipped {untimed} track point(s) without a valid time")
    creator = next((el for el in activity if _local(el.tag) == "Creator"), None)
    device = None
    if creator is not None:
        device = next((el.text for el in creator.iter() if _local(el.tag) == "Name"), None)
    return rows.recording(name, "TCX", units="auto", sport=sport, device=device, warnings=problems)
