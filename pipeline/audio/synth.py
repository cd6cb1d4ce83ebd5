"""charmony's built-in synthesizer: the notes of a MIDI file played with an organ-like tone, into an audio file.

It stands in for FluidSynth where FluidSynth or a General MIDI SoundFont is missing, so every valid
tune can be heard on any machine. Each note is a sum of sine harmonics, as an organ's drawbars add
pipes an octave, a twelfth and two octaves above the fundamental, with a short attack and release
so that notes start and stop without clicks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from charmony.pipeline.audio.mastering import LONGEST_SECONDS, finish_recording
from charmony.pipeline.audio.midi_notes import Note, read_notes

NAME = "charmony's built-in synthesizer (organ tone)"
RATE = 22050  # frames a second; a tune's notes lie far below its Nyquist frequency of 11 kHz
# (multiple of the fundamental, loudness): the fundamental and the drawbars 4', 2 2/3', 2' and 1'.
HARMONICS = ((1, 1.0), (2, 0.5), (3, 0.3), (4, 0.2), (8, 0.08))
ATTACK = 0.01  # seconds
RELEASE = 0.05  # seconds a note takes to fall silent after its end
NOTE_LEVEL = 0.2  # the amplitude of a note at full velocity; the mix is scaled down if it would clip
PEAK = 0.95


def frequency(key: int) -> float:
    """The frequency in Hz of a MIDI key in equal temperament, A4 (key 69) at 440 Hz."""
    return 440.0 * 2.0 ** ((key - 69) / 12)


def _tone(note: Note, rate: int) -> np.ndarray:
    """One note's samples, its release included."""
    sounding = max(1, round(note.length * rate))
    frames = sounding + round(RELEASE * rate)
    t = np.arange(frames, dtype=np.float64) / rate
    base = frequency(note.key)
    wave = sum(level * np.sin(2 * np.pi * base * multiple * t) for multiple, level in HARMONICS if base * multiple < rate / 2)
    envelope = np.minimum(1.0, t / ATTACK)
    envelope[sounding:] *= np.linspace(1.0, 0.0, frames - sounding)
    return (NOTE_LEVEL * note.velocity / 127) * wave * envelope / sum(level for _, level in HARMONICS)


def synthesize(notes: list[Note], rate: int = RATE) -> np.ndarray:
    """The mono samples of `notes` played together, in [-1, 1]; as long as the music and one release."""
    end = max((note.start + note.length for note in notes), default=0.0)
    out = np.zeros(round((end + RELEASE) * rate) + 1, dtype=np.float64)
    for note in notes:
        tone = _tone(note, rate)
        start = round(note.start * rate)
        stop = min(len(out), start + len(tone))
        out[start:stop] += tone[:stop - start]
    peak = float(np.abs(out).max(initial=0.0))
    if peak > PEAK:
        out *= PEAK / peak
    return out.astype(np.float32)


def midi_to_audio(midi: Path, target: Path, rate: int = RATE) -> Path:
    """Play a MIDI file with the built-in synthesizer into an audio file finished by mastering.py (.ogg or .wav).

    Notes that start after the recording's cap are not played at all.
    """
    notes = [note for note in read_notes(midi) if note.start < LONGEST_SECONDS]
    return finish_recording(synthesize(notes, rate), rate, target)
