"""The `abc` output plugin: charmony's ABC checker."""

from __future__ import annotations

from charmony.pipeline.abc.check import check_abc
from charmony.pipeline.abc.profile import required_fields
from charmony.pipeline.plugin.cards import CardPart, CardSample
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.output import OutputPlugin
from charmony.pipeline.plugin.verdict import Verdict


class AbcChecker(OutputPlugin):
    """Checks every tune of an ABC file: header, syntax, balance, bar durations and bar counts."""

    name = "abc"
    description = "Checks ABC tunes: header fields, syntax, balanced chords, slurs and repeats, bar durations, voices."
    extensions = (".abc",)
    unit = "tunes"

    def __init__(self, required: tuple[str, ...] = ()) -> None:
        self.required = required  # header fields every training tune of the run has

    def check(self, text: str) -> Verdict:
        """The verdict on every tune of the file, with tunes, valid_tunes, bars and bars_ok in its details."""
        return check_abc(text, self.required)

    def for_run(self, profile: dict | None) -> AbcChecker:
        """A checker that also holds each tune to the header fields every training tune of the run has."""
        required = required_fields(profile)
        return AbcChecker(required) if required else self

    def summarise(self, verdicts: list[Verdict]) -> str:
        """Valid tunes of all, and which required fields the others lack: `6/8 tunes valid (2 lack M:)`."""
        tunes = sum(v.details.get("tunes", 0) for v in verdicts)
        valid = sum(v.details.get("valid_tunes", 0) for v in verdicts)
        lacks: dict[str, int] = {}
        for verdict in verdicts:
            for letter, count in verdict.details.get("lacks", {}).items():
                lacks[letter] = lacks.get(letter, 0) + count
        why = ", ".join(f"{count} lack {letter}:" for letter, count in sorted(lacks.items()))
        return f"{valid}/{tunes} tunes valid" + (f" ({why})" if why else "")

    def card(self, sample: CardSample) -> list[CardPart]:
        """The ABC text with each problem's spot marked, and a link to the .abc file."""
        return [CardPart(sample.text_html(css_class="abc"), "text"), CardPart(sample.file_link(sample.file), "links")]


@hookimpl
def register_outputs(register) -> None:
    """Register the ABC checker."""
    register(AbcChecker())
