"""Real audio files for analyzer tests, made here: drum-like pulses at known tempos."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def groove(bpm: float, seconds: float, *, sr: int = 22050, seed: int = 0) -> np.ndarray:
    """Kick on beats 1 and 3, snare on 2 and 4, hi-hat on eighths, slight human timing."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n + sr, dtype=np.float64)
    t = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 40)) * t) * np.exp(-t * 18)
    snare = (rng.standard_normal(len(t)) * 0.6 + np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 25)
    hat = rng.standard_normal(int(0.04 * sr)) * np.exp(-np.arange(int(0.04 * sr)) / sr * 120) * 0.3
    beat_s = 60.0 / bpm
    k = 0
    while k * beat_s / 2 < seconds:
        at = int((k * beat_s / 2 + rng.normal(0, 0.004)) * sr)
        if at >= 0:
            out[at : at + len(hat)] += hat
            if k % 2 == 0:
                beat = k // 2
                drum = kick if beat % 2 == 0 else snare
                out[at : at + len(drum)] += drum * (0.9 + 0.1 * rng.random())
        k += 1
    out = out[:n] + rng.standard_normal(n) * 1e-4
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


def write(path: Path, audio: np.ndarray, *, sr: int = 22050) -> Path:
    """Write `audio` in the format of `path`'s extension (M4A through PyAV)."""
    if path.suffix == ".m4a":
        return _write_m4a(path, audio.astype(np.float32), codec="aac", sample_format="flt", sr=sr)
    import soundfile as sf

    if path.suffix == ".opus":  # Opus runs at 48 kHz; libsndfile writes it in Ogg
        import soxr

        audio = soxr.resample(audio, sr, 48000)
        sf.write(os.fsencode(path), audio, 48000, format="OGG", subtype="OPUS")
        return path
    sf.write(os.fsencode(path), audio, sr)  # bytes: any file name
    return path


def write_alac(path: Path, audio: np.ndarray, *, sr: int = 44100) -> Path:
    """Apple Lossless in an M4A container (iTunes' lossless format), through PyAV."""
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    return _write_m4a(path, pcm, codec="alac", sample_format="s16p", sr=sr)


def _write_m4a(path: Path, pcm: np.ndarray, *, codec: str, sample_format: str, sr: int) -> Path:
    """Encode mono `pcm` (already in `sample_format`) with PyAV into an M4A file."""
    return encode_with_pyav(
        path, pcm[None], codec=codec, sample_format=sample_format, sr=sr, container="ipod"
    )


def encode_with_pyav(
    path: Path,
    planes: np.ndarray,
    *,
    codec: str,
    sample_format: str,
    sr: int,
    container: str,
    layout: str | None = None,
) -> Path:
    """Encode (channels, samples) `planes` (already in `sample_format`) with PyAV."""
    import av

    layout = layout or ("mono" if len(planes) == 1 else "stereo")
    with open(path, "wb") as fh, av.open(fh, "w", format=container) as c:
        stream = c.add_stream(codec, rate=sr, layout=layout)
        for i in range(0, planes.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(planes[:, i : i + 1024]), format=sample_format, layout=layout
            )
            frame.sample_rate = sr
            for packet in stream.encode(frame):
                c.mux(packet)
        for packet in stream.encode(None):
            c.mux(packet)
    return path


def copy_bytes(track: bytes, path: Path) -> Path:
    """Write `track` (a file's bytes) to `path`, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(track)
    return path


def drums_on_beats(
    beat_times_s: np.ndarray,
    *,
    sr: int = 22050,
    first_bar_beat: int = 0,
    swing: float = 0.5,
    seconds: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """A drum groove whose beats fall exactly at `beat_times_s` (any tempo map).

    Bars of four: kick and a bass note on beat 1 (the downbeat), snare on 2
    and 4, a softer kick on 3; a hi-hat on every beat and one between beats at
    `swing` of the way (0.5 straight eighths, 2/3 swung). `first_bar_beat`
    is the place in its bar of the first beat (3: a one-beat pickup).
    """
    rng = np.random.default_rng(seed)
    beat_times_s = np.asarray(beat_times_s, dtype=np.float64)
    end_s = seconds if seconds is not None else beat_times_s[-1] + 1.0
    n = int(end_s * sr)
    out = np.zeros(n + sr, dtype=np.float64)
    t = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 40)) * t) * np.exp(-t * 18)
    bass = 0.6 * np.sin(2 * np.pi * 55 * t) * np.exp(-t * 6)
    snare = (rng.standard_normal(len(t)) * 0.6 + np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 25)
    hat = rng.standard_normal(int(0.04 * sr)) * np.exp(-np.arange(int(0.04 * sr)) / sr * 120) * 0.3

    def add(sound: np.ndarray, at_s: float, gain: float = 1.0) -> None:
        at = round(at_s * sr)
        if 0 <= at < n:
            out[at : at + len(sound)] += gain * sound

    for i, beat in enumerate(beat_times_s):
        place = (first_bar_beat + i) % 4
        add(hat, beat)
        if i + 1 < len(beat_times_s):
            add(hat, beat + swing * (beat_times_s[i + 1] - beat), 0.7)
        if place == 0:
            add(kick, beat)
            add(bass, beat)
        elif place == 2:
            add(kick, beat, 0.6)
        else:
            add(snare, beat)
    out = out[:n] + rng.standard_normal(n) * 1e-4
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


def clicks_on_beats(beat_times_s: np.ndarray, *, sr: int = 22050, seconds: float) -> np.ndarray:
    """A metronome click track (cadence's own click sound) at `beat_times_s`."""
    from cadence.core.synth import synthesize_voice

    click = synthesize_voice("click", sr=sr)
    out = np.zeros(int(seconds * sr) + len(click), dtype=np.float32)
    for beat in beat_times_s:
        at = round(beat * sr)
        out[at : at + len(click)] += 0.5 * click
    return out[: int(seconds * sr)]


def clicks_at_random(seconds: float, *, sr: int = 22050, n: int = 120, seed: int = 3) -> np.ndarray:
    """Clicks at random moments (no period for a misplaced window to match at another beat)."""
    rng = np.random.default_rng(seed)
    return clicks_on_beats(np.sort(rng.uniform(0, seconds - 0.5, n)), sr=sr, seconds=seconds)


def window_lag_s(window, whole) -> float:
    """How much later in the file the audio of `window` (an Envelope read from
    part-way) lies than its `frame_start_s` says: the shift, in whole frames,
    at which its full-band flux best matches that of `whole` (the file read
    from its start). 0 when the window is where it says it is."""
    rate = whole.frame_rate_hz
    x = window.bands[0]
    at = round((window.frame_start_s - whole.frame_start_s) * rate)
    errors = {}
    for lag in range(-40, 41):
        y = whole.bands[0, at + lag + 20 : at + lag + len(x) - 20]
        errors[lag] = float(np.mean(np.abs(x[20 : 20 + len(y)] - y)))
    return min(errors, key=errors.get) / rate


def without_info_frame(path: Path) -> Path:
    """`path`, an MP3 from LameWriter, without the LAME/Xing frame after its ID3v2
    tag that gives its length: decoders then guess the length from the first
    frame's bit rate, as for an MP3 from an encoder that writes no such frame."""
    data = path.read_bytes()
    at = 10 + (data[6] << 21 | data[7] << 14 | data[8] << 7 | data[9])  # after the ID3v2 tag
    header = data[at : at + 4]
    kbps = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320][header[2] >> 4]
    length = 144 * kbps * 1000 // 44100 + (header[2] >> 1 & 1)  # MPEG-1 layer III, 44.1 kHz
    assert b"Xing" in data[at : at + length] or b"Info" in data[at : at + length]
    path.write_bytes(data[:at] + data[at + length :])
    return path


def analysis_blocks(reader, path, start_s: float = 0.0) -> tuple[int, int, list[np.ndarray]]:
    """What a block reader (``_blocks_pyav``, ``blocks_mpg123``, ...) gives for
    `path`: its rate, its declared length (samples) and its blocks of 16384."""
    blocks = reader(str(path), 16384, start_s)
    rate, length = next(blocks), next(blocks)
    return rate, length, list(blocks)
