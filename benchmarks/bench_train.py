"""Training, sampling and preparing speed of charmony against bare PyTorch baselines, measured in one run.

    python benchmarks/bench_train.py [--device cpu|cuda] [--layers 3 --hidden 512 ...] [--prepare-mb 1024]

Prints, side by side:
- tokens/s of charmony's full training step (batches cut on the device, fused AdamW, clipping,
  schedule) against a bare nn.LSTM forward/backward/step loop of the same shape (cuDNN on CUDA),
  and against a per-time-step nn.LSTMCell Python loop (the classic static unrolling);
- the FLOP/s the charmony step achieves against the matrix-multiply peak measured in this run;
- on CUDA, the bare loop in bf16 autocast against fp32;
- characters/s of 1, 64 and 1,024 samples drawn in one batch, and of 64 drawn one after another;
- prepare's MB/s and peak resident memory on a generated 1 GB corpus, and train's first step on it.
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

from bench_prepare import prepare_figures, print_figures

from charmony.pipeline.data.batching import DeviceBatches, StreamBatches
from charmony.pipeline.system.device import autocast, resolve_device
from charmony.pipeline.model.charmodel import CharModel
from charmony.pipeline.run.config import ModelConfig
from charmony.pipeline.run.config import SampleConfig
from charmony.pipeline.sampling.sample import generate
from charmony.pipeline.training.schedule import Schedule
from charmony.pipeline.run.config import TrainConfig
from charmony.pipeline.training.train import make_optimizer, set_lr, train_step


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
    config = TrainConfig(ModelConfig(layers=args.layers, hidden=args.hidden, embedding=args.embedding),
                         seq_len=args.seq_len, batch_size=args.batch_size, max_steps=10**6)
    schedule = Schedule.initial(config.warmup_steps, config.max_steps)
    torch.manual_seed(0)
    model = CharModel(ModelConfig(vocab_size, layers=args.layers, hidden=args.hidden, embedding=args.embedding)).to(device)
    optimizer = make_optimizer(model, config)
    batches = DeviceBatches(StreamBatches(memmap, args.batch_size, args.seq_len), device)
    state = [model.initial_state(args.batch_size, device)]
    step = [0]

    def run():
        _, index = batches.batches.position(step[0])
        x, y = batches.get(index)
        set_lr(optimizer, config.lr * schedule.factor(step[0]))
        _, state[0] = train_step(model, optimizer, x, y, state[0], config.grad_clip, device)
        step[0] += 1

    return run


def bare_lstm_step(args, device, vocab_size: int, fused: bool = True, bf16: bool = True):
    """The same model as a bare loop on data already on the device; by default with charmony's fused AdamW."""
    torch.manual_seed(0)
    embed = nn.Embedding(vocab_size, args.embedding).to(device)
    lstm = nn.LSTM(args.embedding, args.hidden, args.layers, batch_first=True).to(device)
    head = nn.Linear(args.hidden, vocab_size).to(device)
    params = [*embed.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=2e-3, fused=fused)
    x = torch.randint(0, vocab_size, (args.batch_size, args.seq_len), device=device)
    y = torch.randint(0, vocab_size, (args.batch_size, args.seq_len), device=device)

    def run():
        with autocast(device) if bf16 else torch.autocast(device.type, enabled=False):
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


def sampling_rates(args, device, vocab_size: int) -> tuple[dict[int, float], float]:
    """Characters/s for 1, 64 and 1,024 samples in one batch, and for 64 samples one after another."""
    torch.manual_seed(0)
    model = CharModel(ModelConfig(vocab_size, layers=args.layers, hidden=args.hidden, embedding=args.embedding)).to(device)
    config = SampleConfig(temperature=1.0, top_k=20)
    eod = vocab_size  # an id the model never produces, so every sample runs to max_length
    length = args.sample_length

    def batch_of(count: int):
        return lambda: generate(model, [0], count, length, eod, config, torch.Generator(device=device).manual_seed(0), device)

    def one_by_one():
        generator = torch.Generator(device=device).manual_seed(0)
        for _ in range(64):
            generate(model, [0], 1, length, eod, config, generator, device)

    batch_of(1)()  # warm-up, so that no figure pays for first-call costs
    batched = {count: count * length / timed(batch_of(count), 1 if count > 64 else 3, 1, device) for count in (1, 64, 1024)}
    return batched, 64 * length / timed(one_by_one, 1, 0, device)


def step_flops(args, vocab_size: int) -> float:
    """Floating-point operations of one training step's matrix multiplies: forward, and twice that backward."""
    per_token = sum(2 * 4 * args.hidden * ((args.embedding if layer == 0 else args.hidden) + args.hidden) for layer in range(args.layers))
    per_token += 2 * args.hidden * vocab_size
    return 3 * per_token * args.batch_size * args.seq_len


def matmul_peak(device) -> float:
    """FLOP/s of a large square matrix multiply in the precision training computes in (fp32 CPU, bf16 CUDA)."""
    size = 8192 if device.type == "cuda" else 2048
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    return 2 * size**3 / timed(lambda: a @ b, 5, 2, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--embedding", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--vocab", type=int, default=100)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of charmony and the bare loop")
    parser.add_argument("--sample-length", type=int, default=200)
    parser.add_argument("--prepare-mb", type=int, default=1024, help="size of the generated corpus for prepare; 0 skips it")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()), help="where that corpus is written (and deleted)")
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
        quick = max(2, args.steps // 2)
        default_adamw = tokens_per_step / timed(bare_lstm_step(args, device, args.vocab, fused=False), quick, 1, device)
        cell = tokens_per_step / timed(lstm_cell_step(args, device, args.vocab), quick, 1, device)
        fp32 = tokens_per_step / timed(bare_lstm_step(args, device, args.vocab, bf16=False), quick, 1, device) if device.type == "cuda" else None
    peak = matmul_peak(device)
    achieved = ours / tokens_per_step * step_flops(args, args.vocab)

    print(f"train  charmony full step      {ours:12,.0f} tokens/s")
    print(f"train  bare nn.LSTM loop       {bare:12,.0f} tokens/s   charmony / bare     = {ours / bare:.2f}x  (goal >= 0.9x; "
          f"rounds {min(round_ratios):.2f}-{max(round_ratios):.2f}x)")
    print(f"train  bare loop, default AdamW{default_adamw:12,.0f} tokens/s   charmony / that     = {ours / default_adamw:.2f}x  (fused AdamW's gain)")
    print(f"train  nn.LSTMCell loop        {cell:12,.0f} tokens/s   charmony / LSTMCell = {ours / cell:.2f}x")
    print(f"flops  charmony step           {achieved / 1e9:12,.1f} GFLOP/s  matmul peak {peak / 1e9:,.1f} GFLOP/s = {achieved / peak:.0%}  "
          f"(goal on the CPU for 3 x 512: >= 60%)")
    if fp32 is None:
        print("bf16   no CUDA device: bf16 against fp32 is measured on CUDA only")
    else:
        print(f"bf16   bare loop in fp32       {fp32:12,.0f} tokens/s   bf16 / fp32 = {bare / fp32:.2f}x")
    batched, sequential = sampling_rates(args, device, args.vocab)
    for count, rate in batched.items():
        print(f"sample {count:5,} in one batch       {rate:12,.0f} chars/s")
    print(f"sample 64 one after another    {sequential:12,.0f} chars/s    64 batched / sequential = {batched[64] / sequential:.1f}x  (goal >= 20x)")
    if args.prepare_mb:
        print_figures(prepare_figures(args.prepare_mb, args.folder))


if __name__ == "__main__":
    main()
