"""System C libraries through ctypes (LAME, libmpg123): found, opened, their
functions' signatures declared, or None where one is missing."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


def load_library(
    name: str, *, fallback: str, signatures: Callable[[ctypes.CDLL], dict]
) -> ctypes.CDLL | None:
    """The system library `name` with its functions' signatures declared.

    Parameters
    ----------
    name : str
        As ``ctypes.util.find_library`` takes it (``"mp3lame"``).
    fallback : str
        The file to open when that finds nothing (``"libmp3lame.so.0"``).
    signatures : callable
        Given the opened library, ``{function: (restype, argtypes)}``.

    Returns
    -------
    ctypes.CDLL or None
        None if the library cannot be opened or lacks one of the functions
        (another library of that name, or too old a one).
    """
    try:
        lib = ctypes.CDLL(ctypes.util.find_library(name) or fallback)
    except OSError:
        return None
    try:
        for function, (restype, argtypes) in signatures(lib).items():
            fn = getattr(lib, function)
            fn.restype, fn.argtypes = restype, argtypes
    except AttributeError:
        return None
    return lib
