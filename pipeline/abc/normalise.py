"""Normalising an ABC tune from a folk collection: only the music and the fields that say how to play it."""

from __future__ import annotations

import re

# Header fields kept, in the order they are written; X: comes first and K: last.
HEADER_ORDER = ("X", "T", "C", "R", "P", "M", "L", "Q", "U", "V", "K")
# Fields that may change the music inside the tune body.
BODY_FIELDS = {"K", "M", "L", "Q", "V", "P", "U"}
FIELD_LINE = re.compile(r"^([A-Za-z+]):\s*(.*?)\s*$")
QUOTED = re.compile(r'"[^"\n]*"')
# A chord symbol as ABC 2.1 describes it: root, type, optional bass note ("Am", "D7", "G/B", "F#m7b5").
CHORD_SYMBOL = re.compile(
    r"[A-G][b#]?(?:m|min|maj|dim|aug|sus|M|\+|o)?\d*(?:(?:sus|add|maj|b|#)\d+)*(?:/[A-Ga-g][b#]?)?"
)


def strip_comment(line: str) -> str:
    """The line without its `%` comment (an escaped `\\%` stays)."""
    return re.sub(r"(?<!\\)%.*", "", line).rstrip()


def strip_annotations(music: str) -> str:
    """Music with every quoted string removed except chord symbols: fingerings, annotations, text."""
    def keep(match: re.Match) -> str:
        return match.group() if CHORD_SYMBOL.fullmatch(match.group()[1:-1].strip()) else ""

    return QUOTED.sub(keep, music)


def normalise_tune(text: str, number: int = 1) -> str | None:
    """The tune numbered `number`, with annotations, non-musical fields and comments gone, and its header ordered.

    Returns None for text without a K: field or without music, which is no tune at all. The tune ends at its
    first blank line.
    """
    header: dict[str, list[str]] = {letter: [] for letter in HEADER_ORDER}
    body: list[str] = []
    in_body = has_music = False
    for raw in text.splitlines():
        if raw.startswith("%%"):
            continue
        if not raw.strip():
            if in_body:
                break
            continue
        line = strip_comment(raw)
        if not line.strip():
            continue
        field = FIELD_LINE.match(line)
        if not in_body:
            if field is None:
                continue  # free text before the header's fields end: not music
            letter, value = field.groups()
            if letter in header:
                header[letter].append(value)
            in_body = letter == "K"
        elif field is not None and not line.startswith("|"):
            letter, value = field.groups()
            if letter in BODY_FIELDS:
                body.append(f"{letter}:{value}")
        else:
            music = strip_annotations(line).rstrip()
            if music.strip():
                body.append(music)
                has_music = True
    if not header["K"] or not has_music:
        return None
    if body[-1].endswith("\\"):
        body[-1] = body[-1][:-1].rstrip()
    lines = [f"X:{number}"]
    for letter in HEADER_ORDER[1:-1]:
        lines.extend(f"{letter}:{value}" for value in header[letter])
    lines.append(f"K:{header['K'][0]}")
    return "\n".join(lines + body) + "\n"
