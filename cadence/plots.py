"""Pictures: a folder's tempo histogram and a run's cadence over time.

The only module that imports matplotlib (an optional extra,
``pip install 'cadence-trainer[plot]'``), inside the functions. Plots are
written atomically; the file's extension picks the format (.png, .svg, .pdf).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cadence.core.matching import TrackFit
from cadence.errors import ParameterError


def check_matplotlib() -> None:
    """Fail early, before long work, when matplotlib is not installed.

    Raises
    ------
    ParameterError
        Naming ``plot`` and the install command.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ParameterError(
            "plot", "needs matplotlib: pip install 'cadence-trainer[plot]'"
        ) from None


#: How the picture formats matplotlib writes begin.
_PICTURE_MAGICS = (b"\x89PNG\r\n\x1a\n", b"%PDF-", b"%!PS", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")


def is_picture(path: Path) -> bool:
    """Whether a file is a picture (PNG, PDF, PS/EPS, JPEG, TIFF, SVG): what a plot replaces."""
    from cadence.files import starts_with

    return starts_with(path, *_PICTURE_MAGICS) or starts_with(path, b"<svg", within=4096)


def check_plot_path(path: str | os.PathLike, *, force: bool = False) -> None:
    """Refuse, before any work, a plot file matplotlib cannot write or that would replace
    something that is not a picture.

    Raises
    ------
    ParameterError
        Naming ``plot``: no matplotlib, an extension it cannot write, or an
        existing file that is not a picture (without `force`).
    """
    check_matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    from cadence.files import check_output_folder, check_replaceable

    check_output_folder(path, parameter="plot")
    formats = FigureCanvasBase.get_supported_filetypes()
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in formats:
        raise ParameterError(
            "plot",
            f"{os.fspath(path)}: cannot draw a .{ext or '(no extension)'} file; "
            f"use {', '.join('.' + f for f in ('png', 'svg', 'pdf'))}",
        )
    check_replaceable(path, parameter="plot", kind="a picture", is_own_kind=is_picture, force=force)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike) -> None:
    from cadence.files import atomic_path

    suffix = Path(path).suffix or ".png"
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=suffix.lstrip("."))
    except ValueError as exc:  # an extension matplotlib cannot write
        raise ParameterError("plot", f"{path}: {exc}") from None
    except OSError as exc:
        from cadence.files import write_failure

        raise ParameterError("plot", f"{path}: cannot write ({write_failure(exc)})") from None
    finally:
        _pyplot().close(fig)


def plot_tempo_histogram(
    fits: Sequence[TrackFit],
    path: str | os.PathLike,
    *,
    target: float,
    tolerance: float,
    folder: str,
) -> None:
    """A histogram of a folder's step tempos with the target band marked.

    Parameters
    ----------
    fits : sequence of TrackFit
        Every track of the folder with its fit (:func:`cadence.core.matching.fit_tracks`).
    path : path-like
        Image file to write; its extension picks the format.
    target, tolerance : float, keyword-only
        The target cadence and the tolerance of a fit, steps/min.
    folder : str
        The folder, for the title.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    steps = [f.match.step_bpm for f in fits if f.match.step_bpm is not None]
    fitting = [f.match.step_bpm for f in fits if f.fits]
    others = [f.match.step_bpm for f in fits if f.match.step_bpm is not None and not f.fits]
    fig, ax = plt.subplots(figsize=(8, 4), dpi=110)
    if steps:
        lo, hi = int(min(min(steps), target - 20)), int(max(max(steps), target + 20)) + 2
        # One bar a whole step/min, centred on it; tracks that fit are drawn in
        # their own colour, so a track at the band's edge reads as it counts.
        bins = [b - 0.5 for b in range(lo, hi + 1)]
        ax.hist(
            [others, fitting],
            bins=bins,
            stacked=True,
            color=["#4878a8", "#2e8b57"],
            edgecolor="white",
            label=["does not fit", "fits"],
        )
    ax.axvspan(
        target - tolerance,
        target + tolerance,
        color="#e8a33d",
        alpha=0.35,
        label=f"target {target:g} ± {tolerance:g} spm",
    )
    ax.axvline(target, color="#c8602d")
    ax.set_xlabel("track tempo in steps per minute (BPM, or 2 × BPM at half time)")
    ax.set_ylabel("tracks")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{len(fitting)} of {len(fits)} tracks fit — {folder}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    _save(fig, path)


def plot_run_cadence(
    summary: Any, path: str | os.PathLike, *, targets_spm: tuple[int, ...] = ()
) -> None:
    """Cadence over a recording: counted records, left-out ones, median, targets.

    Parameters
    ----------
    summary : cadence.core.activity.RunCadence
        What :func:`cadence.core.activity.summarize_recording` returned.
    path : path-like
        Image file to write.
    targets_spm : tuple of int, keyword-only
        Target cadences to draw (the +5 % and +10 % targets of a run).
    """
    import numpy as np

    plt = _pyplot()
    minutes = summary.time_s / 60.0
    spm = summary.spm
    counted = summary.counted
    fig, ax = plt.subplots(figsize=(9, 4), dpi=110)
    left_out = ~counted & np.isfinite(spm)
    ax.plot(
        minutes[left_out],
        spm[left_out],
        ".",
        ms=3,
        color="#b0b0b0",
        label="left out (stops, walking, impossible values)",
    )
    ax.plot(minutes[counted], spm[counted], ".", ms=3, color="#4878a8", label="counted")
    ax.axhspan(summary.p10_spm, summary.p90_spm, color="#4878a8", alpha=0.12, label="10–90 %")
    ax.axhline(
        summary.median_spm,
        color="#1f3f66",
        lw=1.6,
        label=f"median {summary.median_spm:.1f} spm",
    )
    for pct, target in zip((5, 10), targets_spm):
        ax.axhline(target, color="#c8602d", lw=1.2, ls="--" if pct == 5 else ":")
        ax.annotate(
            f"+{pct} %: {target}",
            (1.0, target),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            color="#c8602d",
        )
    if summary.split_kind == "lap":
        for split in summary.splits[1:]:
            ax.axvline(split.start_s / 60.0, color="#dddddd", lw=0.8, zorder=0)
    # Stops (0 spm) would squash the picture; show from the slowest step up.
    stepping = spm[np.isfinite(spm) & (spm >= 60)]
    lo = min(float(stepping.min()), summary.p10_spm, *targets_spm)
    hi = max(float(stepping.max()), summary.p90_spm, *targets_spm)
    ax.set_ylim(lo - 5, hi + 8)
    ax.set_xlabel("time from start (min)")
    ax.set_ylabel("cadence (steps/min)")
    when = f" — {summary.start:%Y-%m-%d %H:%M} UTC" if summary.start else ""
    ax.set_title(f"{Path(summary.name).name}{when}")
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=4,
        fontsize="small",
        frameon=False,
    )
    fig.tight_layout()
    _save(fig, path)
