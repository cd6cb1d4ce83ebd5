"""Decoding a JSON list an item at a time from text that comes in pieces, so that a large file is never held whole."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

JSON_SPACE = re.compile(r"[ \t\n\r]*")  # the whitespace JSON allows between tokens


class NotAJsonList(ValueError):
    """The text is not one JSON list, as far as the stream shows; decode it whole to learn what is wrong."""


class _Buffer:
    """The text not yet decoded, topped up from the pieces."""

    def __init__(self, pieces: Iterator[str]):
        self.pieces = pieces
        self.text = ""
        self.position = 0
        self.done = False  # whether every piece has been read

    def more(self) -> bool:
        """Append the next piece, dropping what was decoded; False when there is none."""
        piece = None if self.done else next(self.pieces, None)
        if piece is None:
            self.done = True
            return False
        self.text = self.text[self.position:] + piece
        self.position = 0
        return True

    def grow(self) -> None:
        """Read until twice as much undecoded text is held (or all of it), so a long item is decoded O(log n) times."""
        wanted = 2 * (len(self.text) - self.position) + 1
        while len(self.text) - self.position < wanted and self.more():
            pass

    def skip_space(self) -> None:
        """Move past JSON whitespace, reading on as needed."""
        while True:
            self.position = _space_end(self.text, self.position)
            if self.position < len(self.text) or not self.more():
                return

    def mark(self) -> str:
        """Take the next character ("" at the end)."""
        self.skip_space()
        character = self.text[self.position:self.position + 1]
        self.position += len(character)
        return character

    def value(self, decoder: json.JSONDecoder) -> Any:
        """Decode the next list item; one not yet followed by `,` or `]` may go on (`1` of `1e5`), so read on."""
        while True:
            try:
                item, end = decoder.raw_decode(self.text, self.position)
            except json.JSONDecodeError:
                if self.done:
                    raise NotAJsonList from None
            else:
                after = _space_end(self.text, end)
                if self.text[after:after + 1] in (",", "]") and after < len(self.text) or self.done:
                    self.position = end
                    return item
            self.grow()


def json_list_items(pieces: Iterator[str]) -> Iterator[Any]:
    """The items of the JSON list that the pieces of text make up, one at a time, as `json.loads` gives them.

    Raises NotAJsonList, after the items before the fault, for text that is not exactly one JSON list.
    """
    buffer, decoder = _Buffer(pieces), json.JSONDecoder()
    if buffer.mark() != "[":
        raise NotAJsonList
    buffer.skip_space()
    if buffer.text.startswith("]", buffer.position):
        buffer.mark()
    else:
        while True:
            buffer.skip_space()
            yield buffer.value(decoder)
            mark = buffer.mark()
            if mark == "]":
                break
            if mark != ",":
                raise NotAJsonList
    if buffer.mark():
        raise NotAJsonList


def _space_end(text: str, position: int) -> int:
    """Where the JSON whitespace at `position` ends (the pattern also matches none)."""
    match = JSON_SPACE.match(text, position)
    return match.end() if match else position
