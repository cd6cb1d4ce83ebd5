"""The values of ABC header fields: meter (M:), unit note length (L:), key (K:), tempo (Q:) and voice (V:)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from charmony.pipeline.abc import theory
from charmony.pipeline.abc.theory import ACCIDENTALS, CLEFS, CLEFS_ONLY_AS_PROPERTY, MODES

# More digits than this make a number beyond every limit; reading them all would cost time for nothing.
MOST_DIGITS = 9


class FieldError(ValueError):
    """A field value that cannot be read; the message says what a good one looks like."""


def read_number(digits: str) -> int:
    """The value of a run of digits, or 10**MOST_DIGITS for a longer run (which is beyond every limit anyway).

    Anything but digits (as `2-3`) raises a FieldError, which the field readers report as a problem.
    """
    if not digits.isdecimal():
        raise FieldError(f"{digits!r} is not a number")
    return int(digits) if len(digits) <= MOST_DIGITS else 10**MOST_DIGITS


@dataclass(frozen=True)
class Meter:
    """A time signature; `length` is the bar length in whole notes, None for free meter (M:none)."""

    text: str
    numerator: int | None
    denominator: int | None

    @property
    def length(self) -> Fraction | None:
        """How long a full bar lasts, in whole notes."""
        if self.numerator is None:
            return None
        return Fraction(self.numerator, self.denominator)

    @property
    def compound(self) -> bool:
        """Whether the meter is compound (6/8, 9/8, 12/8...), which changes some tuplets."""
        return self.numerator is not None and theory.is_compound(self.numerator, self.denominator)


FREE_METER = Meter("none", None, None)


def parse_meter(value: str) -> Meter:
    """M: C, C|, none, 4/4, 6/8, 2+3/8 or (2+2+3)/8."""
    text = value.split("%")[0].strip()
    if text in ("", "none"):
        return FREE_METER
    if text == "C":
        return Meter("C", 4, 4)
    if text == "C|":
        return Meter("C|", 2, 2)
    match = re.fullmatch(r"\(?(\d+(?:\s*\+\s*\d+)*)\)?\s*/\s*(\d+)", text)
    if not match:
        raise FieldError(f"M:{text} is not a meter such as 4/4, 6/8, C, C| or none")
    numerator = sum(read_number(part.strip()) for part in match.group(1).split("+"))
    denominator = read_number(match.group(2))
    if numerator == 0 or denominator == 0:
        raise FieldError(f"M:{text} is not a meter such as 4/4, 6/8, C, C| or none")
    if numerator > theory.LARGEST_METER_NUMERATOR:
        raise FieldError(f"M:{text} has {numerator} beats to the bar; the renderers take at most {theory.LARGEST_METER_NUMERATOR}")
    if denominator not in theory.METER_DENOMINATORS:
        raise FieldError(f"M:{text}: the renderers take meters over 1, 2, 4, 8, 16, 32 or 64, not {denominator}")
    if Fraction(numerator, denominator) > theory.LONGEST_BAR:
        raise FieldError(f"M:{text} makes a bar of {theory.length_text(Fraction(numerator, denominator))} whole notes; "
                         f"the renderers take bars of at most {theory.LONGEST_BAR}")
    return Meter(text, numerator, denominator)


def default_unit(meter: Meter) -> Fraction:
    """The unit note length when L: is absent: 1/16 below 3/4, else 1/8 (also for free meter)."""
    return theory.default_unit(meter.length)


def parse_unit(value: str) -> Fraction:
    """L: 1/8, 1/16, 1/4, 1..."""
    text = value.split("%")[0].strip()
    match = re.fullmatch(r"(\d+)(?:\s*/\s*(\d+))?", text)
    if not match or read_number(match.group(1)) == 0 or (match.group(2) and read_number(match.group(2)) == 0):
        raise FieldError(f"L:{text} is not a note length such as 1/8")
    unit = Fraction(read_number(match.group(1)), read_number(match.group(2) or "1"))
    if not theory.SHORTEST_NOTE <= unit <= theory.LONGEST_NOTE:
        raise FieldError(f"L:{text} is outside the note lengths the renderers take, "
                         f"1/{theory.SHORTEST_NOTE.denominator} to {theory.LONGEST_NOTE} whole notes")
    return unit


@dataclass(frozen=True)
class Key:
    """A key signature: tonic and mode as written, and the alteration it gives each step."""

    tonic: str  # "" for K:none and for keys given only by explicit accidentals
    mode: str
    alters: dict[str, int]

    @property
    def sharps(self) -> int:
        """Sharps (positive) or flats (negative) of a standard signature; 0 for other ones."""
        count = sum(self.alters.values())
        return count if all(a == (1 if count > 0 else -1) for a in self.alters.values()) else 0


@dataclass(frozen=True)
class KeyField:
    """A K: (or V:) field: the key, if it names one, and its clef, octave and other properties."""

    key: Key | None
    clef: str | None = None
    octave: int = 0
    properties: dict[str, str] = field(default_factory=dict)


KEY_PATTERN = re.compile(r"(?P<tonic>[A-G])(?P<acc>[#b]?)\s*(?P<mode>[A-Za-z]*)")
# A name=value property; the name starts a word, so that the accidentals of K:C ^f =c are not read as f=c.
PROPERTY_PATTERN = re.compile(r'(?<![\w^=_])(?P<name>[A-Za-z][\w-]*)\s*=\s*(?P<value>"[^"]*"|\S+)')


def split_properties(text: str) -> tuple[list[str], dict[str, str]]:
    """Words and name=value properties (values may be quoted) of a K: or V: field."""
    properties = {}
    for match in PROPERTY_PATTERN.finditer(text):
        properties[match.group("name").lower()] = match.group("value").strip('"')
    words = PROPERTY_PATTERN.sub(" ", text).split()
    return words, properties


def _clef_and_octave(words: list[str], properties: dict[str, str], what: str) -> tuple[str | None, int]:
    clef = properties.get("clef")
    for word in list(words):
        if word in CLEFS and word not in CLEFS_ONLY_AS_PROPERTY:
            clef = word
            words.remove(word)
    if clef is not None and clef not in CLEFS:
        raise FieldError(f"{what}clef={clef} is not a clef such as treble, bass, alto or tenor")
    octave = properties.get("octave", "0")
    if not re.fullmatch(r"[+-]?\d", octave):
        raise FieldError(f"{what}octave={octave} is not a whole number of octaves such as -1")
    return clef, int(octave)


def _mode(word: str) -> str | None:
    """The mode a word names (m, min, minor, Mix, dorian, exp...), or None."""
    word = word.lower()
    if word in ("m", "exp"):
        return word
    return next((mode for mode in MODES if len(mode) == 3 and len(word) >= 3 and word.startswith(mode)), None)


def parse_key(value: str) -> KeyField:
    """K: G, Dmix, F#m, Bbdor, none, HP, D exp ^c, D clef=bass, clef=bass alone..."""
    text = value.split("%")[0].strip()
    words, properties = split_properties(text)
    clef, octave = _clef_and_octave(words, properties, "K:")
    if not words:
        return KeyField(None, clef, octave, properties)
    first, rest = words[0], words[1:]
    if rest and KEY_PATTERN.fullmatch(first) and not KEY_PATTERN.fullmatch(first).group("mode") and _mode(rest[0]):
        first, rest = first + rest[0], rest[1:]  # "D mix", "D exp"
    match = KEY_PATTERN.fullmatch(first)
    if first in ("none", "HP"):
        key = Key("", "none", {})
    elif first == "Hp":
        key = Key("", "Hp", {"F": 1, "C": 1})
    elif match is None and re.fullmatch(r"(\^\^|\^|__|_|=)[A-Ga-g]", first):
        key, rest = Key("", "exp", {}), words
    elif match is None:
        raise FieldError(f"K:{text} is not a key such as G, Dmix, F#m or none")
    else:
        mode = _mode(match.group("mode")) if match.group("mode") else "maj"
        if mode is None:
            raise FieldError(f"K:{text}: {match.group('mode')!r} is not a mode such as maj, m, mix, dor, phr, lyd or loc")
        tonic = match.group("tonic") + match.group("acc")
        if mode == "exp":
            key = Key(tonic, "exp", {})
        else:
            fifths = theory.major_fifths(match.group("tonic")) + {"#": 7, "b": -7, "": 0}[match.group("acc")] + MODES[mode].fifths
            if not -7 <= fifths <= 7:
                raise FieldError(f"K:{text} needs more than 7 sharps or flats; write it as its enharmonic key")
            key = Key(tonic, mode, theory.key_signature(fifths))
    alters = dict(key.alters)
    for word in rest:
        match = re.fullmatch(r"(\^\^|\^|__|_|=)([A-Ga-g])", word)
        if not match:
            raise FieldError(f"K:{text}: {word!r} is neither an accidental such as ^f nor a property such as clef=bass")
        step = match.group(2).upper()
        alters[step] = ACCIDENTALS[match.group(1)]
        if alters[step] == 0:
            del alters[step]
    return KeyField(Key(key.tonic, key.mode, alters), clef, octave, properties)


@dataclass(frozen=True)
class VoiceField:
    """A V: field: the voice id and its properties."""

    id: str
    name: str | None
    clef: str | None
    octave: int
    properties: dict[str, str]


def parse_voice(value: str) -> VoiceField:
    """V:1 clef=bass name="Bass" sname="B"..."""
    text = value.split("%")[0].strip()
    if not text:
        raise FieldError("V: needs a voice id, as in V:1 or V:T1")
    voice_id, _, rest = text.partition(" ")
    if not re.fullmatch(r"[\w.+-]+", voice_id):
        raise FieldError(f"V:{voice_id} is not a voice id: use letters, digits and _ . + -")
    words, properties = split_properties(rest)
    clef, octave = _clef_and_octave(words, properties, f"V:{voice_id} ")
    name = properties.get("name", properties.get("nm"))
    return VoiceField(voice_id, name, clef, octave, properties)


def parse_tempo(value: str, unit: Fraction) -> tuple[Fraction, int, str | None]:
    """Q: 1/4=120, 3/8=60, 1/4 1/8=60, "Allegro" 1/4=120, or a bare 120 (unit notes per minute).

    Returns the beat as a length in whole notes, beats per minute, and the text, if any.
    """
    text = value.split("%")[0].strip()
    words = re.findall(r'"([^"]*)"', text)
    rest = re.sub(r'"[^"]*"', " ", text).strip()
    label = " ".join(words) or None
    if not rest and label:
        return Fraction(1, 4), 0, label  # a tempo word with no figure
    # The fractions of a beat are separated by spaces: without them, 1/111/11... could be split many ways.
    match = (re.fullmatch(r"(\d+/[1-9]\d*(?:\s+\d+/[1-9]\d*)*)\s*=\s*(\d+)", rest)
             or re.fullmatch(r"(C\d*)\s*=\s*(\d+)", rest) or re.fullmatch(r"()(\d+)", rest))
    if not match:
        raise FieldError(f"Q:{text} is not a tempo such as 1/4=120")
    beat_text, bpm = match.group(1).strip(), read_number(match.group(2))
    if beat_text.startswith("C") or beat_text == "":
        beat = unit * (read_number(beat_text[1:]) if beat_text[1:] else 1)
    else:
        beat = sum((Fraction(read_number(top), read_number(bottom)) for top, bottom in
                    (part.split("/") for part in beat_text.split())), Fraction(0))
    if beat == 0 or bpm == 0:
        raise FieldError(f"Q:{text} is not a tempo such as 1/4=120")
    quarters = beat * 4 * bpm
    if not theory.SLOWEST_TEMPO <= quarters <= theory.FASTEST_TEMPO:
        raise FieldError(f"Q:{text} is {float(quarters):g} quarter notes a minute; MIDI holds tempos from "
                         f"{float(theory.SLOWEST_TEMPO):.1f} to {int(theory.FASTEST_TEMPO):,}")
    return beat, bpm, label
