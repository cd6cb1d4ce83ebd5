"""The `midi` output plugin: each tune of an ABC file that passes the check, as a MIDI file."""

from __future__ import annotations

from pathlib import Path

from charmony.pipeline.abc.render import TuneRenderer, TuneToRender, render_midi
from charmony.pipeline.plugin.cards import CardPart, CardSample
from charmony.pipeline.plugin.hookspecs import hookimpl


class MidiRenderer(TuneRenderer):
    """ABC to MIDI: one track per voice, named after it, repeats and endings played, tempo from Q: (else 120 quarters a minute)."""

    name = "midi"
    description = "ABC to MIDI, one track per voice, repeats played; only tunes that pass the abc check."

    def render_tune(self, item: TuneToRender, out_dir: Path, deadline: float) -> list[Path]:
        """NAME.mid (NAME-X.mid for tune X of a collection)."""
        midi, _ = render_midi(item, out_dir / f"{item.stem}.mid", deadline)
        return [midi]

    def card(self, sample: CardSample) -> CardPart | None:
        """Links to the MIDI files."""
        midis = [name for name in sample.files if name.endswith(".mid")]
        return CardPart(" ".join(sample.file_link(name) for name in midis), "links") if midis else None


@hookimpl
def register_outputs(register) -> None:
    """Register the MIDI renderer."""
    register(MidiRenderer())
