"""Splitting one line of ABC music into tokens: notes, rests, chords, barlines, inline fields and the rest."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from fractions import Fraction

from charmony.pipeline.abc.fields import read_number

LENGTH = r"\d*(?:/+\d*)?"
# One alternative per token kind; the first that matches at a position wins.
TOKEN = re.compile(
    rf"""
    (?P<space>[ \t]+)
  | (?P<comment>%.*)
  | (?P<field>\[(?P<field_letter>[A-Za-z]):(?P<field_value>[^\]]*)\])
  | (?P<open_field>\[[A-Za-z]:)
  | (?P<ending>\[(?P<ending_numbers>\d+(?:[,-]\d+)*))
  | (?P<bar>(?P<bar_text>(?::+\|*|\[?\|+\]?):*)(?P<bar_ending>\d+(?:[,-]\d+)*)?)
  | (?P<chord_open>\[)
  | (?P<chord_close>\](?P<chord_length>{LENGTH}))
  | (?P<note>(?P<accidental>\^\^|\^|__|_|=)?(?P<letter>[A-Ga-g])(?P<octave>[,']*)(?P<length>{LENGTH}))
  | (?P<rest>(?P<rest_letter>[zx])(?P<rest_length>{LENGTH}))
  | (?P<bar_rest>[ZX](?P<bar_count>\d*))
  | (?P<tie>-)
  | (?P<broken>>{{1,3}}|<{{1,3}})
  | (?P<tuplet>\((?P<p>\d+)(?::(?P<q>\d*)(?::(?P<r>\d*))?)?)
  | (?P<slur_open>\()
  | (?P<slur_close>\))
  | (?P<grace_open>\{{/?)
  | (?P<grace_close>\}})
  | (?P<symbol>"[^"]*")
  | (?P<decoration>![^!\s]*!|\+[^+\s]*\+)
  | (?P<short_decoration>[.~H-Wh-w])
  | (?P<overlay>&)
  | (?P<ignored>[y`$])
  | (?P<continuation>\\[ \t]*(?:%.*)?$)
  | (?P<other>.)
    """,
    re.VERBOSE,
)
RESERVED = "#*;?@"
LENGTH_PARTS = re.compile(r"(\d*)(/*)(\d*)")


def tokens(line: str) -> Iterator[re.Match]:
    """Every token of a music line, in order; each match's `lastgroup` names its kind."""
    position = 0
    while position < len(line):
        match = TOKEN.match(line, position)
        yield match
        position = match.end()


@lru_cache(maxsize=512)
def length_factor(text: str) -> Fraction | None:
    """The multiplier a length suffix gives (`2`, `/2`, `/`, `//`, `3/2`, `3/`), or None when it is malformed."""
    if not text:
        return Fraction(1)
    digits, slashes, denominator = LENGTH_PARTS.fullmatch(text).groups()
    numerator = read_number(digits) if digits else 1
    if not slashes:
        value = Fraction(numerator)
    elif denominator:
        if len(slashes) > 1 or read_number(denominator) == 0:
            return None
        value = Fraction(numerator, read_number(denominator))
    else:
        value = Fraction(numerator, 2 ** len(slashes))
    return value if value > 0 else None


def describe_other(character: str) -> str:
    """The message for a character that belongs to no token of the music."""
    if character in RESERVED:
        return f"reserved character {character!r} in the music"
    if ord(character) > 127:
        return f"non-ASCII character {character!r} in the music; text belongs in a field such as T: or w:"
    if character == "!":
        return "'!' opens a decoration that is not closed on this line, as in !trill!"
    if character == '"':
        return "'\"' opens a chord symbol or annotation that is not closed on this line"
    if character == ":":
        return "stray ':'; a repeat is written |: or :|"
    return f"unexpected character {character!r} in the music"
