"""WAV files of 16-bit PCM: writing samples atomically, reading them back, and ending a recording sooner."""

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


def wav_seconds(path: Path) -> float:
    """How long a WAV file plays, as the frames it holds say (not its header, which a cut-off file may not match)."""
    with wave.open(str(path), "rb") as source:
        frame_bytes = source.getnchannels() * source.getsampwidth()
        frames = len(source.readframes(source.getnframes())) // frame_bytes
        return frames / source.getframerate()


def end_wav(path: Path, seconds: float, fade: float) -> Path:
    """Cut a WAV file after `seconds`, fading out over the last `fade` seconds; a shorter file is left as it is.

    FluidSynth plays on for seconds after the last note while its voices die away; this ends a
    recording where the music does.
    """
    samples, rate = read_wav(path)
    frames = int(round(seconds * rate))
    if frames >= len(samples):
        return path
    samples = samples[:frames].copy()
    ramp = min(frames, int(fade * rate))
    samples[frames - ramp:] *= np.linspace(1, 0, ramp, dtype=np.float32)[:, None]
    return write_wav(samples, rate, path)
