"""`--option harmony=`: four-voice tunes and harmonisations with and without it, from one trained four-voice run.

Samples --samples constrained four-voice tunes at T --temperature for each seed, under each set of options (none,
crossing=no, harmony=chords, harmony=strict, harmony=strict with crossing=no; free sampling at the first seed, for
comparison),
and prints for each: strictly valid, abc2midi clean, tunes per second, and the musical figures (melody and harmony)
beside the held-out chorales'. Then it harmonises the soprano lines of --melodies held-out chorales under each set
(bench_bach.py's table of issue 17's goals).

Run: .venv/bin/python benchmarks/bench_voicing.py --run runs/chorales [--samples 50] [--seeds 1,2] [--melodies 20]
     [--temperature 0.8] [--threads 1] [--out DIR]   (a run of the bach corpus with voices=all, as bench_bach.py trains)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bach import abc2midi_clean, harmonize_held_out, musical_table  # noqa: E402

from charmony.pipeline.abc.check import check_abc  # noqa: E402
from charmony.pipeline.abc.profile import required_fields  # noqa: E402
from charmony.pipeline.evaluation.evaluate import Evaluation, evaluate_texts  # noqa: E402
from charmony.pipeline.run.config import SampleConfig  # noqa: E402
from charmony.pipeline.run.folder import Run  # noqa: E402
from charmony.pipeline.sampling.sample import sample  # noqa: E402

OPTION_SETS = {
    "none": {},
    "crossing=no": {"crossing": "no"},
    "harmony=chords": {"harmony": "chords"},
    "harmony=strict": {"harmony": "strict"},
    "strict+crossing": {"harmony": "strict", "crossing": "no"},
}


def sampled(run: Run, options: dict[str, str], free: bool, count: int, temperature: float, seed: int,
            threads: int) -> tuple[Evaluation, str]:
    """`count` four-voice tunes under `options`: their evaluation and a line of validity and speed."""
    config = SampleConfig(num_samples=count, max_length=4000, temperature=temperature, seed=seed, device="cpu",
                          threads=threads, free=free, evaluate=False, options=dict(options))
    started = time.perf_counter()
    samples, metadata = sample(run, config)
    seconds = time.perf_counter() - started
    texts = [s.text for s in samples]
    required = required_fields(run.profile())
    valid = sum(check_abc(text, required).valid for text in texts)
    line = (f"{valid}/{len(texts)} strictly valid, abc2midi clean {abc2midi_clean(texts)}, "
            f"{sum(s.finished for s in samples)} ended by themselves, {metadata.get('constraint_dead_ends', 0)} dead ends, "
            f"{len(texts) / seconds:.3f} tunes/s ({seconds:.0f} s)")
    return evaluate_texts(run, texts, copying=False), line


def main() -> None:
    """Sample and harmonise under each set of options, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a four-voice run folder (bach, voices=all)")
    parser.add_argument("--samples", type=int, default=50, help="tunes per seed and set of options (default 50)")
    parser.add_argument("--seeds", default="1,2", help="seeds, separated by commas (default 1,2)")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--melodies", type=int, default=20, help="held-out soprano lines to harmonise (default 20; 0 skips)")
    parser.add_argument("--sets", default=",".join(OPTION_SETS), help=f"which sets of options (default all: {', '.join(OPTION_SETS)})")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="where the melodies are written (default: a temporary folder)")
    args = parser.parse_args()
    run = Run(args.run)
    sets = {name: OPTION_SETS[name] for name in args.sets.split(",")}
    for number, seed in enumerate(int(text) for text in args.seeds.split(",")):
        columns: dict[str, Evaluation] = {}
        for name, options in (({"free": {}} if number == 0 else {}) | sets).items():
            columns[name], line = sampled(run, options, name == "free", args.samples, args.temperature, seed, args.threads)
            print(f"seed {seed}, T {args.temperature}, {name}: {line}", flush=True)
        print(f"musical figures, seed {seed}, beside the held-out chorales':")
        print("\n".join(musical_table(columns)), flush=True)
    if args.melodies > 0:
        folder = args.out or Path(tempfile.mkdtemp(prefix="bench-voicing-"))
        for options in sets.values():
            print("\n".join(harmonize_held_out(run, args.melodies, args.temperature, args.threads, "cpu",
                                               folder / "melodies", options)), flush=True)


if __name__ == "__main__":
    main()
