"""What the render time limits cost: charmony's renderers (a worker process, a time limit per tune) against rendering
in-process with music21, as charmony did before, on a folder of sample-sized tunes; and a 100,000-note tune.

The tunes are Bach chorales from music21's corpus written as ABC by charmony's writer, one tune per file as
`charmony sample` writes them. Run: .venv/bin/python benchmarks/bench_render.py [--tunes 20] [--notes 100000]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from music21 import converter

from charmony.corpora.chorales import ORIGINAL, chorale_paths, write_variant
from charmony.pipeline.abc import render
from charmony.pipeline.abc.check import check_tunes
from charmony.pipeline.abc.score import tune_to_score
from charmony.pipeline.abc.worker import worker
from charmony.pipeline.plugin.manager import get_outputs


def sample_folder(folder: Path, count: int) -> list[Path]:
    """`count` chorales written as ABC, one file each."""
    paths = []
    for number, source in enumerate(chorale_paths()[:count], start=1):
        path = folder / f"sample_{number:03d}.abc"
        path.write_text(write_variant(converter.parse(source, forceSource=True), ORIGINAL, source.stem), encoding="utf-8")
        paths.append(path)
    return paths


def in_process(path: Path, out: Path, kind: str) -> None:
    """The baseline: what charmony did before, music21 in this process and no time limit (verovio in its child)."""
    tune = check_tunes(path.read_text(encoding="utf-8"))[0].tune
    if kind == "midi":
        tune_to_score(tune, expand_repeats=True).write("midi", fp=out / f"{path.stem}.mid")
    else:
        target = out / f"{path.stem}.musicxml"
        tune_to_score(tune).write("musicxml", fp=target)
        render.write_svg(target, out / f"{path.stem}.svg")


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tunes", type=int, default=20, help="sample-sized tunes in the folder (default 20)")
    parser.add_argument("--notes", type=int, default=100_000, help="notes of the long tune (default 100,000)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-render-"))
    paths = sample_folder(folder, args.tunes)
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}; "
          f"{len(paths)} chorales of {sum(len(p.read_text()) for p in paths) // len(paths):,} characters on average")

    startup = timed(lambda: worker().load(render.MUSIC21))
    print(f"worker start, importing music21: {startup:.2f} s, once per charmony process")
    (folder / "ours").mkdir()
    (folder / "bare").mkdir()
    for kind in ("midi", "score"):
        plugin = get_outputs([kind])[0]
        ours = timed(lambda plugin=plugin: [plugin.render(path, folder / "ours") for path in paths])
        bare = timed(lambda kind=kind: [in_process(path, folder / "bare", kind) for path in paths])
        print(f"{kind}: charmony {ours / len(paths) * 1000:.0f} ms a tune, in-process music21 {bare / len(paths) * 1000:.0f} ms "
              f"a tune: {ours / bare:.2f}x")

    long = folder / "long.abc"
    long.write_text("X:1\nT:Long\nM:4/4\nL:1/8\nK:C\n" + "\n".join("CDEF GABc|" * 4 for _ in range(args.notes // 32)) + "\n")
    print(f"a tune of {args.notes:,} notes ({long.stat().st_size:,} bytes):")
    print(f"  check: {timed(lambda: check_tunes(long.read_text())):.2f} s")
    for kind in ("midi", "score"):
        result = None

        def go(kind=kind):
            nonlocal result
            result = get_outputs([kind])[0].render(long, folder / "ours")

        seconds = timed(go)
        outcome = f"wrote {', '.join(p.name for p in result.files)}" if result.files else result.skipped[0]
        print(f"  {kind}: {seconds:.1f} s: {outcome}")


if __name__ == "__main__":
    main()
