"""Splitting an ABC file into its tunes, each starting at an `X:` line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

TUNE_START = re.compile(r"^X:", re.MULTILINE)


@dataclass(frozen=True)
class TuneText:
    """One tune's text and the 1-based line of the file it starts on."""

    text: str
    line: int


def iter_tunes(text: str) -> Iterator[TuneText]:
    """The tunes of an ABC file, one at a time, in time linear in the file; see split_tunes."""
    starts = (match.start() for match in TUNE_START.finditer(text))
    begin = next(starts, 0)
    line = text.count("\n", 0, begin) + 1
    while True:
        end = next(starts, len(text))
        piece = text[begin:end].rstrip() + "\n"
        if any(row.strip() and not row.lstrip().startswith("%") for row in piece.splitlines()):
            yield TuneText(piece, line)
        if end == len(text):
            return
        line += text.count("\n", begin, end)
        begin = end


def split_tunes(text: str) -> list[TuneText]:
    """The tunes of an ABC file; text before the first `X:` (the file header) is left out.

    A file with no `X:` line at all gives one piece holding all of it, so a checker can say what is missing.
    Pieces holding only blank lines and comments are dropped.
    """
    return list(iter_tunes(text))
