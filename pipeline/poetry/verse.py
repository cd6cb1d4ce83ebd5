"""Chinese verse: a poem's lines of verse (句), their lengths, and the classical form they make."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Marks that end a line of verse; a text line usually holds a couplet, e.g. 白日依山尽，黄河入海流。
PAUSES = "，。？！；：、,.?!;:"
PAUSE = re.compile(f"[{re.escape(PAUSES)}]")
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")

FORM_NAMES = {
    (5, 4): "five-character quatrain",
    (7, 4): "seven-character quatrain",
    (5, 8): "five-character regulated verse",
    (7, 8): "seven-character regulated verse",
}
# What `--option form=` may name, and what each asks of a regular poem's shape.
FORM_TESTS = {
    "regular": lambda shape: True,
    "five": lambda shape: shape.line_length == 5,
    "seven": lambda shape: shape.line_length == 7,
    "quatrain": lambda shape: shape.lines == 4,
    "regulated": lambda shape: shape.lines == 8,
}


def character_count(text: str) -> int:
    """Characters of verse in `text`: letters and digits, not punctuation or spaces."""
    return sum(unicodedata.category(char)[0] in "LN" for char in text)


@dataclass(frozen=True)
class VerseLine:
    """One line of verse and where it starts in the poem's text (1-based)."""

    text: str
    line: int
    column: int

    @property
    def length(self) -> int:
        """Its characters, punctuation and spaces not counted."""
        return character_count(self.text)


@dataclass(frozen=True)
class Shape:
    """How many lines of verse a poem has and how long they are (None when they differ)."""

    lines: int
    line_length: int | None

    @property
    def regular(self) -> bool:
        """Every line five or seven characters long, and an even number of them."""
        return self.line_length in (5, 7) and self.lines > 0 and self.lines % 2 == 0

    @property
    def form(self) -> str | None:
        """The form's name, such as "five-character quatrain", for a regular poem."""
        if not self.regular or self.line_length is None:
            return None
        words = "five" if self.line_length == 5 else "seven"
        return FORM_NAMES.get((self.line_length, self.lines), f"{self.lines}-line {words}-character verse")


def is_heading(line: str) -> bool:
    """Whether a text line is a title (《…》) or an author's name rather than verse."""
    stripped = line.strip()
    return stripped.startswith("《") or not PAUSE.search(stripped)


def verse_lines(text: str, skip_headings: bool = False) -> list[VerseLine]:
    """The lines of verse in `text`, each text line cut after every pause mark.

    With `skip_headings`, title and author lines before the first line of verse are left out.
    """
    found = []
    in_headings = skip_headings
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or (in_headings and is_heading(line)):
            continue
        in_headings = False
        start = 0
        for match in [*PAUSE.finditer(line), None]:
            end = match.end() if match else len(line)
            piece = line[start:end]
            if character_count(piece):
                column = start + len(piece) - len(piece.lstrip()) + 1
                found.append(VerseLine(piece.strip(), number, column))
            start = end
    return found


def shape(lines: list[VerseLine]) -> Shape:
    """The shape the lines make."""
    lengths = {line.length for line in lines}
    return Shape(len(lines), lengths.pop() if len(lengths) == 1 else None)


def parse_forms(value: str) -> tuple[str, ...]:
    """The form names in `--option form=five,quatrain`, or a ValueError naming the unknown one."""
    names = tuple(part.strip() for part in re.split(r"[,+]", value) if part.strip())
    unknown = [name for name in names if name not in FORM_TESTS]
    if unknown or not names:
        raise ValueError(unknown[0] if unknown else value)
    return names


def has_form(poem_shape: Shape, forms: tuple[str, ...]) -> bool:
    """Whether a poem of this shape is regular and of every form named."""
    return poem_shape.regular and all(FORM_TESTS[name](poem_shape) for name in forms)
