"""The `forecast` stage: prime a series run's model with a context and sample many continuations in one batch."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import torch

from charmony.pipeline.series.corpus_base import SeriesCorpusBase
from charmony.pipeline.series.csv_columns import read_columns
from charmony.pipeline.series.values import Bins, Scaling, dequantise, token_bin
from charmony.pipeline.system.atomic import atomic_path, write_json
from charmony.pipeline.run.config import ForecastConfig
from charmony.pipeline.system.device import autocast, resolve_device
from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.series.svg import forecast_svg
from charmony.pipeline.run.manifest import get_run_corpus
from charmony.pipeline.run.manifest import check_sources
from charmony.pipeline.run.folder import Run
from charmony.pipeline.sampling.sample import filter_logits, load_model
from charmony.pipeline.system.threads import use_threads

__all__ = ["ForecastConfig", "Forecast", "forecast", "write_forecast"]

QUANTILES = (10, 50, 90)


@dataclass
class Forecast:
    """The context, the sampled continuations and their quantiles, in the series' own units."""

    history: np.ndarray  # the context's values
    paths: np.ndarray  # (num_samples, horizon)
    metadata: dict = field(default_factory=dict)

    def quantile(self, percent: float) -> np.ndarray:
        """The `percent`-th percentile of the continuations at each step."""
        return np.percentile(self.paths, percent, axis=0)


def series_corpus(run: Run) -> SeriesCorpusBase:
    """The run's corpus, which must be a series corpus (one whose material is "series")."""
    corpus = get_run_corpus(run.manifest())
    if corpus.material != "series":
        raise ConfigError(f"forecast needs a run of the series corpus; run {run.name!r} is of corpus {corpus.name!r}")
    return cast(SeriesCorpusBase, corpus)


def context_values(run: Run, corpus: SeriesCorpusBase, context: Path | None) -> tuple[np.ndarray, str]:
    """The values to start from, and where they came from.

    Without a context file, the run's last series (its last window, with --option window), whose
    end `prepare` holds out for validation.
    """
    manifest = run.manifest()
    settings = corpus.settings(manifest.options)
    if context is not None:
        column = read_columns(context, settings.columns[:1] or None)[0]
        return column.values, f"{context} column {column.name!r}"
    check_sources(manifest.sources, f"prepare run {run.name!r} again, or give --context")
    sources = [Path(record.path) for record in manifest.sources]
    last = corpus.series(sources, manifest.options)[-1]
    values = last.values[-settings.window:] if settings.window else last.values
    return values, f"the end of run {run.name!r}'s series {last.name!r}"


class ValueTokens:
    """The run's value tokens: the vocabulary id of each bin it has, and the bin of each id."""

    def __init__(self, tokens: list[str]):
        pairs = sorted((token_bin(token), index) for index, token in enumerate(tokens) if token_bin(token) is not None)
        if not pairs:
            raise ConfigError("the run's vocabulary holds no value tokens; prepare it with the series corpus again")
        self.bins = np.array([b for b, _ in pairs])
        self.ids = np.array([i for _, i in pairs])
        self.bin_of_id = np.full(len(tokens), -1)
        self.bin_of_id[self.ids] = self.bins

    def encode(self, bins: np.ndarray) -> list[int]:
        """Vocabulary ids for bins, a bin the training data never had taking the nearest one it had."""
        right = np.clip(np.searchsorted(self.bins, bins), 0, len(self.bins) - 1)
        left = np.clip(right - 1, 0, len(self.bins) - 1)
        nearer = np.where(np.abs(self.bins[left] - bins) <= np.abs(self.bins[right] - bins), left, right)
        return self.ids[nearer].tolist()


@dataclass(frozen=True)
class Continuation:
    """How to continue prefixes: how many samples of how many steps, at what temperature, from which tokens."""

    num_samples: int
    horizon: int
    temperature: float
    allowed: list[int]  # the value tokens: a forecast has no end of document
    vocab_size: int


@torch.no_grad()
def continue_series(model, prefixes: list[list[int]], how: Continuation, generator: torch.Generator,
                    device: torch.device) -> torch.Tensor:
    """Token ids (len(prefixes) * num_samples, horizon), the samples of each prefix together.

    Each prefix (all of one length) is read once and its state copied to each of its samples.
    """
    model.eval()
    with autocast(device):
        logits, state = model(torch.tensor(prefixes, device=device))
    state = tuple(part.repeat_interleave(how.num_samples, dim=1) for part in state)
    logits = logits[:, -1:].repeat_interleave(how.num_samples, dim=0)
    mask = torch.full((how.vocab_size,), float("-inf"), device=device)
    mask[how.allowed] = 0.0
    out = torch.empty((len(prefixes) * how.num_samples, how.horizon), dtype=torch.long, device=device)
    for t in range(how.horizon):
        last = filter_logits(logits[:, -1], how.temperature, None, None) + mask
        out[:, t] = torch.multinomial(last.softmax(dim=-1), 1, generator=generator).squeeze(1)
        with autocast(device):
            logits, state = model(out[:, t:t + 1], state)
    return out


def forecast(run: Run, config: ForecastConfig) -> Forecast:
    """Forecast `horizon` steps after the context, `num_samples` times in one batch."""
    corpus = series_corpus(run)
    settings = corpus.settings(run.manifest().options)
    history, origin = context_values(run, corpus, config.context)
    scaling, bins = Scaling.fit(history, settings.scale), Bins.for_options(settings)
    vocab = run.vocabulary()
    values = ValueTokens(vocab.tokens)
    device = resolve_device(config.device)
    if device.type == "cpu":
        use_threads(config.threads)
    model, checkpoint, path = load_model(run, config.checkpoint, device)
    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    generator = torch.Generator(device=device).manual_seed(seed)
    prefix = [vocab.eod_id] + values.encode(bins.quantise(scaling.apply(history)))
    how = Continuation(config.num_samples, config.horizon, config.temperature, values.ids.tolist(), len(vocab))
    ids = continue_series(model, [prefix], how, generator, device).cpu().numpy()
    paths = dequantise(values.bin_of_id[ids], scaling, bins)
    metadata = {
        "run": run.name, "checkpoint": str(path), "step": checkpoint.step, "context": origin,
        "context_values": len(history), "horizon": config.horizon, "num_samples": config.num_samples,
        "temperature": config.temperature, "seed": seed, "scale": settings.scale, "bins": settings.bins,
    }
    return Forecast(history, paths, metadata)


def write_forecast(result: Forecast, out_dir: Path) -> list[Path]:
    """Write forecast.csv (step, median, p10, p90), forecast.svg and forecast.json into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    p10, median, p90 = (result.quantile(q) for q in QUANTILES)
    rows = ["step,median,p10,p90"] + [
        f"{step},{m:.6g},{low:.6g},{high:.6g}" for step, (m, low, high) in enumerate(zip(median, p10, p90), start=1)
    ]
    written = [out_dir / "forecast.csv", out_dir / "forecast.svg", out_dir / "forecast.json"]
    with atomic_path(written[0]) as temporary:
        temporary.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with atomic_path(written[1]) as temporary:
        temporary.write_text(forecast_svg(result.history, median, p10, p90, result.metadata.get("context", "")), encoding="utf-8")
    write_json(written[2], result.metadata)
    return written
