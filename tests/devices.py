"""Audio outputs as a machine with sound would list them."""

from cadence.playback import OutputDevice

FAKE = [
    OutputDevice(0, "HDA Intel PCH: ALC257 Analog", "ALSA", 2, 44100, False),
    OutputDevice(3, "pulse", "ALSA", 32, 44100, True),
    OutputDevice(5, "system", "JACK Audio Connection Kit", 2, 48000, False),
]
