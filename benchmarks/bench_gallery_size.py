"""How much a gallery of 40 chorale-length tunes weighs on disk, against its 60 MB budget and against WAV.

    python benchmarks/bench_gallery_size.py [--tunes 40] [--folder /tmp]

The tunes are real chorale soprano lines (the bach corpus' own, from its cache or written from music21 on
first use) and one runaway: a chorale played over and over for about six minutes, which the audio
renderer cuts at three. They are written as a sample set checked by abc and rendered to MIDI, as
`charmony sample --render midi` leaves it, and `charmony gallery` renders their scores and audio for real.
The folder's size is set beside what the same tunes would weigh as uncompressed 44.1 kHz stereo 16-bit WAV,
the format the gallery once played (567 MB for 40 tunes when the issue was filed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench_gallery import tiny_run

BUDGET_MB = 60
WAV_BYTES_A_SECOND = 44_100 * 2 * 2  # 44.1 kHz, stereo, 16 bits
WAV_HEADER_BYTES = 44
RUNAWAY_SECONDS = 360


def chorale_tunes(count: int) -> list[str]:
    """`count` soprano lines of different chorales, spread over the corpus, the last of them a runaway."""
    from charmony.corpora.chorales import Variant, chorale_tunes as cached

    tunes = [tune["abc"] for tune in cached((Variant("soprano", 0),))[0][Variant("soprano", 0)]]
    chosen = [tunes[index * len(tunes) // (count - 1)] for index in range(count - 1)]
    return chosen + [next(found for found in map(runaway, chosen) if found is not None)]


def runaway(text: str) -> str | None:
    """The tune's body played again and again until it lasts RUNAWAY_SECONDS or more, as a model that never
    stops might write it; None when the copies do not join into bars that pass the check."""
    from charmony.pipeline.abc.check import check_abc

    header = [line for line in text.splitlines() if not line.startswith("[V:")]
    body = "\n".join(line for line in text.splitlines() if line.startswith("[V:"))
    times = int(RUNAWAY_SECONDS // played_seconds(text)) + 1
    for joint in ("|", ""):  # a barline between copies, or none where the last bar completes the pickup
        played = "\n".join(header + [body.replace("|]", joint)] * (times - 1) + [body]) + "\n"
        if check_abc(played).valid:
            return played
    return None


def played_seconds(text: str) -> float:
    """How long a tune plays, as charmony's MIDI writer (which the audio renderer plays from) times it."""
    from charmony.pipeline.abc.midi import tune_to_midi
    from charmony.pipeline.abc.parser import parse_tune

    return tune_to_midi(parse_tune(text))[1]


def folder_bytes(folder: Path) -> Counter:
    """The bytes of the files under `folder`, by extension."""
    sizes: Counter = Counter()
    for found in folder.rglob("*"):
        if found.is_file():
            sizes[found.suffix or found.name] += found.stat().st_size
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tunes", type=int, default=40)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from charmony.pipeline.audio.mastering import LONGEST_SECONDS
    from charmony.pipeline.gallery.build import build_gallery
    from charmony.pipeline.run.config import GalleryConfig
    from charmony.pipeline.sampling.folder import write_samples
    from charmony.pipeline.sampling.sample import Sample
    from charmony.plugins.audio import synthesizer

    work = Path(tempfile.mkdtemp(prefix="charmony-bench-gallery-size-", dir=args.folder))
    try:
        run = tiny_run(work)
        texts = chorale_tunes(args.tunes)
        seconds = [played_seconds(text) for text in texts]
        folder = run.samples_dir / "chorales"
        write_samples([Sample(text, True) for text in texts], {"run": run.name, "corpus": "bach", "seed": 1}, folder, ".abc",
                      ["abc", "midi"])
        started = time.perf_counter()
        gallery = build_gallery(run, GalleryConfig(samples=[folder], out=work / "gallery"))
        built = time.perf_counter() - started
        sizes = folder_bytes(gallery.index.parent)
        total = sum(sizes.values())
        heard = [min(s, LONGEST_SECONDS) for s in seconds]
        wav = sum(WAV_BYTES_A_SECOND * s + WAV_HEADER_BYTES for s in heard)
        wav_uncut = sum(WAV_BYTES_A_SECOND * s + WAV_HEADER_BYTES for s in seconds)
        print(f"\n{len(texts)} tunes ({len(texts) - 1} chorale soprano lines of {min(seconds[:-1]):.0f}-{max(seconds[:-1]):.0f} s, "
              f"one runaway of {seconds[-1]:.0f} s cut at {LONGEST_SECONDS:.0f} s); {sum(heard) / 60:.1f} minutes of audio")
        print(f"gallery built (scores and audio rendered, played by {synthesizer()}) in {built:.1f} s; "
              f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}")
        print(f"gallery folder: {total / 1e6:.1f} MB of a {BUDGET_MB} MB budget ({'within' if total < BUDGET_MB * 1e6 else 'OVER'})")
        for extension, size in sizes.most_common():
            print(f"  {extension:12} {size / 1e6:8.2f} MB")
        print(f"the same audio as 44.1 kHz stereo WAV: {wav / 1e6:.0f} MB ({wav_uncut / 1e6:.0f} MB with the runaway uncut); "
              f"the gallery is {wav / total:.0f}x smaller")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
