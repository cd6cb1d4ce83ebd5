"""Moving a tune so that its tonic is C (as the `bach` corpus' transpose=tonic moves every chorale), and back."""

from __future__ import annotations

from fractions import Fraction

from charmony.pipeline.abc.fields import FieldError, Key, parse_key
from charmony.pipeline.abc.score import abc_to_score
from charmony.pipeline.abc.sounds import tonic_class
from charmony.pipeline.abc.writer import WriterOptions, score_to_abc


def first_key(text: str) -> Key | None:
    """The key a tune's first K: field names; None when it names none or cannot be read."""
    value = next((line[2:] for line in text.splitlines() if line.startswith("K:")), "")
    try:
        return parse_key(value).key
    except FieldError:
        return None


def shift_to_c(text: str) -> int:
    """The semitones (-5 to +6) that move a tune's key, its first K: field, to the tonic C; 0 when it names none.

    A major key goes to C major, a minor key to C minor (not A minor), so that every tune ends on the same note.
    """
    shift = -(tonic_class(first_key(text)) or 0) % 12
    return shift - 12 if shift > 6 else shift


def key_sharps(text: str) -> int | None:
    """The sharps (negative: flats) of a tune's first key signature, its first K: field; None when it names none."""
    found = first_key(text)
    return None if found is None else found.sharps


def moved(text: str, semitones: int, unit: str | None = None, sharps: int | None = None) -> str:
    """One ABC tune moved by `semitones`, read and written again by charmony's writer (`unit`, such as "1/8", kept
    as its L:; `sharps`, the key signature to spell it in where the shift allows, such as F# rather than Gb major);
    the text itself when the shift is 0. Its X:, T: and C: stay, and every voice with its name and clef."""
    if semitones == 0:
        return text
    score = abc_to_score(text)
    title = score.metadata.title or None
    composer = score.metadata.composer or None
    number = next((line[2:].strip() for line in text.splitlines() if line.startswith("X:")), "1")
    options = WriterOptions(number=int(number) if number.isdigit() else 1, title=title, composer=composer,
                            transpose=semitones, unit=Fraction(unit) if unit else None, key_sharps=sharps)
    return score_to_abc(score, options)
