"""Finishing a recording for listening: ended with the music, at most three minutes long, one channel, its peak
at -1 dBFS, and written small.

Both synthesizers end here, so every tune charmony plays sounds equally loud. The file is Ogg Vorbis (about
40 times smaller than 16-bit stereo WAV at 44.1 kHz); where libsndfile is missing it is 16-bit mono WAV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from charmony.pipeline.audio import ogg
from charmony.pipeline.audio.wav import write_wav

PEAK_DBFS = -1.0  # the loudest sample of every recording, in decibels below full scale
# Lossy encoding moves peaks by up to half a decibel: a file further off than this is encoded once more, at a level
# corrected by what the first encoding gave (that leaves it within about 0.3 dB: Vorbis's own error varies).
PEAK_TOLERANCE_DB = 0.1
ENCODINGS = 2
LONGEST_SECONDS = 180.0  # a runaway tune is cut here...
LONGEST_FADE_SECONDS = 5.0  # ...fading out over its last seconds


def audio_extension() -> str:
    """The extension recordings get on this machine: .ogg, or .wav where libsndfile is missing."""
    return ogg.EXTENSION if ogg.available() else ".wav"


def decibels(level: float) -> float:
    """A linear level as decibels relative to full scale; -inf for silence."""
    return 20 * float(np.log10(level)) if level > 0 else float("-inf")


def fade_out(samples: np.ndarray, rate: int, seconds: float, fade: float) -> np.ndarray:
    """The samples cut after `seconds`, fading out over the last `fade` seconds; shorter ones as they are."""
    frames = int(round(seconds * rate))
    if frames >= len(samples):
        return samples
    cut = samples[:frames].copy()
    ramp = min(frames, int(round(fade * rate)))
    cut[frames - ramp:] *= np.linspace(1, 0, ramp, dtype=np.float32).reshape((ramp,) + (1,) * (cut.ndim - 1))
    return cut


def normalise(samples: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    """The samples scaled so that the loudest is `peak_dbfs`; silence stays silent."""
    peak = float(np.abs(samples).max(initial=0.0))
    if peak == 0:
        return samples
    return (samples * (10 ** (peak_dbfs / 20) / peak)).astype(np.float32)


def finish_recording(samples: np.ndarray, rate: int, target: Path, music_seconds: float | None = None,
                     fade: float = 0.0) -> Path:
    """Write a recording as one channel, ended `fade` seconds after `music_seconds` (fading), capped at
    LONGEST_SECONDS, its peak at PEAK_DBFS, into `target` (.ogg or .wav, see audio_extension()), atomically."""
    mono = samples.reshape(len(samples), -1).mean(axis=1, dtype=np.float32)
    if music_seconds is not None:
        mono = fade_out(mono, rate, music_seconds + fade, fade)
    mono = normalise(fade_out(mono, rate, LONGEST_SECONDS, LONGEST_FADE_SECONDS))
    if target.suffix != ogg.EXTENSION:
        return write_wav(mono, rate, target)
    level = np.float32(1.0)
    for _ in range(ENCODINGS):
        peak = ogg.write_ogg(mono * level, rate, target)
        if peak == 0 or abs(decibels(peak) - PEAK_DBFS) <= PEAK_TOLERANCE_DB:
            break
        level *= np.float32(10 ** (PEAK_DBFS / 20) / peak)
    return target
