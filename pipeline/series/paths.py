"""Sampled forecast paths after many histories at once, in the series' own units: what `forecast`, `evaluate`
and the interval calibration share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from charmony.pipeline.run.vocabulary import Vocabulary
from charmony.pipeline.series.continuation import Continuation, ValueTokens, read_contexts, sample_after
from charmony.pipeline.series.values import dequantise
from charmony.pipeline.series.windows import WindowPlan

BATCH_HISTORIES = 64  # histories whose samples are drawn in one batch


@dataclass(frozen=True)
class Drawing:
    """How many sample paths of how many steps to draw, at what temperature, with which generator."""

    num_samples: int
    horizon: int
    temperature: float
    generator: torch.Generator
    device: torch.device


def draw_paths(model, plan: WindowPlan, vocab: Vocabulary, histories: list[np.ndarray], how: Drawing) -> np.ndarray:
    """(histories, num_samples, horizon) paths after each history: its last context read as the model was trained
    (differenced and scaled by its own level), the samples scaled back and added back onto the history."""
    bins, values = plan.value_bins(), ValueTokens(vocab.tokens)
    read = [plan.model_context(history) for history in histories]
    scalings = [plan.scaling(context) for context in read]
    rows = [[vocab.eod_id] + values.encode(bins.quantise(scaling.apply(context))) for context, scaling in zip(read, scalings)]
    joined = read_contexts(model, rows, how.device)
    continuation = Continuation(how.num_samples, how.horizon, how.temperature, values.ids.tolist(), len(vocab))
    paths = []
    for first in range(0, len(histories), BATCH_HISTORIES):
        batch = joined.rows(first, first + BATCH_HISTORIES)
        drawn = values.bin_of_id[sample_after(model, batch, continuation, how.generator, how.device).cpu().numpy()]
        drawn = drawn.reshape(len(batch.logits), how.num_samples, how.horizon)
        paths += [plan.restore(history, dequantise(path, scaling, bins))
                  for path, scaling, history in zip(drawn, scalings[first:], histories[first:])]
    return np.stack(paths)
