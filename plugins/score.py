"""The `score` output plugin: each tune of an ABC file that passes the check, as MusicXML and an SVG score."""

from __future__ import annotations

from pathlib import Path

from charmony.pipeline.abc.render import MUSIC21, TuneRenderer, TuneToRender, render_musicxml, seconds_left, write_svg
from charmony.pipeline.hookspecs import hookimpl


class ScoreRenderer(TuneRenderer):
    """ABC to MusicXML with music21, and to SVG with verovio (from the MusicXML, in a child process)."""

    name = "score"
    description = "ABC to MusicXML and an SVG score (verovio); only tunes that pass the abc check."
    modules = MUSIC21

    def render_tune(self, item: TuneToRender, out_dir: Path, deadline: float) -> list[Path]:
        """NAME.musicxml and NAME.svg (further pages NAME-2.svg...)."""
        musicxml = render_musicxml(item, out_dir / f"{item.stem}.musicxml", deadline)
        return [musicxml, *write_svg(musicxml, out_dir / f"{item.stem}.svg", seconds_left(deadline))]


@hookimpl
def register_outputs(register) -> None:
    """Register the score renderer."""
    register(ScoreRenderer())
