"""The `midi` output plugin: each tune of an ABC file that passes the check, as a MIDI file."""

from __future__ import annotations

from pathlib import Path

from charmony.pipeline.abc.render import tunes_to_render, write_midi
from charmony.pipeline.hookspecs import hookimpl
from charmony.pipeline.output import OutputPlugin, Rendered


class MidiRenderer(OutputPlugin):
    """ABC to MIDI: one track per voice, repeats and endings played, tempo from Q: (else 120 quarters a minute)."""

    name = "midi"
    description = "ABC to MIDI, one track per voice, repeats played; only tunes that pass the abc check."
    extensions = (".abc",)

    def render(self, path: Path, out_dir: Path) -> Rendered:
        """Write NAME.mid (NAME-X.mid per tune of a collection) for each valid tune."""
        tunes, skipped = tunes_to_render(path)
        return Rendered([write_midi(item.tune, out_dir / f"{item.stem}.mid") for item in tunes], skipped)


@hookimpl
def register_outputs(register) -> None:
    """Register the MIDI renderer."""
    register(MidiRenderer())
