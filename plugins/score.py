"""The `score` output plugin: each tune of an ABC file that passes the check, as MusicXML and an SVG score."""

from __future__ import annotations

import html
import re
from pathlib import Path

from charmony.pipeline.abc.render import MUSIC21, TuneRenderer, TuneToRender, render_musicxml, seconds_left, write_svg
from charmony.pipeline.plugin.cards import CardPart, CardSample
from charmony.pipeline.plugin.hookspecs import hookimpl

# The size verovio gives a page, on its root element: <svg width="840px" height="144px" ...>.
SVG_SIZE = re.compile(rb'<svg\b[^>]*?\bwidth="(\d+(?:\.\d+)?)(?:px)?"[^>]*?\bheight="(\d+(?:\.\d+)?)(?:px)?"')


def svg_size(path: Path) -> tuple[int, int] | None:
    """The width and height in pixels an SVG file declares on its root element, if it does."""
    try:
        with path.open("rb") as file:
            found = SVG_SIZE.search(file.read(4096))
    except OSError:
        return None
    return (round(float(found[1])), round(float(found[2]))) if found else None


class ScoreRenderer(TuneRenderer):
    """ABC to MusicXML with music21, and to SVG with verovio (from the MusicXML, in a child process)."""

    name = "score"
    description = "ABC to MusicXML and an SVG score (verovio); only tunes that pass the abc check."
    modules = MUSIC21

    def render_tune(self, item: TuneToRender, out_dir: Path, deadline: float) -> list[Path]:
        """NAME.musicxml and NAME.svg (further pages NAME-2.svg...)."""
        musicxml = render_musicxml(item, out_dir / f"{item.stem}.musicxml", deadline)
        return [musicxml, *write_svg(musicxml, out_dir / f"{item.stem}.svg", seconds_left(deadline))]

    def card(self, sample: CardSample) -> list[CardPart]:
        """Every page of every score, each a separate SVG file loaded as it scrolls into view, and links to the MusicXML."""
        parts = []
        pages = [name for name in sample.files if name.endswith(".svg")]
        images = []
        for page, name in enumerate(pages, start=1):
            url = sample.link(name)
            if url is None:
                images.append(sample.file_link(name))
                continue
            size = svg_size(sample.folder / name)
            dimensions = f' width="{size[0]}" height="{size[1]}"' if size else ""
            images.append(f'<img class="score" loading="lazy" src="{html.escape(url)}"{dimensions} '
                          f'alt="score of {html.escape(sample.file)}, page {page}">')
        if images:
            parts.append(CardPart("".join(images), "view"))
        scores = [name for name in sample.files if name.endswith(".musicxml")]
        if scores:
            parts.append(CardPart(" ".join(sample.file_link(name) for name in scores), "links"))
        return parts


@hookimpl
def register_outputs(register) -> None:
    """Register the score renderer."""
    register(ScoreRenderer())
