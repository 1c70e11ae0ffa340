"""A small numpy groove synthesizer, and the generator of the demo library in ``audio/``.

Every sound is synthesised (no samples): a pitched-sweep kick, a noise-and-tone
snare, high-passed-noise hi-hats, a metallic ride and a plucked saw-ish bass
playing a short riff. Each hit lands on an exact grid at the nominal tempo
plus a small random offset (gaussian, ~7 ms) and a random velocity; the
offsets never accumulate, so the nominal tempo is the ground truth. The
random generator is seeded: the same arguments give the same samples.

Regenerate the bundled library (tracks plus ``manifest.csv``)::

    .venv/bin/python examples/groove_generator.py audio
"""

from __future__ import annotations

import argparse
import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ARTIST = "cadence demo"
#: Peak level of a rendered groove (dBFS).
PEAK_DBFS = -1.0
#: Standard deviation of the timing offset of every hit (seconds).
TIMING_JITTER_S = 0.007
#: Standard deviation of the relative velocity variation of every hit.
VELOCITY_JITTER = 0.08
#: Where the first grid position lies (seconds), so early hits are not cut.
LEAD_IN_S = 0.05


@dataclass(frozen=True)
class Pattern:
    """One cycle of a groove on a step grid.

    Attributes
    ----------
    steps_per_beat : int
        Grid steps per quarter note (4: sixteenths; 3: triplet eighths).
    bars : int
        Bars (of four beats) in one cycle.
    hits : dict
        Instrument name -> list of (step, velocity), steps counted from the
        start of the cycle.
    bass : list
        (step, semitones above the root, length in steps) of each bass note.
    root_hz : float
        Bass root frequency.
    """

    steps_per_beat: int
    bars: int
    hits: dict[str, list[tuple[int, float]]]
    bass: list[tuple[int, int, int]]
    root_hz: float

    @property
    def steps(self) -> int:
        return self.steps_per_beat * 4 * self.bars


def _every(start: int, step: int, end: int, vel: float, accent: float | None = None, *, each=4):
    """(step, velocity) from `start` to `end` every `step`, louder on multiples of `each`."""
    return [
        (s, accent if accent is not None and s % each == 0 else vel)
        for s in range(start, end, step)
    ]


PATTERNS: dict[str, Pattern] = {
    # Straight rock: kick on 1 and 3 (+ the "and" of 3), snare on 2 and 4, eighth hats.
    "rock8": Pattern(
        steps_per_beat=4,
        bars=2,
        hits={
            "kick": [(0, 1.0), (8, 0.9), (10, 0.7), (16, 1.0), (24, 0.9), (26, 0.7), (30, 0.5)],
            "snare": [(4, 0.9), (12, 0.95), (20, 0.9), (28, 0.95)],
            "hat": _every(0, 2, 32, 0.45, 0.65),
            "open_hat": [(30, 0.5)],
        },
        bass=[
            *[(0, 0, 3), (4, 0, 2), (8, 0, 2), (10, 3, 2), (12, 5, 4)],
            *[(16, 0, 3), (20, 0, 2), (24, 7, 2), (26, 5, 2), (28, 3, 4)],
        ],
        root_hz=82.41,  # E2
    ),
    # Dance: kick on every beat, clap-like snare on 2 and 4, open hat on the off-beats.
    "four_floor": Pattern(
        steps_per_beat=4,
        bars=1,
        hits={
            "kick": _every(0, 4, 16, 1.0),
            "snare": [(4, 0.8), (12, 0.8)],
            "hat": [(s, 0.35) for s in (1, 3, 5, 7, 9, 11, 13, 15)],
            "open_hat": [(s, 0.55) for s in (2, 6, 10, 14)],
        },
        bass=[(2, 0, 2), (6, 12, 2), (10, 0, 2), (14, 10, 2)],
        root_hz=55.0,  # A1
    ),
    # Motorik: steady kick on the beats, snare on 2 and 4, even eighths on the ride.
    "motorik": Pattern(
        steps_per_beat=4,
        bars=2,
        hits={
            "kick": [*_every(0, 4, 32, 0.9), (14, 0.6), (30, 0.6)],
            "snare": [(4, 0.8), (12, 0.85), (20, 0.8), (28, 0.85)],
            "ride": _every(0, 2, 32, 0.35, 0.5),
        },
        bass=[(s, 0 if s < 16 else -2, 2) for s in range(0, 32, 2)],
        root_hz=73.42,  # D2
    ),
    # Half time: snare on beat 3 only, busy kick, eighth hats.
    "halftime": Pattern(
        steps_per_beat=4,
        bars=2,
        hits={
            "kick": [(0, 1.0), (3, 0.6), (10, 0.8), (16, 1.0), (22, 0.7), (26, 0.8)],
            "snare": [(8, 1.0), (24, 1.0), (31, 0.3)],
            "hat": _every(0, 2, 32, 0.4, 0.6),
            "open_hat": [(14, 0.5)],
        },
        bass=[(0, 0, 6), (10, 3, 4), (16, 0, 6), (22, -2, 4), (26, -5, 6)],
        root_hz=87.31,  # F2
    ),
    # Funk: syncopated kick, ghost notes on the snare, sixteenth hats with accents.
    "funk16": Pattern(
        steps_per_beat=4,
        bars=1,
        hits={
            "kick": [(0, 1.0), (3, 0.6), (6, 0.8), (10, 0.9)],
            "snare": [(4, 0.95), (7, 0.2), (9, 0.25), (12, 0.95), (15, 0.2)],
            "hat": _every(0, 1, 16, 0.25, 0.55, each=2),
            "open_hat": [(14, 0.45)],
        },
        bass=[(0, 0, 2), (3, 12, 1), (6, 0, 1), (7, 10, 1), (10, 7, 2), (13, 5, 1), (14, 3, 2)],
        root_hz=61.74,  # B1
    ),
    # Shuffle on a triplet grid: swung hats (beat and third triplet), walking bass.
    "shuffle": Pattern(
        steps_per_beat=3,
        bars=2,
        hits={
            "kick": [(0, 1.0), (5, 0.5), (6, 0.9), (12, 1.0), (18, 0.9), (23, 0.5)],
            "snare": [(3, 0.9), (9, 0.9), (15, 0.9), (21, 0.9), (20, 0.25)],
            "hat": [(s, 0.5 if s % 3 == 0 else 0.3) for s in range(24) if s % 3 != 1],
            "ride": [(0, 0.35), (12, 0.35)],
        },
        bass=[
            *[(0, 0, 3), (3, 4, 3), (6, 7, 3), (9, 9, 3)],
            *[(12, 10, 3), (15, 9, 3), (18, 7, 3), (21, 4, 3)],
        ],
        root_hz=65.41,  # C2
    ),
}


# -- instruments ------------------------------------------------------------------------------


def _decay(n: int, sr: int, tau_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (sr * tau_s))


def _band_noise(rng: np.random.Generator, n: int, sr: int, lo_hz: float, hi_hz: float):
    """White noise band-limited to [lo_hz, hi_hz] (FFT mask), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / sr)
    spec[(freqs < lo_hz) | (freqs > hi_hz)] = 0
    out = np.fft.irfft(spec, n)
    return out / (np.sqrt(np.mean(out**2)) + 1e-12)


def kick(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Pitched sine sweep (150 -> 48 Hz) with an exponential decay and a short click."""
    n = int(0.45 * sr)
    t = np.arange(n) / sr
    freq = 48 + (150 - 48) * np.exp(-t / 0.035)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * _decay(n, sr, 0.16)
    click = _band_noise(rng, n, sr, 1000, 6000) * _decay(n, sr, 0.003) * 0.25
    return body + click


def snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Noise burst (the wires) over a short 185 Hz tone (the shell)."""
    n = int(0.28 * sr)
    t = np.arange(n) / sr
    noise = _band_noise(rng, n, sr, 1200, 9000) * _decay(n, sr, 0.07) * 0.45
    tone = np.sin(2 * np.pi * 185 * t) * _decay(n, sr, 0.045) * 0.7
    return noise + tone


def closed_hat(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Short high-passed noise."""
    n = int(0.07 * sr)
    return _band_noise(rng, n, sr, 7000, sr / 2) * _decay(n, sr, 0.012) * 0.3


def open_hat(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Longer high-passed noise."""
    n = int(0.35 * sr)
    return _band_noise(rng, n, sr, 6000, sr / 2) * _decay(n, sr, 0.11) * 0.22


def ride(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Inharmonic partials plus high noise, a long ring."""
    n = int(0.8 * sr)
    t = np.arange(n) / sr
    partials = sum(
        np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in (3150, 4240, 5370, 6810)
    )
    noise = _band_noise(rng, n, sr, 5000, sr / 2)
    ping = _decay(n, sr, 0.004) * 0.5
    return (0.05 * partials + 0.12 * noise) * (_decay(n, sr, 0.3) + ping)


def bass_note(sr: int, freq_hz: float, length_s: float) -> np.ndarray:
    """A plucked saw-ish note: band-limited saw whose upper harmonics die first."""
    n = int((length_s + 0.05) * sr)
    t = np.arange(n) / sr
    out = np.zeros(n)
    for k in range(1, 13):
        if k * freq_hz > 0.45 * sr:
            break
        out += np.sin(2 * np.pi * k * freq_hz * t) / k * _decay(n, sr, 0.35 / k)
    env = np.minimum(t / 0.004, 1.0)
    env *= np.clip((length_s + 0.05 - t) / 0.05, 0.0, 1.0)  # release over the last 50 ms
    return out * env * 0.5


INSTRUMENTS = {
    "kick": (kick, 0.9),
    "snare": (snare, 0.7),
    "hat": (closed_hat, 0.6),
    "open_hat": (open_hat, 0.6),
    "ride": (ride, 0.5),
}


# -- rendering --------------------------------------------------------------------------------


def _place(mix: np.ndarray, sound: np.ndarray, at_s: float, gain: float, sr: int) -> None:
    start = max(round(at_s * sr), 0)
    if start >= len(mix):
        return
    end = min(start + len(sound), len(mix))
    mix[start:end] += gain * sound[: end - start]


def render_groove(
    bpm: float, *, pattern: str, duration_s: float, sr: int = 44100, seed: int = 0
) -> np.ndarray:
    """Render a humanised drum-and-bass groove at an exact nominal tempo.

    Parameters
    ----------
    bpm : float
        Tempo of the quarter-note grid (beats per minute): the ground truth.
    pattern : str, keyword-only
        One of :data:`PATTERNS` (``rock8``, ``four_floor``, ``motorik``,
        ``halftime``, ``funk16``, ``shuffle``).
    duration_s : float, keyword-only
        Length of the result (seconds).
    sr : int, keyword-only
        Sample rate (Hz).
    seed : int, keyword-only
        Seed of the random generator (timing, velocity and noise).

    Returns
    -------
    numpy.ndarray, shape (round(duration_s * sr),), float32
        Mono samples peak-normalised to :data:`PEAK_DBFS` (about -1 dBFS).

    Raises
    ------
    ValueError
        Unknown pattern, or a non-positive tempo, duration or sample rate.

    Notes
    -----
    Grid position ``k`` lies at ``LEAD_IN_S + k * step`` exactly; every hit
    gets its own gaussian offset (std :data:`TIMING_JITTER_S`) and velocity
    factor, so timing errors never accumulate.

    Examples
    --------
    >>> x = render_groove(120, pattern="rock8", duration_s=2.0, sr=8000, seed=1)
    >>> x.shape, x.dtype, round(float(np.abs(x).max()), 3)
    ((16000,), dtype('float32'), 0.891)
    """
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; use one of {', '.join(PATTERNS)}")
    if bpm <= 0 or duration_s <= 0 or sr <= 0:
        raise ValueError("bpm, duration_s and sr must be positive")
    pat = PATTERNS[pattern]
    rng = np.random.default_rng(seed)
    n = round(duration_s * sr)
    mix = np.zeros(n)
    step_s = 60.0 / bpm / pat.steps_per_beat
    cycles = int(np.ceil(duration_s / (step_s * pat.steps))) + 1

    def when(cycle: int, step: int) -> float:
        grid = LEAD_IN_S + (cycle * pat.steps + step) * step_s
        return grid + float(np.clip(rng.normal(0, TIMING_JITTER_S), -0.02, 0.02))

    def velocity(vel: float) -> float:
        return vel * float(np.clip(1 + rng.normal(0, VELOCITY_JITTER), 0.7, 1.3))

    for cycle in range(cycles):
        for name, hits in pat.hits.items():
            make, gain = INSTRUMENTS[name]
            for step, vel in hits:
                _place(mix, make(sr, rng), when(cycle, step), gain * velocity(vel), sr)
        for step, semitones, length in pat.bass:
            note = bass_note(sr, pat.root_hz * 2 ** (semitones / 12), length * step_s * 0.9)
            _place(mix, note, when(cycle, step), 0.8 * velocity(0.9), sr)

    fade = min(int(0.05 * sr), n)
    mix[n - fade :] *= np.linspace(1.0, 0.0, fade)
    peak = np.max(np.abs(mix))
    if peak > 0:
        mix *= 10 ** (PEAK_DBFS / 20) / peak
    return mix.astype(np.float32)


# -- the demo library -------------------------------------------------------------------------


@dataclass(frozen=True)
class Track:
    """One track of the demo library."""

    file: str
    title: str
    bpm: float
    pattern: str
    seconds: float
    sr: int = 22050


#: Demo target 164 spm, tolerance 3: fits when bpm or 2 x bpm lies in 161-167.
LIBRARY = [
    # Fit directly.
    Track("sunrise-run.mp3", "Sunrise Run", 164, "rock8", 26),
    Track("neon-stride.ogg", "Neon Stride", 162, "four_floor", 24),
    Track("tailwind.m4a", "Tailwind", 166, "motorik", 24),
    # Fit at half time (2 steps per beat).
    Track("harbour-funk.ogg", "Harbour Funk", 82, "funk16", 28),
    Track("back-porch-shuffle.flac", "Back Porch Shuffle", 83.5, "shuffle", 20),
    Track("long-shadows.mp3", "Long Shadows", 81, "rock8", 26),
    # Do not fit.
    Track("city-lights.mp3", "City Lights", 128, "four_floor", 25),
    Track("morning-coffee.wav", "Morning Coffee", 100, "funk16", 20),
    Track("garage-door.ogg", "Garage Door", 140, "halftime", 24),
    Track("river-walk.mp3", "River Walk", 120, "shuffle", 25),
]

#: Lossy quality: libsndfile's compression level (0 best .. 1 smallest; 0.6 is 64 kbit/s
#: MP3 at 22050 Hz) and the AAC bit rate. MP3 is constant bit rate: libsndfile 1.2.2
#: decodes VBR MP3 read in blocks (as the analyzer reads) with glitches; CBR decodes
#: exactly (mpg123 may still log "part2_3_length ... too large" at block boundaries).
COMPRESSION_LEVEL = 0.6
AAC_BIT_RATE = 64000
#: Ogg stream serial number ("cade"), fixed so that the output is reproducible byte for byte.
OGG_SERIAL = 0x63616465


def _write_m4a(path: Path, samples: np.ndarray, sr: int) -> None:
    """Write mono AAC in an MP4 container with PyAV (FFmpeg)."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=sr, layout="mono")
        stream.bit_rate = AAC_BIT_RATE
        frame_size = 1024
        for start in range(0, len(samples), frame_size):
            chunk = samples[start : start + frame_size].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = sr
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _pin_ogg_serial(path: Path) -> None:
    """Give every Ogg page the same fixed stream serial (libsndfile picks a random one).

    With it, regenerating the library gives byte-identical files.
    """
    from mutagen.ogg import OggPage

    size = path.stat().st_size
    pages = []
    with open(path, "rb") as fh:
        while fh.tell() < size:
            pages.append(OggPage(fh))
    for page in pages:
        page.serial = OGG_SERIAL
    path.write_bytes(b"".join(page.write() for page in pages))  # write() redoes the CRC


def _tag(path: Path, title: str) -> None:
    """Title and artist, where mutagen has an easy tag interface for the format."""
    import mutagen

    f = mutagen.File(path, easy=True)
    if f is None:
        return
    if f.tags is None:
        f.add_tags()
    try:
        f.tags["title"] = [title]
        f.tags["artist"] = [ARTIST]
    except (KeyError, ValueError, TypeError):  # no easy title/artist keys for this format
        return
    f.save()


def write_track(path: Path, samples: np.ndarray, sr: int, *, title: str) -> None:
    """Write `samples` to `path` in the format its extension names, with title/artist tags."""
    import soundfile as sf

    ext = path.suffix.lower()
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        if ext == ".m4a":
            _write_m4a(tmp, samples, sr)
        else:
            fmt, subtype = {
                ".wav": ("WAV", "PCM_16"),
                ".flac": ("FLAC", "PCM_16"),
                ".ogg": ("OGG", "VORBIS"),
                ".mp3": ("MP3", "MPEG_LAYER_III"),
            }[ext]
            lossy = {"compression_level": COMPRESSION_LEVEL} if ext in (".ogg", ".mp3") else {}
            if ext == ".mp3":
                lossy["bitrate_mode"] = "CONSTANT"
            with sf.SoundFile(tmp, "w", sr, 1, subtype, format=fmt, **lossy) as out:
                if ext in (".wav", ".flac"):
                    out.title, out.artist = title, ARTIST
                out.write(samples)
        if ext != ".wav":
            _tag(tmp, title)
        if ext == ".ogg":
            _pin_ogg_serial(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """Regenerate the demo library into OUTDIR, with OUTDIR/manifest.csv."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="folder to write the tracks into (created)")
    parser.add_argument("--seed", type=int, default=0, help="base random seed (default 0)")
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, track in enumerate(LIBRARY):
        samples = render_groove(
            track.bpm,
            pattern=track.pattern,
            duration_s=track.seconds,
            sr=track.sr,
            seed=args.seed + i,
        )
        path = args.outdir / track.file
        write_track(path, samples, track.sr, title=track.title)
        rows.append([track.file, f"{track.bpm:g}", track.pattern, f"{track.seconds:g}"])
        print(f"{path}  {track.bpm:g} BPM  {track.pattern}  {path.stat().st_size / 1024:.0f} KiB")
    with open(args.outdir / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["file", "bpm", "pattern", "seconds"])
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
