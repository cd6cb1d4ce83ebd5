"""The `python` output plugin: does generated Python parse, as a whole or block by top-level block?"""

from __future__ import annotations

import ast
import html
import re
import warnings

from charmony.pipeline.plugin.cards import CardPart, CardSample
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.output import OutputPlugin
from charmony.pipeline.plugin.verdict import Problem, Verdict

BLOCK_START = re.compile(r"(?:async[ \t]+def|def|class)\b")
# A line at column 0 that continues the statement above rather than starting a new one.
CONTINUATION = re.compile(r"[)\]}#]")


def parse_error(source: str) -> SyntaxError | None:
    """Why `source` does not parse as Python, or None when it does."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning for an invalid escape in a string
            ast.parse(source)
    except SyntaxError as error:
        return error
    except (ValueError, RecursionError, MemoryError) as error:  # NUL bytes; nesting too deep for the parser
        return SyntaxError(str(error) or type(error).__name__)
    return None


def top_level_blocks(source: str) -> list[str]:
    """The top-level `def` and `class` blocks, decorators included, each up to the next top-level statement."""
    lines = source.split("\n")
    blocks = []
    for number, line in enumerate(lines):
        if not BLOCK_START.match(line):
            continue
        start = number
        while start > 0 and lines[start - 1].startswith("@"):
            start -= 1
        end = number + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][0].isspace() or CONTINUATION.match(lines[end])):
            end += 1
        blocks.append("\n".join(lines[start:end]))
    return blocks


class PythonChecker(OutputPlugin):
    """Python that `ast` parses: the whole sample, or else the share of its top-level def/class blocks."""

    name = "python"
    description = "Checks Python: parses with ast as a whole, or else the share of top-level def/class blocks that do."
    extensions = (".py",)

    def check(self, text: str) -> Verdict:
        """Parse the sample; when it fails, parse each top-level def/class block on its own."""
        blocks = top_level_blocks(text)
        error = parse_error(text)
        if error is None:
            return Verdict(True, details={"parses": True, "blocks": len(blocks), "blocks_parsing": len(blocks)})
        parsing = sum(parse_error(block) is None for block in blocks)
        problem = Problem(error.lineno or 1, error.offset or 1, error.msg or "does not parse")
        return Verdict(False, [problem], {"parses": False, "blocks": len(blocks), "blocks_parsing": parsing})

    def card(self, sample: CardSample) -> list[CardPart]:
        """The source highlighted by Pygments with the parse error's spot marked, and the parse verdict."""
        parts = [CardPart(sample.text_html(language="python"), "text")]
        verdict = sample.verdict
        if verdict is not None:
            if verdict.valid:
                line = "parses as Python"
            else:
                blocks = verdict.details.get("blocks", 0)
                line = f"does not parse as Python; {verdict.details.get('blocks_parsing', 0)} of {blocks} top-level def/class blocks do"
            parts.append(CardPart(html.escape(line), "notes"))
        return parts

    def summarise(self, verdicts: list[Verdict]) -> str:
        """How many samples parse, and in the rest how many def/class blocks do."""
        failed = [v for v in verdicts if not v.valid]
        line = f"{len(verdicts) - len(failed)}/{len(verdicts)} parse"
        blocks = sum(v.details.get("blocks", 0) for v in failed)
        if blocks:
            parsing = sum(v.details.get("blocks_parsing", 0) for v in failed)
            line += f"; in the other {len(failed)}, {parsing}/{blocks} top-level def/class blocks parse ({parsing / blocks:.0%})"
        return line


@hookimpl
def register_outputs(register):
    """Register the `python` checker."""
    register(PythonChecker())
