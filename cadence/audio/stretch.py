"""Time-stretching, pitch kept: the only module that talks to the stretcher.

The stretcher is Signalsmith Stretch (MIT), through ``python-stretch``. Its
Python binding stretches a whole buffer per call (it primes, processes,
flushes and resets), so a song is rendered piece by piece
(:func:`cadence.core.timemap.plan_pieces`): each piece is stretched with
:data:`PAD_S` of its neighbours' audio on both sides, so its edges are
settled, and joined to the one before by a short equal-power crossfade that
ends where the piece starts (on a beat's attack, which masks it). Each
piece's output is placed by its own closed-form position, so no rounding
builds up from piece to piece.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from cadence.core.timemap import Piece, join_correlated
from cadence.errors import ParameterError

#: Audio each side of a piece the stretcher also reads (seconds): longer than
#: its analysis window (~0.12 s at 44.1 kHz), so a piece's edges are settled.
PAD_S = 0.25
#: Crossfade between two pieces (seconds), ending where the later one starts.
JOIN_S = 0.02
#: A piece may move this much (seconds) to line up with the one before at
#: the join (two renders of a held note meet in phase, not cancelling).
ALIGN_S = 0.001


def _stretcher(channels: int, sr: int):
    import python_stretch

    s = python_stretch.Signalsmith.Stretch(0)  # seeded: the same output every run
    s.preset(channels, float(sr))
    return s


def stretch_pieces(
    samples: np.ndarray,
    pieces: list[Piece],
    *,
    sr: int,
    join_s: float = JOIN_S,
) -> Iterator[np.ndarray]:
    """The stretched song, block after block, from output sample 0 of the first piece.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n_samples, n_channels), float32
        The source (1 or 2 channels).
    pieces : list of Piece
        Contiguous pieces (:func:`cadence.core.timemap.plan_pieces`); output
        seconds from ``pieces[0].output_start_s``.
    sr : int, keyword-only
        The sample rate (Hz) of the source and the output.
    join_s : float, keyword-only
        Crossfade between pieces (seconds).

    Yields
    ------
    numpy.ndarray, shape (n, n_channels), float32
        Consecutive blocks; together ``round(end * sr) - round(start * sr)``
        samples, from the first piece's output start to the last one's end.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 2 or samples.shape[1] not in (1, 2):
        raise ParameterError("samples", f"must be (samples, 1 or 2 channels), got {samples.shape}")
    if not pieces:
        return
    channels = samples.shape[1]
    n = len(samples)
    pad = round(PAD_S * sr)
    join = round(join_s * sr)
    stretcher = _stretcher(channels, sr)
    held: np.ndarray | None = None  # the previous piece's last `join` samples
    origin = round(pieces[0].output_start_s * sr)
    for i, piece in enumerate(pieces):
        o0 = round(piece.output_start_s * sr) - origin
        o1 = round(piece.output_end_s * sr) - origin
        speed = piece.speed
        s0 = piece.source_start_s * sr
        a0 = max(0, round(s0) - pad)
        a1 = min(n, round(piece.source_end_s * sr) + pad)
        lead = join if i > 0 else 0
        stretcher.timeFactor = speed
        if a1 > a0:
            y = stretcher.process(np.ascontiguousarray(samples[a0:a1].T)).T
        else:
            y = np.zeros((0, channels), np.float32)
        # Output sample j (of this song) is source sample s0 + (j - o0) * speed,
        # which is sample m = j + shift of the stretcher's output.
        shift = round((s0 - a0) / speed) - o0
        if held is not None:
            shift += _best_lag(held, y, o0 - lead + shift, round(ALIGN_S * sr))
        out = _window(y, o0 - lead + shift, o1 + shift)
        if held is not None:
            out[:join] = join_correlated(held, out[:join])
        last = i == len(pieces) - 1
        body_end = len(out) if last else len(out) - join
        if body_end > 0:
            yield out[:body_end]
        held = None if last else out[body_end:]


def _best_lag(held: np.ndarray, y: np.ndarray, start: int, most: int) -> int:
    """The lag, within ±`most` samples, at which ``y[start + lag:]`` best matches `held`."""
    n = len(held)
    a = held.sum(axis=1)
    b = _window(y, start - most, start + n + most).sum(axis=1)
    scores = np.correlate(b, a, mode="valid")  # lag -most .. +most
    return int(np.argmax(scores)) - most if np.any(scores) else 0


def _window(y: np.ndarray, start: int, end: int) -> np.ndarray:
    """``y[start:end]``, with zeros where that runs past either end of `y`."""
    out = np.zeros((max(0, end - start), y.shape[1]), dtype=np.float32)
    lo, hi = max(start, 0), min(end, len(y))
    if hi > lo:
        out[lo - start : hi - start] = y[lo:hi]
    return out
