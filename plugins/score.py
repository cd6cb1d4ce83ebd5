"""The `score` output plugin: each tune of an ABC file that passes the check, as MusicXML and an SVG score."""

from __future__ import annotations

from pathlib import Path

from charmony.pipeline.abc.render import tunes_to_render, write_musicxml, write_svg
from charmony.pipeline.hookspecs import hookimpl
from charmony.pipeline.output import OutputPlugin, Rendered


class ScoreRenderer(OutputPlugin):
    """ABC to MusicXML with music21, and to SVG with verovio (from the MusicXML, in a child process)."""

    name = "score"
    description = "ABC to MusicXML and an SVG score (verovio); only tunes that pass the abc check."
    extensions = (".abc",)

    def render(self, path: Path, out_dir: Path) -> Rendered:
        """Write NAME.musicxml and NAME.svg (more pages as NAME-2.svg...) for each valid tune."""
        tunes, skipped = tunes_to_render(path)
        written = []
        for item in tunes:
            musicxml = write_musicxml(item.tune, out_dir / f"{item.stem}.musicxml")
            written += [musicxml, *write_svg(musicxml, out_dir / f"{item.stem}.svg")]
        return Rendered(written, skipped)


@hookimpl
def register_outputs(register) -> None:
    """Register the score renderer."""
    register(ScoreRenderer())
