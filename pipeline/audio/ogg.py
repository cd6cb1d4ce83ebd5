"""Ogg Vorbis files through libsndfile, the library FluidSynth itself writes audio files with.

libsndfile is called through ctypes, so no Python package is needed: it is on every machine with
FluidSynth (Debian's libsndfile1). Vorbis is lossy and small: a minute of FluidSynth's mono music at the
quality used here is about 0.5 MB, where 16-bit stereo WAV at 44.1 kHz is 10.6 MB. Every browser plays it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from pathlib import Path

import numpy as np

from charmony.pipeline.system.atomic import atomic_path
from charmony.pipeline.system.errors import RenderError

EXTENSION = ".ogg"
QUALITY = 0.4  # Vorbis quality, 0 (smallest) to 1 (best); 0.4 is libsndfile's default, transparent for this music

_READ, _WRITE = 0x10, 0x20
_OGG_VORBIS = 0x200000 | 0x0060  # SF_FORMAT_OGG | SF_FORMAT_VORBIS
_SET_VBR_QUALITY = 0x1300  # SFC_SET_VBR_ENCODING_QUALITY
_BLOCK = 65536  # frames handed to libsndfile at a time


class _Info(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int), ("channels", ctypes.c_int),
                ("format", ctypes.c_int), ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]


@functools.cache
def _library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("sndfile")
    if name is None:
        return None
    try:
        library = ctypes.CDLL(name)
    except OSError:
        return None
    library.sf_open.restype = ctypes.c_void_p
    library.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(_Info)]
    library.sf_strerror.restype = ctypes.c_char_p
    library.sf_strerror.argtypes = [ctypes.c_void_p]
    library.sf_error.argtypes = [ctypes.c_void_p]
    library.sf_close.argtypes = [ctypes.c_void_p]
    library.sf_command.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    library.sf_format_check.argtypes = [ctypes.POINTER(_Info)]
    for name in ("sf_writef_float", "sf_readf_float"):
        function = getattr(library, name)
        function.restype = ctypes.c_int64
        function.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int64]
    return library


def available() -> bool:
    """Whether libsndfile is installed and writes Ogg Vorbis (some builds leave it out)."""
    library = _library()
    return library is not None and bool(library.sf_format_check(ctypes.byref(_Info(0, 44100, 1, _OGG_VORBIS, 0, 0))))


def _need_library() -> ctypes.CDLL:
    library = _library()
    if library is None:
        raise RenderError("Ogg Vorbis needs libsndfile: install Debian's libsndfile1")
    return library


def _failure(library: ctypes.CDLL, what: str) -> RenderError:
    """libsndfile's reason for the last file it could not open."""
    return RenderError(f"{what}: {library.sf_strerror(None).decode(errors='replace')}")


def write_ogg(samples: np.ndarray, rate: int, target: Path, quality: float = QUALITY) -> float:
    """Write float samples in [-1, 1], shaped (frames,) or (frames, channels), as an Ogg Vorbis file, atomically;
    return the peak of the file as it decodes (lossy encoding moves peaks a little).

    A write that fails part way (a full disk) raises RenderError and leaves no file.
    """
    library = _need_library()
    frames = np.ascontiguousarray(np.clip(samples.reshape(len(samples), -1), -1, 1), dtype=np.float32)
    info = _Info(0, rate, frames.shape[1], _OGG_VORBIS, 0, 0)
    with atomic_path(target) as temporary:
        handle = library.sf_open(str(temporary).encode(), _WRITE, ctypes.byref(info))
        if not handle:
            raise _failure(library, f"cannot write {target.name}")
        try:
            level = ctypes.c_double(quality)
            library.sf_command(handle, _SET_VBR_QUALITY, ctypes.byref(level), ctypes.sizeof(level))
            for start in range(0, len(frames), _BLOCK):
                block = frames[start:start + _BLOCK]
                written = library.sf_writef_float(handle, block.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), len(block))
                if written != len(block) or library.sf_error(handle):
                    reason = library.sf_strerror(handle).decode(errors="replace")
                    raise RenderError(f"cannot write {target.name}: {reason}; is the disk full?")
        finally:
            closed = library.sf_close(handle)
        if closed:
            raise RenderError(f"cannot write {target.name}: libsndfile error {closed} on closing it")
        # libsndfile may not report a failed write of Vorbis pages: read the file back whole to be sure.
        decoded, _ = read_audio(temporary)
        if decoded.shape != frames.shape:
            raise RenderError(f"cannot write {target.name}: it came out cut short; is the disk full?")
    return float(np.abs(decoded).max(initial=0.0))


def read_audio(path: Path, longest_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """The float samples of a file libsndfile reads (Ogg Vorbis, FLAC, WAV of ints or floats), shaped
    (frames, channels), and its rate; only its first `longest_seconds` where given."""
    library = _need_library()
    info = _Info()
    handle = library.sf_open(str(path).encode(), _READ, ctypes.byref(info))
    if not handle:
        raise _failure(library, f"cannot read {path.name}")
    left = round(longest_seconds * info.samplerate) if longest_seconds is not None else None
    try:
        blocks = []
        while left is None or left > 0:
            size = _BLOCK if left is None else min(_BLOCK, left)
            block = np.empty((size, info.channels), dtype=np.float32)
            count = library.sf_readf_float(handle, block.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), size)
            if count <= 0:
                break
            blocks.append(block[:count])
            left = None if left is None else left - count
    finally:
        library.sf_close(handle)
    samples = np.concatenate(blocks) if blocks else np.zeros((0, info.channels), dtype=np.float32)
    return samples, info.samplerate
