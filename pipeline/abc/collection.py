"""Splitting an ABC file into its tunes, each starting at an `X:` line."""

from __future__ import annotations

import re
from dataclasses import dataclass

TUNE_START = re.compile(r"^X:", re.MULTILINE)


@dataclass(frozen=True)
class TuneText:
    """One tune's text and the 1-based line of the file it starts on."""

    text: str
    line: int


def split_tunes(text: str) -> list[TuneText]:
    """The tunes of an ABC file; text before the first `X:` (the file header) is left out.

    A file with no `X:` line at all gives one piece holding all of it, so a checker can say what is missing.
    Pieces holding only blank lines and comments are dropped.
    """
    starts = [match.start() for match in TUNE_START.finditer(text)]
    if not starts:
        starts = [0]
    pieces = []
    for begin, end in zip(starts, starts[1:] + [len(text)]):
        piece = text[begin:end].rstrip() + "\n"
        if any(line.strip() and not line.lstrip().startswith("%") for line in piece.splitlines()):
            pieces.append(TuneText(piece, text.count("\n", 0, begin) + 1))
    return pieces
