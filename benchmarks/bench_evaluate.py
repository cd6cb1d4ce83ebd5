"""How long `evaluate` takes on the Bach soprano run in twelve keys, and its copy search against a plain one.

    python benchmarks/bench_evaluate.py [--samples 100] [--folder /tmp]

Prepares the `bach` corpus with voices=soprano and transpose=all (about 4,300 training tunes, 1.1 M
characters), takes `--samples` held-out tunes as the samples (as long as sampled tunes are), and times:
- the whole evaluation without the run's cache (parsing every training tune), and with it;
- the copy search alone, charmony's suffix array against the plain way: for each sample, grow the
  longest run found so far while it still occurs in the training data, tested with Python's own
  substring search (`in`, in C) on the data written as one string, once on the melodies' event codes
  and once on the samples' characters.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from charmony.pipeline.abc.features import tune_features
from charmony.pipeline.evaluation.copying import longest_copies
from charmony.pipeline.evaluation.evaluate import evaluate_texts
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.evaluation.references import CACHE_NAME, documents, music_reference, parsed_tunes
from charmony.pipeline.run.folder import Run

OFFSET = 0x100  # event codes written as characters from here on, clear of the separator


def plain_longest(training: str, query: str) -> int:
    """The longest run of `query` in `training`, found by growing it with Python's substring search."""
    best = 0
    for start in range(len(query)):
        while start + best < len(query) and query[start:start + best + 1] in training:
            best += 1
    return best


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def main() -> None:
    """Prepare the run, time the evaluation and the two copy searches, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100, help="held-out tunes used as samples (default 100)")
    parser.add_argument("--folder", type=Path, help="where the run goes (default: a temporary folder, deleted)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-evaluate-", dir=args.folder))
    try:
        run = Run(folder / "bach")
        manifest = prepare(run, PrepareConfig("bach", options={"voices": "soprano", "transpose": "all"}))
        vocab = run.vocabulary()
        texts = list(documents(run.tokens("val"), vocab))[: args.samples]
        cold, cold_s = timed(lambda: evaluate_texts(run, texts))
        assert (run.dir / CACHE_NAME).is_file()
        warm, warm_s = timed(lambda: evaluate_texts(run, texts))
        assert warm == cold

        reference = music_reference(run)
        melodies = [reference.codes.codes(m) for text in texts for tune in parsed_tunes(text) for m in tune_features(tune).melodies]
        ours, ours_s = timed(lambda: longest_copies(reference.training, melodies))
        training_string = "".join(chr(OFFSET + code) if code >= 0 else "\n" for code in reference.training.tolist())
        plain, plain_s = timed(lambda: [plain_longest(training_string, "".join(chr(OFFSET + c) for c in m.tolist())) for m in melodies])
        assert ours == plain

        train_ids = run.tokens("train")
        characters = [np.array(vocab.encode(text), dtype=np.int64) for text in texts]
        ours_text, ours_text_s = timed(lambda: longest_copies(train_ids, characters, vocab.eod_id))
        training_text = vocab.decode(np.asarray(train_ids).tolist()).replace("<eod>", "\0")
        plain_text, plain_text_s = timed(lambda: [plain_longest(training_text, text) for text in texts])
        assert ours_text == plain_text
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}")
    print(f"run: bach soprano in twelve keys, {manifest.documents['train']:,} training tunes, "
          f"{manifest.tokens['train']:,} characters, {len(reference.training):,} training events")
    print(f"samples: {len(texts)} held-out tunes, {sum(map(len, melodies)):,} events, {sum(map(len, texts)):,} characters")
    print(cold.line())
    print(f"evaluate, no cache (parses every training tune): {cold_s:.2f} s; with the cache: {warm_s:.2f} s")
    print(f"copy search on events: suffix array {ours_s:.2f} s, plain substring search {plain_s:.2f} s, "
          f"{plain_s / ours_s:.1f}x")
    print(f"copy search on characters: suffix array {ours_text_s:.2f} s, plain substring search {plain_text_s:.2f} s, "
          f"{plain_text_s / ours_text_s:.1f}x")


if __name__ == "__main__":
    main()
