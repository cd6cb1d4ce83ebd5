"""WAV files of 16-bit PCM: writing samples atomically and reading them back."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from charmony.pipeline.system.atomic import atomic_path


def write_wav(samples: np.ndarray, rate: int, target: Path) -> Path:
    """Write float samples in [-1, 1], shaped (frames,) or (frames, channels), as 16-bit PCM, atomically."""
    frames = samples.reshape(len(samples), -1)
    pcm = np.round(np.clip(frames, -1, 1) * 32767).astype("<i2")
    with atomic_path(target) as temporary:
        with wave.open(str(temporary), "wb") as out:
            out.setnchannels(frames.shape[1])
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(pcm.tobytes())
    return target


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """The float samples of a 16-bit PCM WAV file, shaped (frames, channels), and its frame rate."""
    with wave.open(str(path), "rb") as source:
        if source.getsampwidth() != 2:
            raise ValueError(f"{path.name} is not 16-bit PCM")
        channels, rate = source.getnchannels(), source.getframerate()
        pcm = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
    return pcm.reshape(-1, channels).astype(np.float32) / 32767, rate
