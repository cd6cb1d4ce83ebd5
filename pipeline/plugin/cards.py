"""What an output plugin's `card` method receives and returns: one sample, and fragments of its gallery card."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from charmony.pipeline.plugin.verdict import Problem, Verdict

# Where a fragment goes on a card, top to bottom.
PLACES = ("view", "notes", "links", "text")


@dataclass(frozen=True)
class CardPart:
    """A fragment of HTML for a sample's card, and where it goes.

    `view`: scores, players, pictures, at the top; `notes`: a short line of facts; `links`: links to
    files; `text`: the sample's text, shown instead of the gallery's plain view of it.
    """

    html: str
    place: str = "view"

    def __post_init__(self) -> None:
        if self.place not in PLACES:
            raise ValueError(f"a card part's place is one of {', '.join(PLACES)}, not {self.place!r}")


@dataclass
class CardSample:
    """One sample as an output plugin's `card` sees it: its text, the plugin's results on it, and its files."""

    text: str
    file: str  # the sample's file name in its folder, e.g. sample_003.abc
    result: dict  # this plugin's results on the sample in samples.json: verdict, files, skipped, details, error
    problems: list[Problem]  # what every checker found wrong, for marking the text
    anchor: str  # unique on the page; the card's element ids start with it
    folder: Path  # the sample folder
    place_file: Callable[[str], str | None] = field(repr=False, default=lambda name: None)

    @property
    def files(self) -> list[str]:
        """The names of the files this plugin wrote for the sample, in the order it wrote them."""
        return [name for name in self.result.get("files", []) if isinstance(name, str) and Path(name).name == name]

    @property
    def verdict(self) -> Verdict | None:
        """This plugin's verdict on the sample, when it checked it."""
        data = self.result.get("verdict")
        try:
            return Verdict.from_json(data) if isinstance(data, dict) else None
        except (KeyError, TypeError):
            return None

    @property
    def details(self) -> dict:
        """What this plugin recorded about how it rendered the sample (its `Rendered.details`)."""
        details = self.result.get("details")
        return details if isinstance(details, dict) else {}

    def link(self, name: str) -> str | None:
        """The address, relative to index.html, of file `name` of the sample folder, copied into the gallery; None when missing."""
        return self.place_file(name)

    def file_link(self, name: str, label: str | None = None) -> str:
        """An HTML link to file `name` of the sample folder, or a note that it is missing."""
        return file_link(self.link(name), name, label)

    def text_html(self, language: str | None = None, css_class: str = "") -> str:
        """The sample's text as HTML, with line numbers and each problem's spot marked; `language` names a
        Pygments lexer (e.g. "python") to highlight the syntax with."""
        tokens = highlighted(self.text, language) if language else None
        return marked_text(self.text, self.problems, self.anchor, tokens, css_class)


def file_link(url: str | None, name: str, label: str | None = None) -> str:
    """`<a>` to a file placed in the gallery, or a note that the file is missing."""
    if url is None:
        return f'<span class="missing">{html.escape(name)} is missing</span>'
    return f'<a href="{html.escape(url)}" download>{html.escape(label or name)}</a>'


@lru_cache(maxsize=64)
def _lexer(language: str):
    from pygments.lexers import get_lexer_by_name

    return get_lexer_by_name(language, stripnl=False, stripall=False, ensurenl=False, tabsize=0)


def lexer_for_file(name: str) -> str | None:
    """The Pygments name of the language of a file, by its extension; None for plain text or an unknown one."""
    return _language_of_suffix(Path(name).suffix.lower())


@lru_cache(maxsize=64)
def _language_of_suffix(suffix: str) -> str | None:
    from pygments.lexers import get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_for_filename(f"sample{suffix}")
    except ClassNotFound:
        return None
    return None if lexer.name == "Text only" else lexer.aliases[0]


def highlighted(text: str, language: str) -> list[tuple[str, str]] | None:
    """(CSS class, text) pieces of `text` as Pygments highlights `language`; None when it cannot."""
    from pygments import lex
    from pygments.token import STANDARD_TYPES
    from pygments.util import ClassNotFound

    try:
        lexer = _lexer(language)
    except ClassNotFound:
        return None
    pieces = []
    for kind, value in lex(text, lexer):
        while kind not in STANDARD_TYPES:
            kind = kind.parent
        pieces.append((STANDARD_TYPES[kind], value))
    return pieces if "".join(value for _, value in pieces) == text else None


def marked_text(text: str, problems: Iterable[Problem], anchor: str, tokens: list[tuple[str, str]] | None = None,
                css_class: str = "") -> str:
    """`<pre>` of `text`, a span per line (id ANCHOR-L<n>), each problem's line and column marked with its message."""
    spots: dict[int, dict[int, list[str]]] = {}
    for problem in problems:
        spots.setdefault(problem.line, {}).setdefault(max(problem.column, 1), []).append(problem.message)
    lines: list[list[tuple[str, str]]] = [[]]
    for kind, value in tokens or [("", text)]:
        for number, piece in enumerate(value.split("\n")):
            if number:
                lines.append([])
            if piece:
                lines[-1].append((kind, piece))
    if text.endswith("\n") and not lines[-1]:
        lines.pop()
    rendered = [_line(pieces, number, spots.get(number, {}), anchor) for number, pieces in enumerate(lines, start=1)]
    classes = " ".join(filter(None, ["text", css_class, "code" if tokens else ""]))
    # Each line is a block of its own, so no newline goes between them (it would show as an empty line).
    return f'<pre class="{classes}">' + "".join(rendered) + "</pre>"


def _line(pieces: list[tuple[str, str]], number: int, spots: dict[int, list[str]], anchor: str) -> str:
    out, column = [], 1
    for kind, value in pieces:
        start = column
        column += len(value)
        marks = sorted(c for c in spots if start <= c < column)
        at = 0
        for mark in marks:
            offset = mark - start
            out.append(_piece(kind, value[at:offset]))
            out.append(_mark(_piece(kind, value[offset]), spots[mark]))
            at = offset + 1
        out.append(_piece(kind, value[at:]))
    beyond = [messages for c, messages in sorted(spots.items()) if c >= column]
    if beyond:
        out.append(_mark(" ", [m for messages in beyond for m in messages]))
    problem = ' class="line problem"' if spots else ' class="line"'
    return f'<span{problem} id="{anchor}-L{number}" data-line="{number}">' + "".join(out) + "</span>"


def _piece(kind: str, value: str) -> str:
    if not value:
        return ""
    escaped = html.escape(value, quote=False)
    return f'<span class="{kind}">{escaped}</span>' if kind else escaped


def _mark(inner: str, messages: list[str]) -> str:
    return f'<mark class="spot" title="{html.escape("; ".join(messages))}">{inner}</mark>'
