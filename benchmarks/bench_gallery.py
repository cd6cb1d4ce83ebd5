"""`charmony gallery` on 1,000 samples: build time against a bare baseline, page size, and what a browser loads at first.

    python benchmarks/bench_gallery.py [--samples 1000] [--folder /tmp]

Ten ABC tunes (eight valid, two with a bar too long) are checked and rendered for real (abc, midi,
score, audio) and their files linked 100 times over into one sample folder of 1,000 samples, as a
big `charmony sample --render midi,score,audio` would leave it; 1,000 Python samples (pieces of the
standard library's json package, most of them cut mid-statement) are checked by `python`. Each
folder's gallery is timed against a bare baseline that copies the same files (as the gallery does) and writes the texts,
escaped, into one page. With Chromium installed, the ABC gallery is opened headless from file:// to
count the score files requested before any scrolling (they are lazy-loaded) and time the load.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the small DevTools client the browser tests use

DISTINCT_TUNES = 10


def tune(number: int, valid: bool) -> str:
    """A single-voice tune of eight 4/4 bars in quarter and half notes; an invalid one has a bar one quarter too long."""
    draw = random.Random(number)
    bars = []
    for bar in range(8):
        lengths = draw.choice([[1, 1, 1, 1], [2, 1, 1], [1, 1, 2], [2, 2]]) + ([1] if not valid and bar == 3 else [])
        bars.append(" ".join(draw.choice("CDEFGABcde") + ("2" if length == 2 else "") for length in lengths))
    return f"X:{number}\nT:Tune {number}\nM:4/4\nL:1/4\nK:{draw.choice('CGDF')}\n" + "|".join(bars) + "|]\n"


def code_sample(number: int) -> str:
    """About 1,500 characters of the json package's source, starting at a line and cut anywhere."""
    import json as package

    sources = sorted(Path(package.__file__).parent.glob("*.py"))
    text = sources[number % len(sources)].read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: random.Random(number).randrange(len(lines))])
    return text[start:start + 1500] or text[:1500]


def tiny_run(folder: Path):
    """A bach run prepared from the ten tunes and trained for 50 steps, for the gallery's header and curve."""
    from charmony.pipeline.run.config import PrepareConfig
    from charmony.pipeline.data.prepare import prepare
    from charmony.pipeline.run.folder import Run
    from charmony.pipeline.run.config import ModelConfig, TrainConfig
    from charmony.pipeline.training.train import train

    source = folder / "tunes.abc"
    source.write_text("\n".join(tune(n, True) for n in range(1, DISTINCT_TUNES + 1)))
    run = Run(folder / "runs" / "bench")
    prepare(run, PrepareConfig("bach", [source], options={"instances": "40"}, val_fraction=0.2))
    train(run, TrainConfig(model=ModelConfig(layers=1, hidden=32, embedding=16), seq_len=16, batch_size=8, max_steps=50,
                           eval_every=25, save_every=50, log_every=5, warmup_steps=5, device="cpu"))
    return run


def abc_folder(run, count: int) -> Path:
    """`count` ABC samples: ten rendered for real, their files linked over and over under new numbers."""
    from charmony.pipeline.sampling.sample import Sample
    from charmony.pipeline.sampling.folder import write_samples

    seed = run.samples_dir / "rendered"
    texts = [tune(n, valid=n % 5 != 0) for n in range(1, DISTINCT_TUNES + 1)]
    started = time.perf_counter()
    report = write_samples([Sample(t, True) for t in texts], {"run": run.name, "corpus": "bach", "seed": 1}, seed, ".abc",
                           ["abc", "midi", "score", "audio"])
    print(f"rendered {DISTINCT_TUNES} tunes (abc, midi, score, audio) in {time.perf_counter() - started:.1f} s")
    target = run.samples_dir / "thousand"
    target.mkdir()
    entries = []
    for number in range(count):
        original = report["samples"][number % DISTINCT_TUNES]
        old_stem, new_stem = Path(original["file"]).stem, f"sample_{number + 1:04d}"
        names = [original["file"]] + [f for result in original["outputs"].values() for f in result.get("files", [])]
        for name in names:
            os.link(seed / name, target / name.replace(old_stem, new_stem))
        entries.append(json.loads(json.dumps(original).replace(old_stem, new_stem)))
    (target / "samples.json").write_text(json.dumps(dict(report, samples=entries)))
    shutil.rmtree(seed)
    return target


def code_folder(run, count: int) -> Path:
    """`count` Python samples checked by `python`."""
    from charmony.pipeline.sampling.sample import Sample
    from charmony.pipeline.sampling.folder import write_samples

    target = run.samples_dir / "code"
    write_samples([Sample(code_sample(n), False) for n in range(count)], {"run": run.name, "corpus": "code", "seed": 1},
                  target, ".py", ["python"])
    return target


def bare_gallery(folder: Path, out: Path) -> None:
    """The baseline: copy every file the samples list into the folder and write their texts, escaped, into one page."""
    report = json.loads((folder / "samples.json").read_text())
    (out / "files").mkdir(parents=True)
    page = []
    for entry in report["samples"]:
        names = [entry["file"]] + [f for result in entry["outputs"].values() for f in result.get("files", [])]
        for name in names:
            shutil.copyfile(folder / name, out / "files" / name)
        page.append(f"<pre>{html.escape((folder / entry['file']).read_text())}</pre>")
    (out / "index.html").write_text("<!DOCTYPE html><html><body>" + "".join(page) + "</body></html>")


def timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def browser_figures(index: Path, profile: Path) -> tuple[float, int, int] | None:
    """Seconds to the load event, and the score files requested by then, of all there are; None without Chromium."""
    from browser import Browser, find_chromium

    if find_chromium() is None:
        return None
    chromium = Browser(profile)
    try:
        started = time.perf_counter()
        page = chromium.open(index.resolve().as_uri())
        seconds = time.perf_counter() - started
        requested = sum(url.endswith(".svg") for url in page.requested_urls())
        scores = page.evaluate('document.querySelectorAll("img.score").length')
    finally:
        chromium.close()
    return seconds, requested, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from charmony.pipeline.run.config import GalleryConfig
    from charmony.pipeline.gallery.build import build_gallery

    work = Path(tempfile.mkdtemp(prefix="charmony-bench-gallery-", dir=args.folder))
    try:
        run = tiny_run(work)
        folders = {"ABC (abc, midi, score, audio)": abc_folder(run, args.samples), "Python (python)": code_folder(run, args.samples)}
        rows = []
        for label, folder in folders.items():
            out = work / f"gallery-{folder.name}"
            ours = timed(build_gallery, run, GalleryConfig(samples=[folder], out=out))
            bare = timed(bare_gallery, folder, work / f"bare-{folder.name}")
            size = (out / "index.html").stat().st_size
            rows.append((label, ours, bare, size, out))
        print(f"\n{args.samples:,} samples per gallery; {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
        print(f"{'samples':32} {'charmony gallery':>17} {'bare copies + page':>18} {'ratio':>7} {'index.html':>11}")
        for label, ours, bare, size, _ in rows:
            print(f"{label:32} {ours:15.2f} s {bare:16.2f} s {ours / bare:6.1f}x {size / 1e6:8.2f} MB")
        figures = browser_figures(rows[0][4] / "index.html", work / "chromium")
        if figures is None:
            print("Chromium is not installed: no browser figures")
        else:
            seconds, requested, scores = figures
            print(f"Chromium, ABC gallery: load event after {seconds:.2f} s; {requested} of {scores} score files requested before scrolling")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
