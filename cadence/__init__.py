"""cadence: raise your running cadence.

A calculator for current cadence and 5-10 % targets, a sample-exact synthesized
metronome, and a music-folder tempo analyzer.

The package is split into a pure core (:mod:`cadence.core`, standard library and
numpy only) and thin edges that do I/O (terminal, audio device, audio files,
cache). Importing :mod:`cadence` itself is cheap: heavy libraries are only
imported inside the functions that need them.
"""

from cadence.errors import CadenceError, ParameterError

__version__ = "0.1.0"

__all__ = ["CadenceError", "ParameterError", "__version__"]
