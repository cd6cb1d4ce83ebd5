"""Reading poems from the file formats poetry collections come in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from charmony.pipeline.poetry.verse import HAN, PAUSE, character_count
from charmony.pipeline.system.errors import CorpusError

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


def detect_format(path: Path, text: str) -> str:
    """Which of the formats a file is in, or a CorpusError saying it is in none."""
    if not text.strip():
        return "lines"  # no poems: prepare says the corpus is empty
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{"):
        return "json"
    if FORTUNE_SEPARATOR.search(text):
        return "fortune"
    letters = [char for char in text if char.isalpha()]
    han = sum(bool(HAN.match(char)) for char in letters)
    if letters and han >= len(letters) / 2:
        return "lines"
    lines = [line for line in text.split("\n") if line.strip()]
    if letters and _looks_like_english_verse(text, lines):
        return "blank"
    raise CorpusError(f"{path}: not a poetry file in any format charmony reads; give {FORMATS_IN_WORDS}")


def _looks_like_english_verse(text: str, lines: list[str]) -> bool:
    """Mostly letters and the punctuation of prose, in lines of verse length (not paragraphs of prose)."""
    visible = re.sub(r"\s", "", text)
    verse_share = len(VERSE_CHARACTERS.findall(visible)) / len(visible)
    return verse_share >= 0.97 and sum(map(len, lines)) / len(lines) <= 100


def read_poems(path: Path, text: str, format: str) -> Iterator[Poem]:
    """The poems in one file's text, in `format` or the one detected."""
    if format == "auto":
        format = detect_format(path, text)
    reader = {"lines": poems_per_line, "json": json_poems, "fortune": fortune_poems, "blank": blank_separated_poems}
    yield from reader[format](path, text)


def poems_per_line(path: Path, text: str) -> Iterator[Poem]:
    """One poem per line, optionally `title:poem`, each couplet becoming a line of its own."""
    for line in text.split("\n"):
        titled = TITLED_LINE.match(line.strip())
        title, body = (titled.group(1), titled.group(2)) if titled and not PAUSE.search(titled.group(1)) else ("", line)
        found = poem(COUPLET.findall(re.sub(r"\s+", "", body)), title)
        if found:
            yield found


def json_poems(path: Path, text: str) -> Iterator[Poem]:
    """The chinese-poetry layout: a list of {"title", "author", "paragraphs"} ("rhythmic" for ci)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CorpusError(f"{path}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}); give {JSON_LAYOUT}") from None
    if not isinstance(data, list):
        raise CorpusError(f"{path}: holds a JSON {_json_type(data)}, not {JSON_LAYOUT}")
    for number, item in enumerate(data, start=1):
        paragraphs = item.get("paragraphs") if isinstance(item, dict) else None
        title = item.get("title", item.get("rhythmic", "")) if isinstance(item, dict) else ""
        author = item.get("author", "") if isinstance(item, dict) else ""
        if not (isinstance(paragraphs, list) and all(isinstance(p, str) for p in paragraphs)
                and isinstance(title, str) and isinstance(author, str)):
            raise CorpusError(
                f"{path}: item {number} is not an object with a list of strings as paragraphs "
                f"and strings as title and author; give {JSON_LAYOUT}"
            )
        found = poem(paragraphs, title, author)
        if found:
            yield found


def fortune_poems(path: Path, text: str) -> Iterator[Poem]:
    """Entries separated by `%` lines; a `《title》` and `作者：name` header, as fortunes-zh has, is optional."""
    for entry in FORTUNE_SEPARATOR.split(ANSI_COLOUR.sub("", text)):
        lines = entry.strip("\n").split("\n")
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


def blank_separated_poems(path: Path, text: str) -> Iterator[Poem]:
    """Poems separated by blank lines, as English collections are usually written."""
    for block in BLANK_LINES.split(text):
        found = poem([line.rstrip() for line in block.strip("\n").split("\n")])
        if found:
            yield found


def _json_type(value) -> str:
    return {dict: "object", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "null")
