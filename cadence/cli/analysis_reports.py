"""What the music commands print: bpm, beats and scan tables, JSON and CSV, and
the scan's summary.

Built on :mod:`.output`; :mod:`.analyzer` hands its results here.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from typing import Any

from cadence.cli.output import (
    MISSING,
    confidence_cell,
    console,
    count,
    fmt,
    note,
    one_line,
    print_json,
    print_rich,
    table,
)
from cadence.files import display_path

#: ``scan --format csv`` columns: the JSON keys less the nested and the tag texts.
SCAN_CSV_COLUMNS = (
    "path",
    "bpm",
    "confidence",
    "stability",
    "match_factor",
    "step_bpm",
    "off_spm",
    "stretch_pct",
    "tag_bpm",
    "duration_s",
    "analysed_s",
    "first_beat_s",
    "period_s",
    "grid_residual_median_ms",
    "grid_residual_p95_ms",
    "error",
    "note",
)


def _with_display_path(row: dict) -> dict:
    return {**row, "path": display_path(row["path"])}


#: Fields of a result that only ``cadence beats`` prints (long lists).
BEAT_LIST_FIELDS = ("beats", "downbeats")


def _fitted_table(columns: list[tuple[str, str]], *, width: int, drop, **options: Any):
    """A table of `columns` that fits a terminal `width` columns wide.

    `drop` is ``(under, names)`` pairs, the columns a runner needs least first:
    under that many columns, those are left out, so no number is cut and the
    file's name keeps room to be read. Returns the table and a function that
    keeps, of a row's cells (one per column), those of the columns shown.
    """
    dropped = {name for under, names in drop if width < under for name in names}
    shown = [name not in dropped for name, _ in columns]

    def kept(cells: Sequence[Any]) -> list[Any]:
        return [cell for cell, show in zip(cells, shown, strict=True) if show]

    return table(*kept(columns), **options), kept


def _file_cell(result: Any, *, mark: str | None = None) -> str:
    """A result's file name for a table (rich markup), its error or its note
    and `mark` (plain text) after it."""
    from rich.markup import escape

    name = escape(one_line(result.path))
    if result.error:
        return name + f"  [red]error: {escape(one_line(result.error))}[/]"
    said = "; ".join(filter(None, [result.note and one_line(result.note), mark]))
    return name + f"  [yellow]{escape(said)}[/]" if said else name


#: What the beats table says of a result :func:`_off_grid`.
OFF_GRID_MARK = "off the grid: a drifting beat, or beats the tracker lost"


#: What the scan's, the beats table's and play's ``~`` mark says.
OFF_GRID_NOTE = (
    "beats off a steady grid (a drifting beat, or beats the tracker lost;"
    " a click may walk off the music)"
)


def off_grid(residual_ms: dict | None) -> bool:
    """Whether beats stray from their steady grid (`residual_ms`, a result's
    ``grid_residual_ms``): a band that drifts, or a steady song whose beats
    the tracker lost for a while (on music-dev, every one so marked)."""
    from cadence.core.beats import drifts

    return bool(residual_ms) and drifts(residual_ms["p95"])


def print_off_grid_names(
    names: Sequence[str], out: Any = None, *, at_most: int | None = None
) -> None:
    """The line under a table whose ``~`` marks the songs off their grid, naming
    them (the first `at_most`, and how many more)."""
    from rich.markup import escape

    shown = list(names if at_most is None else names[:at_most])
    more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    print_rich(
        f"[yellow]~[/] {OFF_GRID_NOTE}: {escape(', '.join(shown))}{more}", out, highlight=False
    )


def _stopped_before_any(report: Any) -> bool:
    """Whether a scan was stopped before its first track: then it has no verdict."""
    return report.tally.interrupted and not report.fits


def bpm_results(results: Sequence[Any], *, as_json: bool) -> None:
    """``cadence bpm``: a table, or a JSON list of every field of each result
    but the beat lists (``cadence beats`` prints those)."""
    if as_json:
        rows = [_with_display_path(r.to_dict()) for r in results]
        print_json([{k: v for k, v in row.items() if k not in BEAT_LIST_FIELDS} for row in rows])
        return

    out = console()
    # No number is cut: the other readings go first, then the tag and the confidence.
    columns = [
        ("BPM", "right"),
        ("Conf", "right"),
        ("Stable", "right"),
        ("Half", "right"),
        ("Double", "right"),
        ("Tag", "right"),
        ("File", "left"),
    ]
    drop = ((64, {"Half", "Double", "Stable"}), (48, {"Tag", "Conf"}))
    t, kept = _fitted_table(columns, width=out.width, drop=drop)
    for r in results:
        alt = r.alternatives or {}
        name = _file_cell(r)
        cells = (
            fmt(r.bpm, ".1f"),
            confidence_cell(r),
            fmt(r.stability, ".0%"),
            fmt(alt.get("half"), ".1f"),
            fmt(alt.get("double"), ".1f"),
            fmt(r.tag_bpm, "g"),
            name,
        )
        t.add_row(*kept(cells))
    print_rich(t, out)


def beats_results(results: Sequence[Any], *, as_json: bool) -> None:
    """``cadence beats``: a table, or a JSON list with every beat of each file."""
    if as_json:
        keys = (
            "path",
            "bpm",
            "beats",
            "downbeats",
            "first_beat_s",
            "period_s",
            "grid_residual_ms",
            "confidence",
            "duration_s",
            "analysed_s",
            "error",
            "note",
        )
        rows = [_with_display_path(r.to_dict()) for r in results]
        print_json([{k: row[k] for k in keys} for row in rows])
        return

    out = console()
    columns = [
        ("BPM", "right"),
        ("Beats", "right"),
        ("First s", "right"),
        ("Period s", "right"),
        ("Off ms", "right"),
        ("Conf", "right"),
        ("File", "left"),
    ]
    drop = ((72, {"Period s", "Conf"}), (56, {"First s", "Beats"}))
    t, kept = _fitted_table(columns, width=out.width, drop=drop)
    for r in results:
        res = r.grid_residual_ms
        name = _file_cell(r, mark=OFF_GRID_MARK if off_grid(r.grid_residual_ms) else None)
        cells = (
            fmt(r.bpm, ".1f"),
            fmt(len(r.beats) if r.beats else None, "d"),
            fmt(r.first_beat_s, ".3f"),
            fmt(r.period_s, ".4f"),
            MISSING if not res else f"{res['median']:.0f}/{res['p95']:.0f}",
            confidence_cell(r),
            name,
        )
        t.add_row(*kept(cells))
    print_rich(t, out)
    if any(r.beats for r in results):
        print_rich(
            "Off: how far the beats stray from their steady grid (median/95th"
            " percentile). --json lists every beat.",
            out,
            highlight=False,
        )


def scan_results(report: Any, *, fmt_name: str, show_all: bool, folder: str) -> None:
    """``cadence scan``'s list: a table (fitting tracks, or all), JSON or CSV."""
    if fmt_name == "json":
        print_json([_with_display_path(f.to_dict()) for f in report.fits])
    elif fmt_name == "csv":
        import csv

        writer = csv.DictWriter(
            sys.stdout, fieldnames=SCAN_CSV_COLUMNS, extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        for f in report.fits:
            row = _with_display_path(f.to_dict())
            residual = row.get("grid_residual_ms") or {}
            row["grid_residual_median_ms"] = residual.get("median")
            row["grid_residual_p95_ms"] = residual.get("p95")
            writer.writerow(row)
    else:
        from cadence.core.matching import all_by_fit

        rows = all_by_fit(report.fits) if show_all else report.fitting
        _scan_table(rows, report=report, folder=folder)


def _fit_word(fit: Any) -> str:
    if fit.track.error:
        return "[red]error[/]"
    if fit.unsure:
        return "[dim]unsure[/]"
    if fit.match.match_factor == 1:
        return "1 step/beat"
    if fit.match.match_factor == 2:
        return "half time"
    if fit.track.bpm is None:
        return "[dim]no beat[/]"
    return "[dim]no fit[/]"


def _nearest_hint(report: Any) -> str:
    """Where the nearest track is, and how to see it."""
    from cadence.core.matching import MAX_TOLERANCE_SPM, all_by_fit

    near = [f for f in all_by_fit(report.fits) if f.match.off_spm is not None]
    if not near:
        return ""
    f = near[0]
    wider = math.ceil(abs(f.match.off_spm))
    widen = f"--tolerance {wider} would take it, " if wider <= MAX_TOLERANCE_SPM else ""
    return (
        f" The nearest is {f.match.step_bpm:.1f} steps/min ({f.match.off_spm:+.1f}): "
        f"{widen}--all lists every track."
    )


def _scan_table(rows: Sequence[Any], *, report: Any, folder: str) -> None:
    from rich.markup import escape

    target, tolerance = report.target_spm, report.tolerance_spm
    # A scan stopped part-way has a verdict on the tracks it reached only.
    so_far = (
        f" (of the {len(report.fits)} scanned before the interruption)"
        if report.tally.interrupted
        else ""
    )
    if _stopped_before_any(report):
        return  # the summary says so
    if not rows:
        console().print(
            f"No tracks fit {target:g} ± {tolerance:g} spm{so_far}.{_nearest_hint(report)}"
        )
        return
    root = os.path.abspath(folder)
    out = console()
    columns = [
        ("Steps/min", "right"),
        ("BPM", "right"),
        ("Fit", "left"),
        ("Off", "right"),
        ("Stretch", "right"),
        ("Conf", "right"),
        ("Tag", "right"),
        ("Track", "left"),
    ]
    # (At 40 columns the track's name was squeezed to 7 before columns were dropped.)
    t, kept = _fitted_table(
        columns,
        width=out.width,
        drop=((80, {"Stretch", "Tag"}), (60, {"Conf", "BPM", "Off"})),
        title=f"Tracks for {target:g} ± {tolerance:g} steps/min, best fit first{so_far}",
    )
    drifting = []  # the names of tracks off their grid
    for f in rows:
        m, track = f.match, f.track
        stretch = MISSING if m.stretch_pct is None else f"{m.stretch_pct:+.1f}%"
        steady = not off_grid(track.grid_residual_ms)
        if not steady:
            drifting.append(one_line(os.path.basename(track.path)))
        cells = (
            fmt(m.step_bpm, ".1f"),
            fmt(track.bpm, ".1f") + ("" if steady else "~"),
            _fit_word(f),
            fmt(m.off_spm, "+.1f"),
            stretch,
            confidence_cell(track),
            fmt(track.tag_bpm, "g"),
            escape(one_line(os.path.relpath(os.path.abspath(track.path), root))),
        )
        t.add_row(*kept(cells))
    print_rich(t, out)
    if drifting:
        print_off_grid_names(drifting, out, at_most=3)


def tags_summary(result: Any) -> None:
    """What --write-tags did."""
    more = [f"{result.tags_already} already had it"] if result.tags_already else []
    if result.tags_unsure:
        more.append(f"{result.tags_unsure} left untagged: too unsure of the tempo")
    detail = f" ({'; '.join(more)})" if more else ""
    note(f"Wrote the BPM tag into {count(result.tags_written, 'file')}{detail}.")


def scan_summary(report: Any) -> None:
    """The closing line of a scan, on stderr."""
    fitting, tally = len(report.fitting), report.tally
    interrupted = ""
    if tally.interrupted:
        interrupted = (" Stopped: " if tally.stop_signal else " Interrupted: ") + (
            "what was analysed is kept in the cache."
            if tally.cached_kept
            else "nothing is kept (--no-cache)."
        )
    verdict = (
        f" {fitting} fit {report.target_spm:g} ± {report.tolerance_spm:g} spm: "
        f"{fitting - report.half_time} at one step per beat, {report.half_time} at half time."
        + (
            f" {report.unsure} more would, with a confidence under {report.min_confidence:g}."
            if report.unsure
            else ""
        )
    )
    if _stopped_before_any(report):
        verdict = ""  # "0 fit" of nothing scanned read as a result
    note(
        f"Scanned {count(len(report.fits), 'track')} in {tally.elapsed_s:.1f} s "
        f"({tally.analysed} analysed, {tally.cached} from the cache, "
        f"{count(len(tally.problems), 'problem')}"
        + (f", {tally.known_problems} known from earlier scans" if tally.known_problems else "")
        + ")."
        + verdict
        + interrupted
    )
