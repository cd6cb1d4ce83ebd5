"""Reading poems from the file formats poetry collections come in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from charmony.pipeline.poetry.verse import HAN, PAUSE, character_count
from charmony.pipeline.system.errors import CorpusError
from charmony.pipeline.system.json_list import NotAJsonList, json_list_items
from charmony.pipeline.system.sources import read_pieces, read_text, split_pieces

FORMATS = ("auto", "lines", "json", "fortune", "blank")
FORMATS_IN_WORDS = (
    "one poem per line (as the recipe's poetry.txt), chinese-poetry JSON (a list of objects with title, "
    "author and paragraphs), a fortune file (poems separated by % lines, as Debian's fortunes-zh) "
    "or English poems separated by blank lines"
)
JSON_LAYOUT = "a list of objects with title, author and paragraphs, as in the chinese-poetry collection"

ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
FORTUNE_SEPARATOR = re.compile(r"^%[ \t]*$", re.MULTILINE)
BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")
# Editors' notes in verse, such as （一作：…）; the recipe dropped poems holding them, we drop the notes.
NOTE = re.compile(r"（[^（）]*）|\([^()]*\)")
COUPLET = re.compile(r"[^。！？；]+[。！？；]*")
# poetry.txt as some recipes have it, `title:poem`; a title holds no pause mark.
TITLED_LINE = re.compile(r"^([^:]{1,40}):(.+)$")
# English verse is letters, spaces and the punctuation of prose; code, tables and markup are not.
VERSE_CHARACTERS = re.compile(r"[^\W\d_]|[\s.,;:!?'\"’‘“”()\-–—]")


@dataclass(frozen=True)
class Poem:
    """A poem's body, one text line per list item, with its title and author where known."""

    lines: tuple[str, ...]
    title: str = ""
    author: str = ""


def clean_verse(line: str) -> str:
    """A line of Chinese verse without spaces or editors' notes; other lines keep their indentation."""
    if not HAN.search(line):
        return line.rstrip()
    return re.sub(r"\s+", "", NOTE.sub("", line))


def poem(lines: list[str], title: str = "", author: str = "") -> Poem | None:
    """A Poem of the cleaned, non-empty lines, or None when no verse is left."""
    kept = tuple(line for line in map(clean_verse, lines) if line)
    return Poem(kept, title.strip(), author.strip()) if any(map(character_count, kept)) else None


def text_lines(path: Path) -> Iterator[str]:
    """The lines of a file's text, as `text.split("\\n")` gives them, read a piece at a time."""
    carry = ""
    for piece in read_pieces(path):
        lines = (carry + piece).split("\n")
        carry = lines.pop()
        yield from lines
    yield carry


@dataclass
class _TextCounts:
    """What telling the formats apart needs to know of a whole text, counted a line at a time."""

    letters: int = 0
    han: int = 0  # letters that are Han characters
    visible: int = 0  # characters that are not whitespace
    verse: int = 0  # visible characters of English verse (VERSE_CHARACTERS)
    lines: int = 0  # lines that are not blank
    line_characters: int = 0  # in the lines that are not blank

    def add(self, line: str) -> None:
        """Count one line."""
        self.letters += sum(map(str.isalpha, line))
        self.han += sum(map(str.isalpha, HAN.findall(line)))
        visible = re.sub(r"\s", "", line)
        self.visible += len(visible)
        self.verse += len(VERSE_CHARACTERS.findall(visible))
        if line.strip():
            self.lines += 1
            self.line_characters += len(line)


def detect_format(path: Path) -> str:
    """Which of the formats a file is in, or a CorpusError saying it is in none; the file is read a piece at a time."""
    counts, blank = _TextCounts(), True
    for line in text_lines(path):
        if blank and line.strip():
            if path.suffix.lower() == ".json" or line.lstrip()[:1] in ("[", "{"):
                return "json"
            blank = False
        if FORTUNE_SEPARATOR.fullmatch(line):
            return "fortune"
        counts.add(line)
    if blank:
        return "lines"  # no poems: prepare says the corpus is empty
    if counts.letters and counts.han >= counts.letters / 2:
        return "lines"
    if counts.letters and _looks_like_english_verse(counts):
        return "blank"
    raise CorpusError(f"{path}: not a poetry file in any format charmony reads; give {FORMATS_IN_WORDS}")


def _looks_like_english_verse(counts: _TextCounts) -> bool:
    """Mostly letters and the punctuation of prose, in lines of verse length (not paragraphs of prose)."""
    return counts.verse / counts.visible >= 0.97 and counts.line_characters / counts.lines <= 100


def read_poems(path: Path, format: str) -> Iterator[Poem]:
    """The poems in one file, in `format` or the one detected, read a piece at a time."""
    if format == "auto":
        format = detect_format(path)
    reader = {"lines": poems_per_line, "json": json_poems, "fortune": fortune_poems, "blank": blank_separated_poems}
    yield from reader[format](path)


def poems_per_line(path: Path) -> Iterator[Poem]:
    """One poem per line, optionally `title:poem`, each couplet becoming a line of its own."""
    for line in text_lines(path):
        titled = TITLED_LINE.match(line.strip())
        title, body = (titled.group(1), titled.group(2)) if titled and not PAUSE.search(titled.group(1)) else ("", line)
        found = poem(COUPLET.findall(re.sub(r"\s+", "", body)), title)
        if found:
            yield found


def json_items(path: Path) -> Iterator[Any]:
    """The items of a file holding a JSON list, decoded one at a time; a CorpusError for any other file."""
    count = 0
    try:
        for item in json_list_items(read_pieces(path)):
            count += 1
            yield item
        return
    except NotAJsonList:
        pass
    # Decoded whole only to say what is wrong, as json does.
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise CorpusError(f"{path}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}); give {JSON_LAYOUT}") from None
    if not isinstance(data, list):
        raise CorpusError(f"{path}: holds a JSON {_json_type(data)}, not {JSON_LAYOUT}")
    yield from data[count:]


def json_poems(path: Path) -> Iterator[Poem]:
    """The chinese-poetry layout: a list of {"title", "author", "paragraphs"} ("rhythmic" for ci).

    A JSON error anywhere in the file is told before a wrong item, as when the file was decoded whole.
    """
    wrong = None
    for number, item in enumerate(json_items(path), start=1):
        paragraphs = item.get("paragraphs") if isinstance(item, dict) else None
        title = item.get("title", item.get("rhythmic", "")) if isinstance(item, dict) else ""
        author = item.get("author", "") if isinstance(item, dict) else ""
        if not (isinstance(paragraphs, list) and all(isinstance(p, str) for p in paragraphs)
                and isinstance(title, str) and isinstance(author, str)):
            wrong = wrong or CorpusError(
                f"{path}: item {number} is not an object with a list of strings as paragraphs "
                f"and strings as title and author; give {JSON_LAYOUT}"
            )
        found = None if wrong else poem(cast(list[str], paragraphs), str(title), str(author))
        if found:
            yield found
    if wrong:
        raise wrong


def fortune_entries(path: Path) -> Iterator[list[str]]:
    """The lines of each entry of a fortune file, without colour codes, as splitting at `%` lines gives them."""
    entry: list[str] = []
    for line in text_lines(path):
        line = ANSI_COLOUR.sub("", line)
        if FORTUNE_SEPARATOR.fullmatch(line):
            yield "\n".join(entry).strip("\n").split("\n")
            entry = []
        else:
            entry.append(line)
    yield "\n".join(entry).strip("\n").split("\n")


def fortune_poems(path: Path) -> Iterator[Poem]:
    """Entries separated by `%` lines; a `《title》` and `作者：name` header, as fortunes-zh has, is optional."""
    for lines in fortune_entries(path):
        title = author = ""
        if lines and ("《" in lines[0] or lines[0].startswith("题目")):
            title = _fortune_title(lines.pop(0))
        if lines and re.match(r"作者[:：]", lines[0]):
            author = re.sub(r"（[^）]*）$", "", lines.pop(0)[3:].strip())
        yield from _fortune_body(lines, title, author)


def _fortune_title(line: str) -> str:
    """The title inside 《…》 (the whole line without a `题目:` label where there are no brackets)."""
    line = re.sub(r"^题目[:：]", "", line.strip())
    bracketed = re.match(r"《(.*)》", line)
    return bracketed.group(1) if bracketed else line


def _fortune_body(lines: list[str], title: str, author: str) -> Iterator[Poem]:
    """One entry's poems: a preface (并序) is left out, and headings such as 其一 start a new poem."""
    blocks, block = [], []
    for line in [*lines, ""]:
        if line.strip():
            block.append(line)
        elif block:
            blocks.append(block)
            block = []
    if "序" in title and len(blocks) > 1:
        blocks = blocks[1:]
    poems, subtitle = [], ""
    current: list[str] = []
    for block in blocks:
        heading = block[0].strip()
        if len(block) == 1 and len(heading) <= 4 and not PAUSE.search(heading):
            poems.append((current, subtitle))
            current, subtitle = [], heading
        else:
            current += block
    poems.append((current, subtitle))
    for body, subtitle in poems:
        found = poem(body, f"{title}・{subtitle}" if subtitle else title, author)
        if found:
            yield found


def blank_separated_poems(path: Path) -> Iterator[Poem]:
    """Poems separated by blank lines, as English collections are usually written."""
    parts: list[str] = []
    for text, continues in split_pieces(read_pieces(path), BLANK_LINES):
        parts.append(text)
        if continues:
            continue
        found = poem([line.rstrip() for line in "".join(parts).strip("\n").split("\n")])
        parts = []
        if found:
            yield found


def _json_type(value) -> str:
    return {dict: "object", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "null")
