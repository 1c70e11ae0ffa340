"""Metronome sounds, synthesized with numpy: no sample files.

Every sound is a short float32 array at the caller's sample rate whose first
sample is non-zero (the onset is the first sample, exactly), with a peak of
1.0 before the gain. Beat voices come in a plain and an accented form; the
cues mark interval changes (a rising two-tone) and count down to them (short
pips).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cadence.core.session import VOICES
from cadence.errors import ParameterError

__all__ = ["VOICES", "VoiceBank", "check_volume_db", "db_to_gain", "synthesize_voice", "voice_bank"]
#: Plain beats sit this far below accents.
UNACCENTED_DB = -5.0
#: Cues sit a little below the beat so they don't mask it.
CUE_DB = -3.0


def db_to_gain(db: float) -> float:
    """Amplitude factor of a level in dB (0 dB -> 1.0, -6 dB -> ~0.5)."""
    return float(10.0 ** (db / 20.0))


def _envelope(n: int, *, sr: int, attack_s: float, decay_tau_s: float) -> np.ndarray:
    t = np.arange(n) / sr
    n_attack = max(1, round(attack_s * sr))
    # Starts at 1/n_attack, not 0, so the first sample already sounds.
    attack = np.minimum(1.0, (np.arange(n) + 1) / n_attack)
    return attack * np.exp(-t / decay_tau_s)


def _modes(
    freqs_hz: tuple[float, ...],
    amps: tuple[float, ...],
    taus_s: tuple[float, ...],
    *,
    sr: int,
    duration_s: float,
    attack_s: float,
) -> np.ndarray:
    n = max(1, round(duration_s * sr))
    t = np.arange(n) / sr
    out = np.zeros(n)
    for f, a, tau in zip(freqs_hz, amps, taus_s):
        # cos, so the first sample is at the crest.
        out += (
            a * np.cos(2 * np.pi * f * t) * _envelope(n, sr=sr, attack_s=attack_s, decay_tau_s=tau)
        )
    # Fade the last 10 % to exact zero so no sound ends on a step.
    fade = max(1, n // 10)
    out[-fade:] *= np.linspace(1.0, 0.0, fade)
    return (out / np.max(np.abs(out))).astype(np.float32)


def synthesize_voice(voice: str, *, sr: int, accent: bool = False) -> np.ndarray:
    """One beat sound.

    Parameters
    ----------
    voice : {"click", "beep", "woodblock"}
        The sound.
    sr : int, keyword-only
        Sample rate in Hz.
    accent : bool, keyword-only
        The accented form: higher pitched (the level is set by :func:`voice_bank`).

    Returns
    -------
    numpy.ndarray, shape (n,), float32
        Peak 1.0; ``out[0] != 0``.

    Raises
    ------
    ParameterError
        For an unknown voice or a sample rate outside 8-384 kHz.

    Examples
    --------
    >>> x = synthesize_voice("woodblock", sr=44100)
    >>> x.dtype, bool(x[0] != 0), float(abs(x).max())
    (dtype('float32'), True, 1.0)
    """
    check_sr(sr)
    pitch = 1.5 if accent else 1.0
    if voice == "click":
        return _modes(
            (2500 * pitch, 5200 * pitch),
            (1.0, 0.6),
            (0.0015, 0.0008),
            sr=sr,
            duration_s=0.012,
            attack_s=0,
        )
    if voice == "beep":
        return _modes((880 * pitch,), (1.0,), (0.02,), sr=sr, duration_s=0.06, attack_s=0.001)
    if voice == "woodblock":
        return _modes(
            (1000 * pitch, 2650 * pitch, 4100 * pitch),
            (1.0, 0.5, 0.2),
            (0.012, 0.006, 0.003),
            sr=sr,
            duration_s=0.05,
            attack_s=0.0005,
        )
    raise ParameterError("voice", f"unknown voice {voice!r}; choose one of {', '.join(VOICES)}")


def check_sr(sr: int) -> None:
    """Refuse a sample rate (Hz) that is not a whole number in 8000-384000."""
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 8000 <= sr <= 384000:
        raise ParameterError(
            "sr", f"sample rate must be a whole number of Hz in 8000-384000, got {sr!r}"
        )


@dataclass(frozen=True)
class VoiceBank:
    """Every sound a session uses, at its final level, float32.

    Attributes
    ----------
    beat, accent : numpy.ndarray
        Plain and accented step sounds.
    count_in : numpy.ndarray
        Count-in beats (a higher beep, so they are not mistaken for the session).
    pip : numpy.ndarray
        Countdown pip before an interval change.
    change : numpy.ndarray
        Cue at an interval change: a rising two-tone.
    """

    beat: np.ndarray
    accent: np.ndarray
    count_in: np.ndarray
    pip: np.ndarray
    change: np.ndarray

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        """The sounds in the order of their ids (see :data:`SOUND_IDS`)."""
        return (self.beat, self.accent, self.count_in, self.pip, self.change)


#: Index of each sound in :meth:`VoiceBank.as_tuple`.
SOUND_IDS = {"beat": 0, "accent": 1, "count_in": 2, "pip": 3, "change": 4}


def check_volume_db(volume_db: float, *, parameter: str = "volume_db") -> float:
    """`volume_db` if it is a level from -60 to 0 dB; else ParameterError naming `parameter`."""
    if not -60.0 <= volume_db <= 0.0:
        raise ParameterError(parameter, f"must be between -60 and 0 dB, got {volume_db:g}")
    return float(volume_db)


def voice_bank(voice: str = "click", *, sr: int, volume_db: float = -6.0) -> VoiceBank:
    """All the sounds of a session at the given overall level.

    Parameters
    ----------
    voice : str
        Beat voice, one of :data:`VOICES`.
    sr : int, keyword-only
        Sample rate in Hz.
    volume_db : float, keyword-only
        Level of the accent in dB full scale (0 is the loudest; default -6).

    Raises
    ------
    ParameterError
        For an unknown voice, a bad sample rate, or a volume above 0 dB or
        below -60 dB.
    """
    gain = db_to_gain(check_volume_db(volume_db))
    beat = synthesize_voice(voice, sr=sr) * np.float32(gain * db_to_gain(UNACCENTED_DB))
    accent = synthesize_voice(voice, sr=sr, accent=True) * np.float32(gain)
    count_in = _modes((1760.0,), (1.0,), (0.015,), sr=sr, duration_s=0.05, attack_s=0.001)
    pip = _modes((1320.0,), (1.0,), (0.05,), sr=sr, duration_s=0.08, attack_s=0.002)
    low = _modes((660.0,), (1.0,), (0.08,), sr=sr, duration_s=0.14, attack_s=0.002)
    high = _modes((990.0,), (1.0,), (0.1,), sr=sr, duration_s=0.2, attack_s=0.002)
    change = np.concatenate([low, high])
    cue_gain = np.float32(gain * db_to_gain(CUE_DB))
    return VoiceBank(
        beat=beat.astype(np.float32),
        accent=accent.astype(np.float32),
        count_in=(count_in * np.float32(gain)).astype(np.float32),
        pip=(pip * cue_gain).astype(np.float32),
        change=(change * cue_gain).astype(np.float32),
    )


def mix_clicks(
    audio: np.ndarray,
    *,
    sr: int,
    beats_s: np.ndarray,
    accents: np.ndarray | None = None,
    bank: VoiceBank,
    music_gain_db: float = -3.0,
) -> tuple[np.ndarray, float]:
    """A copy of `audio` with a click starting on the sample of every beat.

    Parameters
    ----------
    audio : numpy.ndarray, shape (n_samples, n_channels)
        The music, float.
    sr : int, keyword-only
        Its sample rate (Hz).
    beats_s : numpy.ndarray
        Beat times (seconds); those outside the audio are skipped.
    accents : numpy.ndarray of bool, optional, keyword-only
        Which beats get the accented sound (downbeats); none when not given.
    bank : VoiceBank, keyword-only
        The sounds (:func:`voice_bank` at `sr`).
    music_gain_db : float, keyword-only
        The music's level under the clicks (dB; default -3, room for the click).

    Returns
    -------
    mixed : numpy.ndarray
        float32, same shape, within [-1, 1]: where music and clicks would sum
        past full scale, the whole is turned down (never clipped: a clipped
        click on a loud beat crackles).
    turned_down_db : float
        How much it was turned down, beyond `music_gain_db` (dB, 0 or more).

    Examples
    --------
    >>> bank = voice_bank("click", sr=8000)
    >>> out, down_db = mix_clicks(np.zeros((8000, 1)), sr=8000, beats_s=np.array([0.5]), bank=bank)
    >>> int(np.flatnonzero(out[:, 0])[0]), down_db
    (4000, 0.0)
    """
    check_sr(sr)
    audio = np.asarray(audio)
    if audio.ndim != 2:
        raise ParameterError("audio", f"must be (samples, channels), got shape {audio.shape}")
    out = audio.astype(np.float32) * np.float32(db_to_gain(music_gain_db))
    n = len(out)
    beats_s = np.asarray(beats_s, dtype=np.float64)
    accents = np.zeros(len(beats_s), bool) if accents is None else np.asarray(accents, bool)
    for t, accent in zip(beats_s, accents):
        start = round(float(t) * sr)
        if not 0 <= start < n:
            continue
        sound = bank.accent if accent else bank.beat
        end = min(n, start + len(sound))
        out[start:end] += sound[: end - start, None]
    peak = float(np.abs(out).max()) if out.size else 0.0
    if peak <= 1.0:
        return out, 0.0
    out *= np.float32(1.0 / peak)
    return np.clip(out, -1.0, 1.0, out=out), 20.0 * math.log10(peak)


def add_clicks(
    block: np.ndarray,
    *,
    start: int,
    click_samples: np.ndarray,
    accents: np.ndarray,
    bank: VoiceBank,
) -> None:
    """Add, in place, the clicks that sound in `block`, which starts at sample `start`.

    A click that began in an earlier block goes on into this one, so a stream
    of blocks gets the same clicks as the whole at once.

    Parameters
    ----------
    block : numpy.ndarray, shape (n, n_channels), float32
        Audio, changed in place.
    start : int, keyword-only
        The stream sample of ``block[0]``.
    click_samples : numpy.ndarray of int, keyword-only
        The stream samples where clicks start, increasing.
    accents : numpy.ndarray of bool, keyword-only
        Which clicks get the accented sound.
    bank : VoiceBank, keyword-only

    Examples
    --------
    >>> bank = voice_bank("click", sr=8000)
    >>> clicks, accents = np.array([90]), np.array([False])
    >>> whole = np.zeros((200, 1), np.float32)
    >>> add_clicks(whole, start=0, click_samples=clicks, accents=accents, bank=bank)
    >>> a, b = np.zeros((100, 1), np.float32), np.zeros((100, 1), np.float32)
    >>> for blk, s in ((a, 0), (b, 100)):
    ...     add_clicks(blk, start=s, click_samples=clicks, accents=accents, bank=bank)
    >>> bool(np.array_equal(np.concatenate([a, b]), whole)), bool(whole[90, 0] != 0)
    (True, True)
    """
    n = len(block)
    longest = max(len(bank.beat), len(bank.accent))
    lo = int(np.searchsorted(click_samples, start - longest, side="right"))
    hi = int(np.searchsorted(click_samples, start + n, side="left"))
    for c, accent in zip(click_samples[lo:hi], accents[lo:hi]):
        sound = bank.accent if accent else bank.beat
        a = int(c) - start
        s0, s1 = max(0, -a), min(len(sound), n - a)
        if s1 > s0:
            block[a + s0 : a + s1] += sound[s0:s1, None]
