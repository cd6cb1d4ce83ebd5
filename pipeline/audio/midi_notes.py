"""Reading the notes of a Standard MIDI File, with their times in seconds from its tempo map."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from charmony.pipeline.system.errors import CharmonyError

DEFAULT_TEMPO = 500_000  # microseconds per quarter note until a tempo event says otherwise: 120 a minute
# Data bytes after each channel status (by its high nibble); 0xF0 and above are meta and system events.
DATA_BYTES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}


class MidiError(CharmonyError):
    """A file that is not a readable Standard MIDI File."""


@dataclass(frozen=True)
class Note:
    """One sounding note: when it starts and how long it lasts, in seconds, its MIDI key and velocity."""

    start: float
    length: float
    key: int
    velocity: int


def _variable_length(data: bytes, at: int) -> tuple[int, int]:
    """A MIDI variable-length number starting at `at`, and the position after it."""
    value = 0
    for _ in range(4):
        byte = data[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at
    raise MidiError("a variable-length number runs over four bytes")


def _track_events(track: bytes) -> list[tuple[int, int, int, int]]:
    """(tick, kind, a, b) of each event of one track: kind 0x80/0x90 with key and velocity, or 0x51 with a tempo."""
    events, tick, at, status = [], 0, 0, 0
    while at < len(track):
        delta, at = _variable_length(track, at)
        tick += delta
        if track[at] >= 0x80:
            status = track[at]
            at += 1
        elif status == 0 or status >= 0xF0:
            raise MidiError("a running status without an earlier status byte")
        if status == 0xFF:
            kind = track[at]
            length, at = _variable_length(track, at + 1)
            if kind == 0x51 and length == 3:
                events.append((tick, 0x51, int.from_bytes(track[at:at + 3], "big"), 0))
            at += length
            status = 0
        elif status in (0xF0, 0xF7):
            length, at = _variable_length(track, at)
            at += length
            status = 0
        else:
            size = DATA_BYTES[status & 0xF0]
            values = track[at:at + size]
            at += size
            if len(values) < size:
                raise IndexError("the track ends inside an event")
            if status & 0xF0 in (0x80, 0x90):
                kind = 0x80 if status & 0xF0 == 0x80 or values[1] == 0 else 0x90
                events.append((tick, kind, (status & 0x0F) << 8 | values[0], values[1]))
    return events


def read_notes(path: Path) -> list[Note]:
    """Every note of a MIDI file (format 0 or 1) in order of start, timed by the tempo events of all its tracks."""
    data = path.read_bytes()
    try:
        if data[:4] != b"MThd":
            raise MidiError(f"{path.name} is not a MIDI file")
        header_length, _format, track_count, division = struct.unpack(">IHHH", data[4:14])
        if division & 0x8000:
            raise MidiError(f"{path.name} counts time in SMPTE frames, which charmony does not read")
        at = 8 + header_length
        tracks: list[list[tuple[int, int, int, int]]] = []
        while len(tracks) < track_count and at + 8 <= len(data):
            chunk, length = data[at:at + 4], struct.unpack(">I", data[at + 4:at + 8])[0]
            if chunk == b"MTrk":
                tracks.append(_track_events(data[at + 8:at + 8 + length]))
            at += 8 + length
        if len(tracks) < track_count or at > len(data):
            raise IndexError("fewer tracks than the header says, or the last one cut short")
    except (IndexError, KeyError, struct.error):
        raise MidiError(f"{path.name} is a damaged MIDI file") from None
    # Tempo first, then note offs before note ons at one tick; tracks and channels keep their keys apart.
    events = sorted(((tick, kind, number << 12 | key, value) for number, track in enumerate(tracks) for tick, kind, key, value in track),
                    key=lambda e: (e[0], e[1] != 0x51, e[1] == 0x90))
    seconds = _tempo_map(events, division)
    sounding: dict[int, tuple[float, int]] = {}
    notes = []
    for tick, kind, key, velocity in events:
        if kind == 0x51:
            continue
        now = seconds(tick)
        if key in sounding:  # a note off, or a repeated key that ends the note still sounding
            start, loudness = sounding.pop(key)
            notes.append(Note(start, now - start, key & 0x7F, loudness))
        if kind == 0x90:
            sounding[key] = (now, velocity)
    return sorted((n for n in notes if n.length > 0), key=lambda n: (n.start, n.key))


def _tempo_map(events: list[tuple[int, int, int, int]], division: int):
    """A function from ticks to seconds, following the tempo events among `events`."""
    changes = [(0, 0.0, DEFAULT_TEMPO)]  # (tick, seconds at that tick, tempo from there)
    for tick, kind, tempo, _ in events:
        if kind == 0x51:
            last_tick, last_seconds, last_tempo = changes[-1]
            changes.append((tick, last_seconds + (tick - last_tick) * last_tempo / division / 1e6, tempo))

    def seconds(tick: int) -> float:
        start, at, tempo = next(change for change in reversed(changes) if change[0] <= tick)
        return at + (tick - start) * tempo / division / 1e6

    return seconds
