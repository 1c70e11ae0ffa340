"""The pure core of :mod:`cadence`.

Modules here import only the standard library, numpy and :mod:`cadence.errors`
(a test enforces it), do no I/O, and are fully unit-tested. The edges
(:mod:`cadence.cli`, :mod:`cadence.terminal`, the audio and cache modules)
call into them, never the other way round.
"""
