"""Keys in ABC: the K: value of a music21 key signature, and how to spell a transposition so the key stays simple."""

from __future__ import annotations

from collections.abc import Iterable

from music21 import interval, key, pitch

from charmony.pipeline.abc.theory import mode_named, name_at_fifths
from charmony.pipeline.system.errors import AbcError


def abc_key(signature: key.KeySignature | None) -> str:
    """K: value of a key signature: F, Gm, Ddor...; C when there is none."""
    if signature is None:
        return "C"
    sharps = signature.sharps
    if not -7 <= sharps <= 7:
        raise AbcError(f"a key signature of {abs(sharps)} {'sharps' if sharps > 0 else 'flats'} cannot be written in ABC")
    mode = mode_named(getattr(signature, "mode", None))
    tonic = name_at_fifths(sharps - mode.fifths)
    return tonic.replace("-", "b") + mode.suffix


def simplest_shift(semitones: int, sharps: int, later: Iterable[int] = (), wanted: int | None = None) -> interval.Interval:
    """The spelling of a shift by `semitones` that leaves a key of `sharps` with the fewest sharps or flats, and
    every `later` key signature of the piece writable (seven sharps or flats at most).

    Moving a key by d fifths moves it by 7*d semitones, so each shift has two spellings 12 fifths apart
    (+1 semitone is a minor second, -5 fifths, or an augmented unison, +7). Of two equally simple keys
    (F# and Gb major) the flat one wins, unless it would spell a later key with more than seven flats
    (BWV 244.15 modulates from E to D major: up a whole tone, Gb major would make its D major Ebb). With a
    `wanted` key signature that one spelling gives (a tune moved back to F# major, not Gb), that one wins.
    """
    near = (7 * semitones) % 12
    keys = [sharps, *later]
    fifths = min((near, near - 12),
                 key=lambda d: (any(abs(k + d) > 7 for k in keys), wanted is not None and sharps + d != wanted,
                                abs(sharps + d), sharps + d > 0))
    target = pitch.Pitch(name_at_fifths(fifths) + "4")
    target.octave += round((60 + semitones - target.ps) / 12)
    return interval.Interval(pitch.Pitch("C4"), target)
