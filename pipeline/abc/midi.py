"""A tune as a Standard MIDI File, written straight from the tune model: one track per voice as it is played.

Repeats and endings are unrolled, tied notes sound as one note, grace notes are left out, and the tempo comes
from Q: (120 quarter notes a minute without one, as abc2midi plays). music21's MIDI writer is not used: its
time grows with the square of the number of notes (a 20,000-note tune took it 30 s) and it drops voice names.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from fractions import Fraction

from charmony.pipeline.abc.repeats import play_order
from charmony.pipeline.abc.tune import Change, Chord, Note, Rest, Tune, Voice

DEFAULT_QUARTERS_PER_MINUTE = 120  # as abc2midi plays a tune without Q:
# Ticks per quarter note: a multiple of 64 * 9 * 5 * 7, so that every length the checker passes
# (down to a 256th note, and tuplets of 3, 5, 7 and 9) falls on a whole tick.
TICKS_PER_QUARTER = 20160
VELOCITY = 80
CHANNELS = tuple(channel for channel in range(16) if channel != 9)  # General MIDI keeps channel 10 for drums


@dataclass
class Played:
    """One voice as played: its notes as (start, end, MIDI key), in whole notes, and where its tempo changes."""

    notes: list[list] = field(default_factory=list)
    tempos: dict[Fraction, Fraction] = field(default_factory=dict)  # time -> quarter notes a minute
    meters: dict[Fraction, tuple[int, int]] = field(default_factory=dict)  # time -> (numerator, denominator)
    end: Fraction = Fraction(0)


def quarters_per_minute(value: tuple[Fraction, int, str | None]) -> Fraction | None:
    """The tempo a Q: field gives in quarter notes a minute, or None for a tempo word alone."""
    beat, bpm, _ = value
    return beat * 4 * bpm if bpm else None


def play(voice: Voice) -> Played:
    """The notes of one voice in the order they are played, tied notes joined into one."""
    played = Played()
    time = Fraction(0)
    open_ties: dict[tuple[int, int], list] = {}  # (layer, key) -> the note a tie continues
    meter = None
    for index in play_order(voice.bars):
        bar = voice.bars[index]
        if bar.meter.numerator is not None and (bar.meter.numerator, bar.meter.denominator) != meter:
            meter = played.meters[time] = (bar.meter.numerator, bar.meter.denominator)
        for layer_number, layer in enumerate(bar.layers):
            at = time
            for event in layer:
                if isinstance(event, Change):
                    if event.kind == "tempo" and quarters_per_minute(event.value):
                        played.tempos[at] = quarters_per_minute(event.value)
                    continue
                if not isinstance(event, Rest):
                    for note in [event] if isinstance(event, Note) else event.notes if isinstance(event, Chord) else []:
                        tie = (layer_number, note.midi)
                        if note.tie_stop and tie in open_ties:
                            open_ties[tie][1] = at + event.length
                            sounding = open_ties.pop(tie)
                        else:
                            sounding = [at, at + event.length, note.midi]
                            played.notes.append(sounding)
                        if note.tie_start:
                            open_ties[tie] = sounding
                at += event.length
        time += max(bar.duration(layer) for layer in range(len(bar.layers)))
    played.end = time
    return played


def _number(value: int) -> bytes:
    """A MIDI variable-length quantity: seven bits a byte, the high bit set on all but the last."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _ticks(time: Fraction) -> int:
    return round(time * 4 * TICKS_PER_QUARTER)


def _track(events: list[tuple[int, int, bytes]]) -> bytes:
    """An MTrk chunk of (tick, order, message) events: at one tick, lower orders first (note-offs before note-ons)."""
    body = bytearray()
    now = 0
    for tick, _, message in sorted(events, key=lambda event: (event[0], event[1])):
        body += _number(tick - now) + message
        now = tick
    body += _number(0) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


def _tempo(quarters_per_minute: Fraction) -> bytes:
    """A tempo's three bytes: microseconds a quarter note, within what MIDI holds."""
    return struct.pack(">I", max(1, min(2**24 - 1, round(60_000_000 / quarters_per_minute))))[1:]


def _meta(kind: int, data: bytes) -> bytes:
    return bytes([0xFF, kind]) + _number(len(data)) + data


def tune_to_midi(tune: Tune) -> tuple[bytes, float]:
    """The Standard MIDI File (format 1) of a parsed tune, and how many seconds it plays."""
    voices = [play(voice) for voice in tune.voices.values()]
    tempos = {Fraction(0): (tune.tempo and quarters_per_minute(tune.tempo)) or Fraction(DEFAULT_QUARTERS_PER_MINUTE)}
    changes: dict[Fraction, Fraction] = {}
    for played in voices:  # where voices disagree, the first one's tempo holds
        for time, value in played.tempos.items():
            changes.setdefault(time, value)
    tempos.update(changes)
    conductor = [(_ticks(time), 0, _meta(0x51, _tempo(value))) for time, value in tempos.items()]
    for time, (numerator, denominator) in (voices[0].meters if voices else {}).items():
        if numerator < 256 and denominator & (denominator - 1) == 0:  # MIDI holds only powers of two below
            conductor.append((_ticks(time), 0, _meta(0x58, bytes([numerator, denominator.bit_length() - 1, 24, 8]))))
    tracks = [_track(conductor)]
    for number, (voice, played) in enumerate(zip(tune.voices.values(), voices)):
        channel = CHANNELS[number % len(CHANNELS)]
        events = [(0, 0, _meta(0x03, (voice.name or voice.id).encode("utf-8")))]
        for start, end, key in played.notes:
            events.append((_ticks(start), 2, bytes([0x90 | channel, key, VELOCITY])))
            events.append((_ticks(end), 1, bytes([0x80 | channel, key, 0])))
        tracks.append(_track(events))
    header = b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), TICKS_PER_QUARTER)
    return header + b"".join(tracks), _seconds(tempos, max((p.end for p in voices), default=Fraction(0)))


def _seconds(tempos: dict[Fraction, Fraction], end: Fraction) -> float:
    """How long music of `end` whole notes plays under a tempo map of quarter notes a minute."""
    times = sorted(t for t in tempos if t < end) or [Fraction(0)]
    total = Fraction(0)
    for start, stop in zip(times, times[1:] + [end]):
        total += (stop - start) * 4 / tempos.get(start, Fraction(DEFAULT_QUARTERS_PER_MINUTE)) * 60
    return float(total)
