"""The `poem` output plugin: is a generated poem regular verse, and of which form?"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path

from charmony.pipeline.plugin.cards import CardPart, CardSample
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.output import OutputPlugin
from charmony.pipeline.plugin.verdict import Problem, Verdict
from charmony.pipeline.poetry.verse import FORM_NAMES, HAN, shape, verse_lines
from charmony.pipeline.run.vocabulary import UNK


class PoemChecker(OutputPlugin):
    """Regular verse: every line five or seven characters, all alike, an even number of lines, no `<unk>`."""

    name = "poem"
    description = "Checks Chinese poems: lines of one length, five or seven characters, an even number of lines, no <unk>."
    extensions = (".txt",)

    def check(self, text: str) -> Verdict:
        """Find the lines that break the form; title and author lines before the verse are not counted."""
        # A `<unk>` stands for one character of verse.
        lines = verse_lines(text.replace(UNK, "〇"), skip_headings=True)
        problems = [
            Problem(number, line.index(UNK) + 1, f"{UNK} stands for a character outside the vocabulary")
            for number, line in enumerate(text.split("\n"), start=1) if UNK in line
        ]
        poem_shape = shape(lines)
        if not lines:
            problems.append(Problem(1, 1, "no line of verse"))
        else:
            lengths = Counter(line.length for line in lines if line.length in (5, 7))
            if not lengths:
                problems.append(Problem(lines[0].line, lines[0].column, "no line has 5 or 7 characters, as regular verse has"))
            else:
                usual = lengths.most_common(1)[0][0]
                problems += [
                    Problem(line.line, line.column, f"a line of {line.length} characters among lines of {usual}")
                    for line in lines if line.length != usual
                ]
            if len(lines) % 2:
                problems.append(Problem(lines[-1].line, lines[-1].column, f"{len(lines)} lines; regular verse has an even number"))
        details = {"lines": poem_shape.lines, "line_length": poem_shape.line_length, "form": poem_shape.form}
        return Verdict(valid=not problems, problems=sorted(problems, key=lambda p: (p.line, p.column)), details=details)

    def card(self, sample: CardSample) -> list[CardPart]:
        """The poem set in a CJK font, and its form: regular verse of which kind, or what breaks it."""
        verdict = sample.verdict
        parts = [CardPart(sample.text_html(css_class="poem"), "text")]
        if verdict is not None:
            form = verdict.details.get("form") or "no form"
            line = f"regular verse: {form}" if verdict.valid else f"not regular verse ({form}; {len(verdict.problems)} problems)"
            parts.append(CardPart(html.escape(line), "notes"))
        return parts

    def accepts(self, path: Path) -> bool:
        """Text files holding Chinese characters: regular verse is a form of Chinese poetry."""
        try:
            return path.suffix in self.extensions and bool(HAN.search(path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            return False

    def summarise(self, verdicts: list[Verdict]) -> str:
        """How many poems are regular, and of which forms, e.g. `3/10 regular (2 five-character quatrain, 1 other)`."""
        forms = Counter(v.details.get("form") for v in verdicts if v.valid)
        named = [f"{count} {form}" for form, count in forms.most_common() if form in FORM_NAMES.values()]
        others = sum(count for form, count in forms.items() if form not in FORM_NAMES.values())
        named += [f"{others} other"] * bool(others)
        return f"{sum(v.valid for v in verdicts)}/{len(verdicts)} regular" + (f" ({', '.join(named)})" if named else "")


@hookimpl
def register_outputs(register):
    """Register the `poem` checker."""
    register(PoemChecker())
