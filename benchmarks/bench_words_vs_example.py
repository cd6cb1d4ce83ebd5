"""charmony's `words` corpus beside PyTorch's word_language_model example: validation perplexity against wall time.

    python benchmarks/bench_words_vs_example.py --example ~/examples/word_language_model [--minutes 10]
        [--train FILE] [--valid FILE] [--share 1] [--hidden 64] [--layers 2] [--recipe quick] [--set KEY=VALUE ...]

`--example` is the user's checkout of pytorch/examples' word_language_model folder; it is run as it
is, nothing of it is copied. Both models train at the same time, each in its own process with one
thread, so that both see the same load on a shared machine: the example's main.py (an LSTM of
`--hidden` units and embedding, `--layers` layers, its own defaults otherwise: SGD at 20, divided by
4 when validation stops improving, dropout 0.2, batches of 20 x 35, untied) with epochs enough to
outlast the budget, and charmony's `prepare` and `train` (a `words` recipe, the same shape, an
evaluation after every epoch, `--max-minutes` the budget). When charmony's training ends the example
is stopped, so both have had the same wall time; each side's validation perplexity is printed at
every evaluation with the minute it was reached, and the ratio of the best ones at the end.

The text is the example's WikiText-2 (`data/wikitext-2/train.txt` and `valid.txt`) unless `--train`
and `--valid` say otherwise. Both sides read the same files from one folder in the layout the
example expects: valid words that the training text lacks become `<unk>`, as WikiText's own
vocabulary was made, and `test.txt` is a copy of `valid.txt` (the example reads a test part; the
time cut stops it before it evaluates one). So the vocabularies are the same: every word of the
files, and a line break (`<eos>` to the example, ` \\n` to charmony); charmony adds its `<eod>`.
Both evaluate every token of valid.txt, in 10 streams (the example) or `batch_size` streams (charmony).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

EXAMPLE_EPOCH = re.compile(r"\| end of epoch\s+(\d+) \|.*\| valid ppl\s+([\d.]+)")
CHARMONY_EVALUATION = re.compile(r"^step (\d+)/\d+: .*val loss [\d.]+ nats/token \(ppl ([\d.]+)\)")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CHARMONY_THREADS": "1"}
# Evaluation batches enough to cover the whole validation text at any batch shape.
EVERY_BATCH = 1_000_000


@dataclass
class Side:
    """One trainer's process and the validation perplexities it printed, each with the seconds since the start."""

    name: str
    process: subprocess.Popen
    points: list[tuple[float, int, float]] = field(default_factory=list)  # (seconds, epoch or step, perplexity)
    log: list[str] = field(default_factory=list)
    cpu_seconds: float | None = None

    def best_by(self, seconds: float) -> float | None:
        """The lowest validation perplexity this side had reached by `seconds`."""
        reached = [ppl for at, _, ppl in self.points if at <= seconds]
        return min(reached) if reached else None


def first_lines(path: Path, share: float) -> str:
    """The first `share` of a text file's lines."""
    lines = path.read_text(encoding="utf8").splitlines(keepends=True)
    return "".join(lines[:round(len(lines) * share)])


def shared_data(train: Path, valid: Path, folder: Path, share: float = 1.0) -> dict[str, int]:
    """train.txt, valid.txt (words unseen in training as <unk>) and test.txt (= valid.txt) in `folder`; their sizes.

    Each is the first `share` of the given file's lines.
    """
    folder.mkdir(parents=True, exist_ok=True)
    train_text = first_lines(train, share)
    (folder / "train.txt").write_text(train_text, encoding="utf8")
    known = set(train_text.split())
    lines, unknown = [], 0
    for line in first_lines(valid, share).splitlines():
        words = line.split()
        unknown += sum(word not in known for word in words)
        lines.append("".join(f" {word if word in known else '<unk>'}" for word in words) + " \n")
    (folder / "valid.txt").write_text("".join(lines), encoding="utf8")
    shutil.copyfile(folder / "valid.txt", folder / "test.txt")
    return {"vocabulary": len(known | ({"<unk>"} if unknown else set())) + 1,
            "train_tokens": len(train_text.split()) + train_text.count("\n"),
            "valid_tokens": sum(len(line.split()) for line in lines) + len(lines), "valid_unknown": unknown}


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds of a running process so far (Linux), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def follow(side: Side, pattern: re.Pattern, started: float) -> None:
    """Read a side's output to its end, stamping each validation perplexity with the seconds since `started`."""
    assert side.process.stdout is not None
    for line in side.process.stdout:
        side.log.append(line.rstrip())
        match = pattern.search(line)
        if match:
            side.points.append((time.monotonic() - started, int(match[1]), float(match[2])))


def charmony_side(work: Path, minutes: float, settings: dict) -> None:
    """Prepare the shared folder and train on it until the budget is spent (the child process' work)."""
    started = time.monotonic()
    from charmony.pipeline.data.prepare import prepare
    from charmony.pipeline.run.config import PrepareConfig, TrainConfig
    from charmony.pipeline.run.folder import Run
    from charmony.pipeline.training.train import train

    run = Run(work / "runs" / "words")
    manifest = prepare(run, PrepareConfig("words", [work / "data"], max_vocab=10_000_000))
    if manifest.split != "corpus":
        raise SystemExit("the shared folder was not read as train.txt / valid.txt: no comparison")
    batch_size, seq_len = settings.get("batch_size", 20), settings.get("seq_len", 35)
    epoch_steps = (manifest.tokens["train"] // batch_size - 1) // seq_len
    left = max(minutes - (time.monotonic() - started) / 60, 0.01)  # at least a few steps, even if preparing took the budget
    config = TrainConfig().with_settings(**{"eval_every": epoch_steps, **settings}).with_settings(
        max_minutes=left, threads=1, device="cpu", eval_batches=EVERY_BATCH, save_every=10**9)
    print(f"charmony: vocabulary {manifest.vocab_size:,}, {manifest.tokens['train']:,} train / "
          f"{manifest.tokens['val']:,} valid tokens, {epoch_steps} steps an epoch, settings {json.dumps(settings)}", flush=True)
    train(run, config, terminal=False)


def example_command(example: Path, data: Path, work: Path, hidden: int, layers: int, extra: list[str]) -> list[str]:
    """The example's main.py on the shared folder, at the given size, with epochs enough to outlast any budget."""
    return [sys.executable, "-u", str(example / "main.py"), "--data", str(data), "--model", "LSTM",
            "--emsize", str(hidden), "--nhid", str(hidden), "--nlayers", str(layers), "--epochs", "100000",
            "--save", str(work / "example-model.pt"), *extra]


def parse_settings(pairs: list[str]) -> dict:
    """KEY=VALUE pairs as train settings (numbers and true/false read as such)."""
    settings = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        settings[key.replace("-", "_")] = json.loads(value) if re.fullmatch(r"-?[\d.e]+|true|false", value) else value
    return settings


def main(argv: list[str] | None = None) -> dict:
    """Train both side by side and print perplexity against time; return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", type=Path, required=True, help="pytorch/examples' word_language_model folder")
    parser.add_argument("--train", type=Path, help="training text (default: the example's data/wikitext-2/train.txt)")
    parser.add_argument("--valid", type=Path, help="validation text (default: the example's data/wikitext-2/valid.txt)")
    parser.add_argument("--share", type=float, default=1.0, help="train and validate on this first share of each file's lines")
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget of each side")
    parser.add_argument("--hidden", type=int, default=64, help="LSTM units and embedding size of both (the example's own default: 200)")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--recipe", default="quick", help="the words recipe charmony starts from")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="charmony train settings over the recipe's")
    parser.add_argument("--example-args", default="", help="more arguments for the example's main.py, as one string")
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side == "charmony":
        charmony_side(args.keep, args.minutes, json.loads(args.settings))
        return {}

    from charmony.pipeline.plugin.manager import get_corpus
    from charmony.pipeline.plugin.recipes import apply_recipe

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-words-example-"))
    data = shared_data(args.train or args.example / "data" / "wikitext-2" / "train.txt",
                       args.valid or args.example / "data" / "wikitext-2" / "valid.txt", work / "data", args.share)
    given = {"hidden": args.hidden, "layers": args.layers, "embedding": args.hidden, **parse_settings(args.set)}
    # An evaluation after every epoch, as the example's, unless asked otherwise; the budget and full evaluations are the bench's.
    settings = {key: value for key, value in apply_recipe(get_corpus("words").recipe(args.recipe), given).items()
                if key not in ("max_minutes", "eval_batches", "save_every") and (key != "eval_every" or key in given)}
    environment = {**os.environ, **ONE_THREAD}
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
          f"at the start; one thread each, both at once, {args.minutes:g} min")
    print(f"text: {data['train_tokens']:,} train / {data['valid_tokens']:,} valid tokens "
          f"({data['valid_unknown']:,} valid words unseen in training, as <unk>), vocabulary {data['vocabulary']:,} with <eos>")
    started = time.monotonic()
    ours = Side("charmony", subprocess.Popen(
        [sys.executable, "-u", __file__, "--side", "charmony", "--keep", str(work), "--minutes", str(args.minutes),
         "--settings", json.dumps(settings), "--example", str(args.example)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment))
    theirs = Side("example", subprocess.Popen(
        example_command(args.example, work / "data", work, args.hidden, args.layers, args.example_args.split()),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment, cwd=args.example))
    readers = [threading.Thread(target=follow, args=(ours, CHARMONY_EVALUATION, started)),
               threading.Thread(target=follow, args=(theirs, EXAMPLE_EPOCH, started))]
    for reader in readers:
        reader.start()
    loads = []
    while ours.process.poll() is None and theirs.process.poll() is None:
        loads.append(os.getloadavg()[0])
        ours.cpu_seconds, theirs.cpu_seconds = cpu_seconds(ours.process.pid) or ours.cpu_seconds, cpu_seconds(theirs.process.pid)
        time.sleep(1)
    ended = time.monotonic() - started
    theirs.cpu_seconds = cpu_seconds(theirs.process.pid) or theirs.cpu_seconds
    for side in (theirs, ours):
        if side.process.poll() is None:
            side.process.send_signal(signal.SIGTERM)
            side.process.wait()
    for reader in readers:
        reader.join()
    for side in (ours, theirs):
        (work / f"{side.name}.log").write_text("\n".join(side.log) + "\n")
    figures = report(ours, theirs, ended, loads, args, settings)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return figures


def report(ours: Side, theirs: Side, ended: float, loads: list[float], args, settings: dict) -> dict:
    """Print each side's perplexities by minute and the ratio of the best at the end; return them."""
    for side in (ours, theirs):
        if not side.points:
            print(f"{side.name} reached no evaluation; its last lines:", *side.log[-15:], sep="\n  ")
    print(f"example: LSTM {args.layers} x {args.hidden}, its defaults otherwise {args.example_args}".rstrip())
    print(f"charmony: {json.dumps(settings)}")
    print(f"{'minute':>7}  {'side':<9} {'epoch/step':>10}  {'valid ppl':>9}")
    for at, name, count, ppl in sorted((at, side.name, count, ppl) for side in (ours, theirs) for at, count, ppl in side.points):
        print(f"{at / 60:7.2f}  {name:<9} {count:>10}  {ppl:9.2f}")
    best = {side.name: side.best_by(ended) for side in (ours, theirs)}
    load = sum(loads) / len(loads) if loads else float("nan")
    print(f"both stopped at {ended / 60:.2f} min; CPU seconds: charmony {ours.cpu_seconds or 0:.0f}, example "
          f"{theirs.cpu_seconds or 0:.0f}; load average {load:.2f} on {os.cpu_count()} CPUs")
    if best["charmony"] and best["example"]:
        print(f"best validation perplexity: charmony {best['charmony']:.2f}, example {best['example']:.2f}, "
              f"ratio {best['charmony'] / best['example']:.3f} (below 1: charmony better)")
    return {"best": best, "minutes": ended / 60, "load": load, "points": {s.name: s.points for s in (ours, theirs)},
            "cpu_seconds": {s.name: s.cpu_seconds for s in (ours, theirs)}}


if __name__ == "__main__":
    main()
