"""Training and sampling speed of charmony against bare PyTorch baselines, measured in one run.

    python benchmarks/bench_train.py [--device cpu|cuda] [--layers 2 --hidden 256 ...]

Prints tokens/s of:
- charmony's full training step (batches cut from a memmap, AdamW, clipping, schedule),
- a bare nn.LSTM forward/backward/step loop of the same shape on data already in memory,
- a per-time-step nn.LSTMCell Python loop (the classic static unrolling),
and characters/s of 64 samples drawn in one batch against 64 drawn one after another.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from charmony.pipeline.batching import StreamBatches
from charmony.pipeline.device import autocast, resolve_device
from charmony.pipeline.model import CharModel, ModelConfig
from charmony.pipeline.sample import SampleConfig, generate
from charmony.pipeline.train import TrainConfig, make_optimizer, make_scheduler, train_step


def interleaved(fns: dict, steps: int, rounds: int, device) -> dict[str, list[float]]:
    """Seconds per call of each function in each round; rounds alternate so drift hits all alike."""
    for fn in fns.values():
        timed(fn, 1, 3, device)
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(timed(fn, steps, 0, device))
    return times


def timed(fn, steps: int, warmup: int, device) -> float:
    """Seconds per call of `fn`, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def charmony_step(args, device, vocab_size: int, memmap: np.ndarray):
    config = TrainConfig(layers=args.layers, hidden=args.hidden, embedding=args.embedding,
                         seq_len=args.seq_len, batch_size=args.batch_size, max_steps=10**6)
    torch.manual_seed(0)
    model = CharModel(ModelConfig(vocab_size, layers=args.layers, hidden=args.hidden, embedding=args.embedding)).to(device)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config)
    batches = StreamBatches(memmap, args.batch_size, args.seq_len)
    state = [model.initial_state(args.batch_size, device)]
    step = [0]

    def run():
        _, index = batches.position(step[0])
        x, y = (t.to(device, non_blocking=True) for t in batches.get(index))
        _, state[0] = train_step(model, optimizer, scheduler, x, y, state[0], config.grad_clip, device)
        step[0] += 1

    return run


def bare_lstm_step(args, device, vocab_size: int):
    torch.manual_seed(0)
    embed = nn.Embedding(vocab_size, args.embedding).to(device)
    lstm = nn.LSTM(args.embedding, args.hidden, args.layers, batch_first=True).to(device)
    head = nn.Linear(args.hidden, vocab_size).to(device)
    params = [*embed.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=2e-3)
    x = torch.randint(0, vocab_size, (args.batch_size, args.seq_len), device=device)
    y = torch.randint(0, vocab_size, (args.batch_size, args.seq_len), device=device)

    def run():
        with autocast(device):
            out, _ = lstm(embed(x))
            loss = F.cross_entropy(head(out).float().reshape(-1, vocab_size), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return run


def lstm_cell_step(args, device, vocab_size: int):
    torch.manual_seed(0)
    embed = nn.Embedding(vocab_size, args.embedding).to(device)
    cells = nn.ModuleList(
        nn.LSTMCell(args.embedding if i == 0 else args.hidden, args.hidden) for i in range(args.layers)
    ).to(device)
    head = nn.Linear(args.hidden, vocab_size).to(device)
    optimizer = torch.optim.AdamW([*embed.parameters(), *cells.parameters(), *head.parameters()], lr=2e-3)
    x = torch.randint(0, vocab_size, (args.batch_size, args.seq_len), device=device)
    y = torch.randint(0, vocab_size, (args.batch_size, args.seq_len), device=device)

    def run():
        with autocast(device):
            states = [(torch.zeros(args.batch_size, args.hidden, device=device),) * 2 for _ in cells]
            outputs = []
            for t in range(args.seq_len):
                h = embed(x[:, t])
                for i, cell in enumerate(cells):
                    states[i] = cell(h, states[i])
                    h = states[i][0]
                outputs.append(h)
            logits = head(torch.stack(outputs, dim=1)).float()
            loss = F.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return run


def sampling_rates(args, device, vocab_size: int) -> tuple[float, float]:
    """Characters/s for 64 samples in one batch, and for 64 samples one after another."""
    torch.manual_seed(0)
    model = CharModel(ModelConfig(vocab_size, layers=args.layers, hidden=args.hidden, embedding=args.embedding)).to(device)
    config = SampleConfig(temperature=1.0, top_k=20)
    eod = vocab_size  # an id the model never produces, so every sample runs to max_length
    length = args.sample_length

    def batched():
        generate(model, [0], 64, length, eod, config, torch.Generator(device=device).manual_seed(0), device)

    def one_by_one():
        generator = torch.Generator(device=device).manual_seed(0)
        for _ in range(64):
            generate(model, [0], 1, length, eod, config, generator, device)

    def one_sample():
        generate(model, [0], 1, length, eod, config, torch.Generator(device=device).manual_seed(0), device)

    one_sample()  # warm-up, so the one-after-another figure does not pay for first-call costs
    return 64 * length / timed(batched, 3, 1, device), 64 * length / timed(one_by_one, 1, 0, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--embedding", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--vocab", type=int, default=100)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds of charmony and the bare loop")
    parser.add_argument("--sample-length", type=int, default=200)
    args = parser.parse_args()
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    print(f"device: {device.type} ({name}); torch {torch.__version__}")
    print(f"shape: {args.layers} x {args.hidden} LSTM, embedding {args.embedding}, vocab {args.vocab}, "
          f"batch {args.batch_size} x seq {args.seq_len}")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.bin"
        tokens = np.random.default_rng(0).integers(0, args.vocab, 2_000_000, dtype=np.uint8)
        tokens.tofile(path)
        memmap = np.memmap(path, dtype=np.uint8, mode="r")
        tokens_per_step = args.batch_size * args.seq_len
        seconds = interleaved(
            {"ours": charmony_step(args, device, args.vocab, memmap), "bare": bare_lstm_step(args, device, args.vocab)},
            args.steps, args.rounds, device,
        )
        ours = tokens_per_step / statistics.median(seconds["ours"])
        bare = tokens_per_step / statistics.median(seconds["bare"])
        round_ratios = [b / o for o, b in zip(seconds["ours"], seconds["bare"])]
        cell = tokens_per_step / timed(lstm_cell_step(args, device, args.vocab), max(2, args.steps // 2), 1, device)

    print(f"train  charmony full step   {ours:12,.0f} tokens/s")
    print(f"train  bare nn.LSTM loop    {bare:12,.0f} tokens/s   charmony / bare     = {ours / bare:.2f}x  (goal >= 0.9x; "
          f"rounds {min(round_ratios):.2f}-{max(round_ratios):.2f}x)")
    print(f"train  nn.LSTMCell loop     {cell:12,.0f} tokens/s   charmony / LSTMCell = {ours / cell:.2f}x")
    batched, sequential = sampling_rates(args, device, args.vocab)
    print(f"sample 64 in one batch      {batched:12,.0f} chars/s")
    print(f"sample 64 one after another {sequential:12,.0f} chars/s    batched / sequential = {batched / sequential:.1f}x  (goal >= 20x)")


if __name__ == "__main__":
    main()
