"""The music theory ABC needs, in one place: steps and accidentals, the circle of fifths, modes, clefs, tuplets,
compound meter, pickups, and the limits of what the renderers (MIDI and MusicXML) can hold.

The reader, the checker, the writer, the music21 score builder and the constrained sampler all take these from
here, so that they cannot disagree. Nothing here imports music21: clefs name music21's classes as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

# ----- steps, accidentals, the circle of fifths

STEP_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}  # above C in the same octave
ACCIDENTALS = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}  # ABC's signs and the semitones each alters by
ACCIDENTAL_SIGNS = {alter: sign for sign, alter in ACCIDENTALS.items()}
FIFTHS = "FCGDAEB"  # steps a fifth apart; sharps are added in this order, flats in the reverse one


def midi_number(step: str, octave: int, alter: int) -> int:
    """The MIDI key number of a pitch; middle C (C4) is 60."""
    return 12 * (octave + 1) + STEP_SEMITONES[step] + alter


def major_fifths(step: str) -> int:
    """Where the major key on a natural step lies on the circle of fifths: C 0, G 1, F -1."""
    return FIFTHS.index(step) - 1


def key_signature(fifths: int) -> dict[str, int]:
    """The alterations of a signature with `fifths` sharps (negative: flats)."""
    if fifths >= 0:
        return {step: 1 for step in FIFTHS[:fifths]}
    return {step: -1 for step in FIFTHS[::-1][:-fifths]}


def name_at_fifths(fifths: int) -> str:
    """The note name `fifths` perfect fifths above C (negative: below), in music21's spelling (F#, B-)."""
    letter = FIFTHS[(fifths + 1) % 7]
    alter = (fifths + 1) // 7
    return letter + ("#" * alter if alter > 0 else "-" * -alter)


# ----- modes


@dataclass(frozen=True)
class Mode:
    """A mode: what the writer puts after the tonic, music21's name, and where its tonic lies on the circle of fifths."""

    suffix: str  # "", "m", "dor"...
    music21: str  # "major", "minor", "dorian"...
    fifths: int  # from the tonic of the major key with the same signature: D dorian has C major's, two fifths below D


# The modes by the name the reader keeps: K:Em gives "m", K:Dmix and K:D mixolydian give "mix".
MODES = {
    "maj": Mode("", "major", 0), "ion": Mode("", "ionian", 0), "m": Mode("m", "minor", -3), "min": Mode("m", "minor", -3),
    "aeo": Mode("aeo", "aeolian", -3), "dor": Mode("dor", "dorian", -2), "phr": Mode("phr", "phrygian", -4),
    "lyd": Mode("lyd", "lydian", 1), "mix": Mode("mix", "mixolydian", -1), "loc": Mode("loc", "locrian", -5),
}


def mode_named(music21_name: str | None) -> Mode:
    """The mode music21 calls `music21_name`; major when it names none."""
    return next((mode for mode in MODES.values() if mode.music21 == music21_name), MODES["maj"])


# ----- clefs

# ABC clef names and the music21 clef class of each. The writer writes the first name listed for a class.
CLEFS = {
    "treble": "TrebleClef", "bass": "BassClef", "alto": "AltoClef", "tenor": "TenorClef",
    "treble-8": "Treble8vbClef", "treble+8": "Treble8vaClef", "bass-8": "Bass8vbClef", "bass+8": "Bass8vaClef",
    "bass3": "FBaritoneClef", "alto5": "CBaritoneClef", "soprano": "SopranoClef", "mezzosoprano": "MezzoSopranoClef",
    "perc": "PercussionClef", "none": "NoClef",
    # other spellings the reader takes
    "baritone": "FBaritoneClef", "treble8": "Treble8vbClef", "alto1": "SopranoClef", "alto2": "MezzoSopranoClef",
    "G": "TrebleClef", "F": "BassClef", "C": "AltoClef",
}
CLEF_NAMES = {kind: name for name, kind in reversed(CLEFS.items())}  # music21 class -> the first ABC name listed
# Clef names that are also key or note names, so that only clef=G (not a bare G) names a clef.
CLEFS_ONLY_AS_PROPERTY = {"G", "F", "C", "none"}

# Octave clefs: how many octaves the music sounds from where the clef without its 8 puts it. abc2midi alone plays
# `clef=treble-8` an octave below the notes; ABC 2.1, abcm2ps and abcjs take the 8 as drawing only. So the writer
# adds `octave=` (which abc2midi takes in place of the clef's octave) and `middle=` (which puts the notes, moved by
# octave=, where the clef with its 8 shows them in abcm2ps): see clef_properties.
OCTAVE_CLEFS = {"treble-8": -1, "treble+8": 1, "bass-8": -1, "bass+8": 1}
MIDDLE_LINES = {"treble": ("B", 4), "bass": ("D", 3)}  # step and octave on the middle line of the plain clef


def note_letters(step: str, octave: int) -> str:
    """A pitch as ABC writes it, without accidental: C4 is `C`, C5 `c`, C3 `C,`, C6 `c'`."""
    return step.lower() + "'" * (octave - 5) if octave >= 5 else step + "," * (4 - octave)


def clef_octave(name: str) -> int:
    """The octaves an ABC clef's 8 moves the music (-1 for treble-8), 0 for a clef without one."""
    return OCTAVE_CLEFS.get(name, 0)


def clef_properties(name: str) -> str:
    """The V: properties the writer gives a voice in clef `name`: `clef=treble-8 octave=-1 middle=B,`, `clef=bass`.

    A voice in an octave clef is written an octave from where it sounds (`A` for the tenor's A3) so that every
    tool plays and draws it at its pitch: abc2midi 4.84, abcm2ps 8.14 and ABC 2.1 agree on this form.
    """
    octaves = clef_octave(name)
    if not octaves:
        return f"clef={name}"
    step, octave = MIDDLE_LINES[name[:-2]]
    return f"clef={name} octave={octaves} middle={note_letters(step, octave + octaves)}"


# ----- meter, unit length, tuplets, pickups


def is_compound(numerator: int, denominator: int) -> bool:
    """Whether a meter is compound (6/8, 9/8, 12/8, 6/4...): a numerator that is a multiple of 3 above 3."""
    return numerator % 3 == 0 and numerator > 3


def default_unit(bar_length: Fraction | None) -> Fraction:
    """The unit note length when L: is absent: 1/16 for bars shorter than 3/4, else 1/8 (also in free meter)."""
    if bar_length is not None and bar_length < Fraction(3, 4):
        return Fraction(1, 16)
    return Fraction(1, 8)


# `>`, `>>`, `>>>` (and `<`...): the factors of the note before and the note after (ABC 2.1, 4.4).
BROKEN_RHYTHM = {1: (Fraction(3, 2), Fraction(1, 2)), 2: (Fraction(7, 4), Fraction(1, 4)), 3: (Fraction(15, 8), Fraction(1, 8))}

# (p: the time q that p notes take when q is not given (ABC 2.1, 4.13); other p take 3 in compound meter, 2 otherwise.
TUPLET_TIMES = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}


def tuplet_time(notes: int, compound: bool) -> int:
    """How many notes' time `notes` notes of a tuplet `(p` take when the tune does not say: `(3` is 3 in the time of 2."""
    return TUPLET_TIMES.get(notes, 3 if compound else 2)


def is_pickup(duration: Fraction, bar_length: Fraction | None) -> bool:
    """Whether a first bar of this duration is a pickup (an anacrusis): shorter than a full bar of its meter."""
    return bar_length is not None and duration < bar_length


# ----- what the renderers can hold; the checker refuses anything beyond, naming the limit

LOWEST_PITCH = 0  # MIDI key numbers: C-1 ...
HIGHEST_PITCH = 127  # ... to G9
LONGEST_NOTE = Fraction(8)  # whole notes: a maxima, the longest note value MusicXML names
SHORTEST_NOTE = Fraction(1, 256)  # whole notes: a 256th note
SHORTEST_TUPLET_NOTE = Fraction(1, 64)  # the shortest note value a tuplet may scale: 64th-note triplets, not 128th
MOST_TUPLET_NOTES = 9  # p and q of a tuplet (p:q:r
LARGEST_METER_NUMERATOR = 64  # music21 slows down sharply above: M:1000/4 takes it 30 s
METER_DENOMINATORS = (1, 2, 4, 8, 16, 32, 64)  # a MIDI time signature holds only powers of two
LONGEST_BAR = LONGEST_NOTE  # a whole-bar rest is a single note
MOST_REST_BARS = 1000  # the Z and X rests of one tune add up to at most this many bars
MOST_ENDINGS = 9  # endings are numbered 1 to 9: [1, [2, [1,3 ...
# What one bar of one voice may hold, far above what a corpus has: music21 takes tens of seconds to write
# 500 overlays, decorations or grace notes in a bar as MusicXML, and verovio longer to draw them.
MOST_GRACE_NOTES_IN_BAR = 64
MOST_OVERLAYS_IN_BAR = 8  # `&` layers beyond the first
MOST_DECORATIONS_IN_BAR = 64
MOST_VOICES = 15  # MIDI's sixteen channels, less the percussion channel
# Tempo in quarter notes a minute: a MIDI tempo is 1 to 2**24 - 1 microseconds a quarter note.
SLOWEST_TEMPO = Fraction(60_000_000, 2**24 - 1)
FASTEST_TEMPO = Fraction(60_000_000)


def length_text(length: Fraction) -> str:
    """A length in whole notes as a reader would write it: 3/8, 2, 1/256 (and "less than 1/1000000" for less)."""
    if length < Fraction(1, 1_000_000):
        return "less than 1/1000000"
    return str(length.numerator) if length.denominator == 1 else f"{length.numerator}/{length.denominator}"


def note_length_problem(length: Fraction) -> str | None:
    """Why the renderers cannot hold a note, chord or rest of `length` whole notes, or None when they can.

    A length must be at most LONGEST_NOTE and either a sum of note values down to a SHORTEST_NOTE or such a sum
    down to a SHORTEST_TUPLET_NOTE scaled by a tuplet of at most MOST_TUPLET_NOTES notes (3:2, 5:4, 7:4, 9:8).
    """
    if length > LONGEST_NOTE:
        return f"lasts {length_text(length)} whole notes; the longest note the renderers take is {LONGEST_NOTE} whole notes"
    odd = length.denominator >> ((length.denominator & -length.denominator).bit_length() - 1)  # without its twos
    if odd > MOST_TUPLET_NOTES:
        return (f"lasts {length_text(length)} of a whole note, which needs a tuplet of {odd} notes; "
                f"the renderers take tuplets of at most {MOST_TUPLET_NOTES}")
    if odd == 1:
        shortest = SHORTEST_NOTE
        scaled = length
    else:
        shortest = SHORTEST_TUPLET_NOTE
        scaled = length * odd / (1 << (odd.bit_length() - 1))  # the written value, before a tuplet odd:2**k scales it
    if scaled.denominator > shortest.denominator:
        what = "in a tuplet " if odd > 1 else ""
        return (f"lasts {length_text(length)} of a whole note; the shortest note the renderers take {what}is "
                f"a 1/{shortest.denominator} note")
    return None


def pitch_problem(midi: int) -> str | None:
    """Why MIDI and MusicXML cannot hold a note of MIDI key number `midi`, or None when they can."""
    if LOWEST_PITCH <= midi <= HIGHEST_PITCH:
        return None
    return f"is MIDI note {midi}; MIDI and MusicXML take notes from {LOWEST_PITCH} (C-1) to {HIGHEST_PITCH} (G9)"
