"""Drawing a MusicXML file as SVG with verovio; run as a child process: `python -m charmony.pipeline.abc.svg IN OUT.svg`.

verovio can crash the whole process on input it does not expect, so charmony never loads it in its own.
Prints the path of each page written: OUT.svg, then OUT-2.svg... for further pages.
"""

from __future__ import annotations

import sys
from pathlib import Path

OPTIONS = {"pageWidth": 2100, "pageHeight": 2970, "scale": 40, "adjustPageHeight": True, "breaks": "auto"}


def main(source: Path, target: Path) -> None:
    """Write every page of `source` as SVG, the first to `target`."""
    import verovio

    verovio.enableLog(verovio.LOG_OFF)
    toolkit = verovio.toolkit()
    toolkit.setOptions(OPTIONS)
    if not toolkit.loadFile(str(source)):
        sys.exit(f"verovio could not load {source.name}")
    encoded = toolkit.getMEI()
    if not any(element in encoded for element in ("<note", "<rest", "<mRest")):
        sys.exit(f"verovio found no music in {source.name}")
    for page in range(1, toolkit.getPageCount() + 1):
        path = target if page == 1 else target.with_name(f"{target.stem}-{page}{target.suffix}")
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(toolkit.renderToSVG(page), encoding="utf-8")
        temporary.replace(path)
        print(path)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
