"""A song with a click on every beat it was found to have: to hear the beat tracker.

``cadence beats FILE --click OUT`` decodes the song whole (its own rate and
channels), mixes the metronome's click onto the sample of every beat, with
the accented sound on downbeats, and writes the result atomically.
"""

from __future__ import annotations

import numpy as np

from cadence.core.tracks import TrackResult

#: The click's level (dB full scale), and the music's under it.
CLICK_VOLUME_DB = -6.0
MUSIC_GAIN_DB = -3.0


def write_click_track(result: TrackResult, out_path: str, *, voice: str = "click") -> str:
    """Write `result`'s song with its beats clicked to `out_path`; say what was written.

    Raises
    ------
    AudioFileError
        If the song cannot be decoded or the output cannot be written.
    ParameterError
        For an output of an unknown format or in a missing folder.
    """
    from cadence.audio.readers import read_audio
    from cadence.audio.write import CLICK_TRACK_COMMENT, fitted_for_output, write_audio
    from cadence.core.synth import mix_clicks, voice_bank
    from cadence.files import display_path

    samples, sr = fitted_for_output(*read_audio(result.path), out_path)  # 96 kHz to MP3
    beats_s = np.asarray(result.beats or [], dtype=np.float64)
    downbeats = set(result.downbeats or [])
    accents = np.array([t in downbeats for t in result.beats or []], dtype=bool)
    bank = voice_bank(voice, sr=sr, volume_db=CLICK_VOLUME_DB)
    mixed, turned_down_db = mix_clicks(
        samples, sr=sr, beats_s=beats_s, accents=accents, bank=bank, music_gain_db=MUSIC_GAIN_DB
    )
    write_audio(mixed, out_path, sr=sr, comment=CLICK_TRACK_COMMENT)
    seconds = len(mixed) / sr
    down = (
        f"; turned down {turned_down_db:.1f} dB more, where clicks on its loudest beats would clip"
        if turned_down_db >= 0.05
        else ""
    )
    accented = (
        f"{int(accents.sum())} accented downbeats"
        if accents.any()
        else "no accents: its downbeats could not be told"
    )
    return (
        f"Wrote {display_path(out_path)}: {seconds:.1f} s with {len(beats_s)} clicks"
        f" ({accented}{down})."
    )
