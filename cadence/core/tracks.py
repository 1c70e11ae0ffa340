"""What the analyzer knows of one track: its tempo, how sure it is, its tags, or why not.

:class:`TrackResult` is the one shape of a track's result: the analysis
returns it, the cache stores it, the scan ranks it, the CLI prints it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

#: The fields that hold lists of beat times.
BEAT_LISTS = ("beats", "downbeats")


def pack_ms(times_s: list[float]) -> str:
    """Times in seconds (3 decimals) as base64 of little-endian int32 milliseconds.

    Examples
    --------
    >>> unpack_ms(pack_ms([0.5, 1.25, 1801.999]))
    [0.5, 1.25, 1801.999]
    """
    import numpy as np  # here: the cheap commands import this module, and not numpy

    ms = np.round(np.asarray(times_s, dtype=np.float64) * 1000).astype("<i4")
    return base64.b64encode(ms.tobytes()).decode("ascii")


def unpack_ms(text: str) -> list[float]:
    """The times :func:`pack_ms` packed, in seconds (10,000 songs' beats in a
    fraction of a second: the division is numpy's, the same IEEE one as Python's)."""
    import numpy as np

    return (np.frombuffer(base64.b64decode(text), dtype="<i4") / 1000).tolist()


class PackedTimes(Sequence):
    """Times packed by :func:`pack_ms`, unpacked on first use.

    A rescan of 10,000 cached songs reads their beats without unpacking them
    (6 million numbers); a command that uses a song's beats unpacks that song's.
    It compares equal to the list of the same times.
    """

    __slots__ = ("_text", "_times")

    def __init__(self, text: str) -> None:
        self._text = text
        self._times: list[float] | None = None

    @property
    def packed(self) -> str:
        return self._text

    def _unpacked(self) -> list[float]:
        if self._times is None:
            self._times = unpack_ms(self._text)
        return self._times

    def __len__(self) -> int:
        return len(self._unpacked())

    def __getitem__(self, index):  # type: ignore[override]
        return self._unpacked()[index]

    def __iter__(self):
        return iter(self._unpacked())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedTimes):
            return self._text == other._text
        return self._unpacked() == other

    def __repr__(self) -> str:
        return f"PackedTimes({self._unpacked()!r})"


@dataclass
class TrackResult:
    """One analysed (or unreadable) music file.

    Attributes
    ----------
    path : str
        The file, as it was found (relative to the scanned folder's argument).
    bpm : float or None
        Tempo in beats per minute; None when no beat was found or the file
        could not be read.
    confidence : float
        From 0 to 1: how clearly the beat stands out (0 without a tempo).
    stability : float or None
        Share of the track's windows that agree with `bpm` (None for short tracks).
    alternatives : dict or None
        The half- and double-time readings, ``{"half": …, "double": …}``.
    duration_s, analysed_s : float or None
        Length of the file, and the seconds of it that were analysed.
    title, artist : str or None
        From the file's tags.
    tag_bpm : float or None
        The BPM tag the file carries, if any.
    first_beat_s, period_s : float or None
        The steady beat grid fitted to the beats: beat k at
        ``first_beat_s + k * period_s`` seconds (None without beats).
    grid_residual_ms : dict or None
        How far the beats stray from that grid, ``{"median": …, "p95": …}``
        in milliseconds: a few for programmed music, tens for a drifting band.
    beats : list of float or None
        Every beat of the analysed audio (seconds, 3 decimals).
    downbeats : list of float or None
        The beats that start a bar, where they could be told (else empty).
    error : str or None
        Why the file could not be analysed (then `bpm` is None).
    note : str or None
        A caveat about a result that is still usable or a missing beat
        ("only 5.0 s of audio: low confidence", "silence: no beat").
    """

    path: str
    bpm: float | None = None
    confidence: float = 0.0
    stability: float | None = None
    alternatives: dict[str, float] | None = None
    duration_s: float | None = None
    analysed_s: float | None = None
    title: str | None = None
    artist: str | None = None
    tag_bpm: float | None = None
    first_beat_s: float | None = None
    period_s: float | None = None
    grid_residual_ms: dict[str, float] | None = None
    beats: list[float] | None = None
    downbeats: list[float] | None = None
    error: str | None = None
    note: str | None = None

    @classmethod
    def failed(cls, path: str, reason: str) -> TrackResult:
        """The result of a file that could not be analysed, with `reason` as its error."""
        return cls(path=path, error=reason)

    def add_note(self, text: str, *, first: bool = False) -> None:
        """Add a caveat to `note` (``"; "`` between notes), after or before the others."""
        if not self.note:
            self.note = text
        else:
            self.note = f"{text}; {self.note}" if first else f"{self.note}; {text}"

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready, in the documented order."""
        entry = asdict(self)
        for key in BEAT_LISTS:
            if isinstance(entry[key], PackedTimes):
                entry[key] = list(entry[key])
        return entry

    def cache_entry(self) -> dict[str, Any]:
        """Every field but the path (the cache's key), JSON-ready.

        The beat lists are packed (whole milliseconds, as the 3 decimals they
        carry, in base64): a song's 600 beats cost 3 kB instead of 5 kB of
        JSON numbers, and loading 10,000 entries parses no floats.
        """
        entry = {k: v for k, v in asdict(self).items() if k not in BEAT_LISTS}
        del entry["path"]
        for key in BEAT_LISTS:
            times = getattr(self, key)
            if isinstance(times, PackedTimes):
                entry[key] = {"ms_b64": times.packed}
            elif times is not None:
                entry[key] = {"ms_b64": pack_ms(times)}
            else:
                entry[key] = None
        return entry

    @classmethod
    def from_cache(cls, path: str, entry: dict[str, Any]) -> TrackResult:
        """A result back from its cache entry; keys this version does not know are dropped."""
        known = {f.name for f in fields(cls)} - {"path"}
        values = {k: v for k, v in entry.items() if k in known}
        for key in BEAT_LISTS:
            if isinstance(values.get(key), dict):
                values[key] = PackedTimes(values[key]["ms_b64"])
        return cls(path=path, **values)

    def with_path(self, path: str) -> TrackResult:
        """The same result under another path."""
        return replace(self, path=path)
