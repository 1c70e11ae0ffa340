"""Reading GPX and TCX files (XML) into a :class:`~cadence.core.recording.Recording`.

With :mod:`cadence.activity` (FIT, the file checks, the columns being filled),
the edge that reads recorded activities. XML is parsed with defusedxml: no DTD,
no entities (GPX and TCX never need one, and they are how entity bombs work);
a GPX is read as a stream, so a 200 MB file needs no more than its bytes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io

from cadence.activity import RecordRows
from cadence.core.recording import Recording
from cadence.errors import ActivityFileError


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
    if lines_after < 0:  # after the last line with anything on it: the very end
        return True
    if lines_after > CUT_WITHIN_BYTES:
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


def read_gpx(data: bytes, name: str) -> Recording:
    """Track points of a GPX file, read as a stream: each point is dropped once
    read, so a 200 MB file needs no more than its bytes and the columns. A file
    cut short keeps the points before the cut, with a warning (as a cut FIT)."""
    from cadence.core.recording import normalize_sport

    rows = RecordRows()
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
        if path:
            problems.append(
                f"the file ends early, inside its XML (line {exc.line}); used the "
                f"{len(rows.when)} track points read before it"
            )
        else:  # the <gpx> was closed: something written after it, not a cut
            problems.append(f"left out what follows the end of the GPX (line {exc.line})")
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


def read_tcx(data: bytes, name: str) -> Recording:
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
    rows = RecordRows()
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
