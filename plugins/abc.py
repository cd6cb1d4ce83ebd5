"""The `abc` output plugin: charmony's ABC checker."""

from __future__ import annotations

from charmony.pipeline.abc.check import check_abc
from charmony.pipeline.gallery.cards import CardPart, CardSample
from charmony.pipeline.hookspecs import hookimpl
from charmony.pipeline.output import OutputPlugin, Verdict


class AbcChecker(OutputPlugin):
    """Checks every tune of an ABC file: header, syntax, balance, bar durations and bar counts."""

    name = "abc"
    description = "Checks ABC tunes: header fields, syntax, balanced chords, slurs and repeats, bar durations, voices."
    extensions = (".abc",)
    unit = "tunes"

    def check(self, text: str) -> Verdict:
        """The verdict on every tune of the file, with tunes, valid_tunes, bars and bars_ok in its details."""
        return check_abc(text)

    def card(self, sample: CardSample) -> list[CardPart]:
        """The ABC text with each problem's spot marked, and a link to the .abc file."""
        return [CardPart(sample.text_html(css_class="abc"), "text"), CardPart(sample.file_link(sample.file), "links")]


@hookimpl
def register_outputs(register) -> None:
    """Register the ABC checker."""
    register(AbcChecker())
