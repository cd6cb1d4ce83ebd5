"""The settings of each stage as dataclasses: what to prepare, the model's shape, how to train, how to sample and what a gallery shows.

They import neither torch nor numpy, so that the command line can build its help from their
defaults without loading either.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from charmony.pipeline.run.limits import (
    BATCH_LIMIT, GRAD_CLIP_LIMIT, INIT_SCALE_LIMIT, LAYERS_LIMIT, LENGTH_LIMIT, LR_LIMIT, MINUTES_LIMIT, SAMPLES_LIMIT,
    SEQ_LEN_LIMIT, STEPS_LIMIT, TEMPERATURE_LIMIT, TOKENS_LIMIT, VOCAB_LIMIT, WIDTH_LIMIT, WINDOWS_LIMIT, check_positive,
    check_whole,
)
from charmony.pipeline.system.errors import ConfigError, check_seed

# The recurrent cells a model may have (pipeline/model/charmodel.py maps each to its torch module); lnlstm is the LayerNorm LSTM.
CELL_NAMES = ("lstm", "gru", "rnn", "lnlstm")
# Model options only some cells take, and which.
CELL_OPTIONS = {"recurrent_dropout": ("lnlstm",)}


DEFAULT_VAL_FRACTION = 0.1


@dataclass
class PrepareConfig:
    """What to prepare and how."""

    corpus: str
    sources: list[Path] = field(default_factory=list)
    max_vocab: int | None = None  # keep this many most frequent tokens, the rest become <unk>
    # Share of documents (or of the text, for one document) held out; None: DEFAULT_VAL_FRACTION. A corpus
    # that holds out its own part (`CorpusPlugin.held_out_option`) refuses one given here.
    val_fraction: float | None = None
    seed: int = 1337  # decides which documents are held out
    options: dict[str, str] = field(default_factory=dict)  # the corpus plugin's --option KEY=VALUE
    force: bool = False  # replace a trained run's data even when vocabulary, seed, split or options change

    def __post_init__(self) -> None:
        if self.val_fraction is not None and not 0 <= self.val_fraction <= 0.5:
            raise ConfigError(f"--val-fraction must be from 0 to 0.5, not {self.val_fraction}")
        if self.max_vocab is not None:
            check_whole("--max-vocab", self.max_vocab, 1, VOCAB_LIMIT)
        check_seed(self.seed)

    @property
    def held_out_share(self) -> float:
        """The share to hold out: --val-fraction, or its default when none was given."""
        return DEFAULT_VAL_FRACTION if self.val_fraction is None else self.val_fraction


# The embedding width when the corpus recommends a learned embedding and none is given.
DEFAULT_EMBEDDING = 64


@dataclass
class ModelConfig:
    """The model's shape; saved inside every checkpoint so sampling can rebuild it.

    `vocab_size` comes from the prepared run, and an `embedding` of None from the corpus' advice:
    `resolved` fills both in before a model is built.
    """

    vocab_size: int | None = None  # None until the run's vocabulary is known
    cell: str = "lstm"  # lstm, gru, rnn or lnlstm (LayerNorm LSTM)
    layers: int = 2  # stacked recurrent layers
    hidden: int = 256  # units per layer
    embedding: int | None = None  # embedding size; 0 feeds one-hot vectors as char-rnn does; None: as the corpus advises
    dropout: float = 0.0  # between layers and before the head
    tie_weights: bool = False  # share the embedding matrix with the head (needs embedding == hidden)
    recurrent_dropout: float = 0.0  # lnlstm only: dropout on the cell's candidate update
    init_scale: float | None = None  # draw the weights uniformly from +-init_scale (the PTB recipes); None: PyTorch's

    def __post_init__(self) -> None:
        if self.cell not in CELL_NAMES:
            raise ConfigError(f"--cell must be one of {', '.join(CELL_NAMES)}, not {self.cell!r}")
        check_whole("--layers", self.layers, 1, LAYERS_LIMIT)
        check_whole("--hidden", self.hidden, 1, WIDTH_LIMIT)
        if self.embedding is not None:
            check_whole("--embedding", self.embedding, 0, WIDTH_LIMIT)
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"--dropout must be at least 0 and below 1, not {self.dropout}")
        for option, cells in CELL_OPTIONS.items():
            if getattr(self, option) and self.cell not in cells:
                flag = "--" + option.replace("_", "-")
                raise ConfigError(f"{flag} works only with --cell {' or '.join(cells)}, not --cell {self.cell}")
        if not 0 <= self.recurrent_dropout < 1:
            raise ConfigError(f"--recurrent-dropout must be at least 0 and below 1, not {self.recurrent_dropout}")
        if self.init_scale is not None:
            check_positive("--init-scale", self.init_scale, INIT_SCALE_LIMIT)
        if self.tie_weights and self.embedding is not None and self.embedding != self.hidden:
            raise ConfigError(f"--tie-weights needs --embedding equal to --hidden ({self.hidden}), not {self.embedding}")
        if self.vocab_size is not None and self.vocab_size < 1:
            raise ConfigError(f"a model needs at least one token in its vocabulary, not {self.vocab_size}")

    def resolved(self, vocab_size: int, embedding_advised: bool, words: bool = False) -> ModelConfig:
        """This shape for a vocabulary of `vocab_size`, the embedding as the corpus advises unless given.

        Word-level runs (`words`) default to an embedding as wide as the hidden layer, as the PTB
        recipes have it, which also lets --tie-weights share it with the head.
        """
        embedding = self.embedding
        if embedding is None:
            if self.tie_weights or words:
                embedding = self.hidden
            else:
                embedding = DEFAULT_EMBEDDING if embedding_advised else 0
        return dataclasses.replace(self, vocab_size=vocab_size, embedding=embedding)


# The model's fields that a training setting may name directly, as the command line does (--layers, --hidden...).
MODEL_FIELDS = tuple(f.name for f in fields(ModelConfig) if f.name != "vocab_size")


OPTIMIZERS = ("adamw", "sgd")


@dataclass
class TrainConfig:
    """Model shape and training settings; saved in each checkpoint."""

    model: ModelConfig = field(default_factory=ModelConfig)
    seq_len: int = 100  # time steps per batch (truncated BPTT length)
    batch_size: int = 32  # parallel streams per process
    lr: float = 5e-3  # peak learning rate (Adam); 2e-3, char-rnn's, learns about half as fast here
    optimizer: str = "adamw"  # adamw, or sgd: plain SGD, as the PTB tutorial and PyTorch's word_language_model train words
    weight_decay: float = 0.01  # AdamW, on weight matrices only
    grad_clip: float = 1.0  # max global gradient norm
    ema_decay: float = 0.0  # validation scores, and best.pt keeps, an average of the weights, each step's weight 1 - this; 0: none
    output_prior: bool = False  # a new model's output bias starts at the log of the training tokens' frequencies
    warmup_steps: int = 100  # linear warm-up (at most a tenth of max_steps), then cosine decay to lr / 10 at max_steps
    max_steps: int = 2000
    max_minutes: float | None = None  # stop early after this much wall time
    eval_every: int = 200
    patience: int | None = None  # stop once this many validations in a row have not bettered the best; None: never
    eval_batches: int = 50  # at most this many validation batches per evaluation
    save_every: int = 500
    log_every: int = 10
    device: str = "auto"
    seed: int = 1337
    compile: bool = False  # torch.compile the step around the recurrent layers
    threads: int | None = None  # CPU threads per process; None: CHARMONY_THREADS, else a default for this machine

    def __post_init__(self) -> None:
        if not 0 <= self.weight_decay < 1:
            raise ConfigError(f"--weight-decay must be from 0 to below 1, not {self.weight_decay}")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"--ema-decay must be from 0 to below 1, not {self.ema_decay}")
        check_whole("--warmup-steps", self.warmup_steps, 0, STEPS_LIMIT)
        check_whole("--seq-len", self.seq_len, 1, SEQ_LEN_LIMIT)
        check_whole("--batch-size", self.batch_size, 1, BATCH_LIMIT)
        for name in ("max_steps", "eval_every", "eval_batches", "save_every", "log_every"):
            check_whole(f"--{name.replace('_', '-')}", getattr(self, name), 1, STEPS_LIMIT)
        if self.patience is not None:
            check_whole("--patience", self.patience, 1, STEPS_LIMIT)
        check_seed(self.seed)
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        for name, limit in (("lr", LR_LIMIT), ("grad_clip", GRAD_CLIP_LIMIT), ("max_minutes", MINUTES_LIMIT)):
            value = getattr(self, name)
            if value is not None:
                check_positive(f"--{name.replace('_', '-')}", value, limit)
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads must be at least 1, not {self.threads}")

    def with_settings(self, **settings: Any) -> TrainConfig:
        """This config with settings replaced, named as the command line names them (`layers` goes to the model)."""
        model = {key: settings.pop(key) for key in MODEL_FIELDS if key in settings}
        return dataclasses.replace(self, model=dataclasses.replace(self.model, **model), **settings)

    def to_json(self) -> dict:
        """The config as plain JSON data, the model's shape under `model`."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainConfig:
        """A config from a checkpoint's saved dict, ignoring fields this version does not know.

        Checkpoints before the model's shape was nested saved its fields beside the others.
        """
        known = {f.name for f in fields(cls)} - {"model"}
        model = data.get("model", {key: data[key] for key in MODEL_FIELDS if key in data})
        model = {key: value for key, value in model.items() if key in MODEL_FIELDS}
        return cls(model=ModelConfig(**model), **{key: value for key, value in data.items() if key in known})


# Dividing logits by a smaller temperature overflows to inf; such temperatures mean "greedy" anyway.
GREEDY_BELOW = 1e-6


@dataclass
class SampleConfig:
    """How many samples to draw and how."""

    num_samples: int = 1
    max_length: int = 1000  # tokens generated after the prime, at most
    temperature: float = 1.0  # 0 (or below GREEDY_BELOW) always picks the most likely token
    top_k: int | None = None  # keep only the k most likely tokens
    top_p: float | None = None  # keep the fewest tokens whose probabilities reach p
    prime: str | None = None  # text to start from; None uses the corpus' default
    seed: int | None = None  # None draws one, which samples.json records
    checkpoint: str = "best"  # best, latest, or a path
    device: str = "auto"
    render: list[str] = field(default_factory=list)  # output plugins to run on each sample, besides the corpus' checks
    threads: int | None = None  # CPU threads; None: CHARMONY_THREADS, else a default for this machine
    evaluate: bool = True  # score samples written to a folder against the run (pipeline/evaluation/evaluate.py)
    free: bool = False  # sample without the corpus' constraint, even where it has one
    options: dict[str, str] = field(default_factory=dict)  # the corpus' sample-time options (--option KEY=VALUE)

    def __post_init__(self) -> None:
        _check_drawing(self.num_samples, self.max_length, self.temperature, self.seed, self.threads)
        if self.top_k is not None:
            check_whole("--top-k", self.top_k, 1, VOCAB_LIMIT)
        if self.top_p is not None and not 0 < self.top_p <= 1:  # also refuses NaN
            raise ConfigError(f"--top-p must be above 0 and at most 1, not {self.top_p}")


@dataclass
class HarmonizeConfig:
    """Which melody to harmonise in four parts, how many harmonisations to draw and how."""

    melody: Path  # an ABC file of one tune, one voice
    num_samples: int = 4
    max_length: int = 8000  # tokens of a whole harmonisation, header and melody included, at most
    temperature: float = 1.0  # 0 (or below GREEDY_BELOW) always picks the most likely token
    seed: int | None = None  # None draws one, which samples.json records
    checkpoint: str = "best"  # best, latest, or a path
    device: str = "auto"
    render: list[str] = field(default_factory=list)  # output plugins to run on each harmonisation, besides the corpus' checks
    threads: int | None = None  # CPU threads; None: CHARMONY_THREADS, else a default for this machine
    evaluate: bool = True  # score the harmonisations against the run, as `sample` does
    options: dict[str, str] = field(default_factory=dict)  # the corpus' sample-time options, such as crossing=no

    def __post_init__(self) -> None:
        _check_drawing(self.num_samples, self.max_length, self.temperature, self.seed, self.threads)


def _check_drawing(num_samples: int, max_length: int, temperature: float, seed: int | None, threads: int | None) -> None:
    """The settings `sample` and `harmonize` share, each in its range, or a ConfigError naming the flag."""
    _check_batch("--max-length", num_samples, max_length)
    if not (math.isfinite(temperature) and 0 <= temperature <= TEMPERATURE_LIMIT):
        raise ConfigError(f"--temperature must be from 0 to {TEMPERATURE_LIMIT:g}, not {temperature}")
    if seed is not None:
        check_seed(seed)
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be at least 1, not {threads}")


@dataclass
class GalleryConfig:
    """Which samples a gallery shows and where it is written."""

    samples: list[Path] = field(default_factory=list)  # sample folders; empty means every sample folder of the run
    out: Path | None = None  # None means the run's own gallery/ folder
    render: bool = True  # render the scores and audio a sample set lacks into the gallery; False shows only what sampling rendered


@dataclass
class ForecastConfig:
    """What to forecast of a series run, and how."""

    horizon: int  # steps to forecast
    num_samples: int = 100  # continuations drawn in one batch
    contexts: tuple[Path, ...] = ()  # CSV files, forecast together; none: the end of the run's own (validation) series
    temperature: float = 1.0
    seed: int | None = None  # None draws one, which forecast.json records
    checkpoint: str = "best"  # best, latest, or a path
    device: str = "auto"
    threads: int | None = None  # CPU threads; None: CHARMONY_THREADS, else a default for this machine

    def __post_init__(self) -> None:
        _check_forecast(self.horizon, self.num_samples, self.temperature, self.seed, self.threads)


@dataclass
class ForecastScoreConfig:
    """How `evaluate` scores a series run's forecasts from rolling origins over its held-out values."""

    horizon: int | None = None  # steps forecast from each origin; None: the run's first period (a day)
    origins: int | None = None  # spread evenly over every step; None: an origin every `horizon` steps
    num_samples: int = 100  # continuations per origin, whose median is the point forecast: as many as `forecast` draws
    max_windows: int = 500  # origins, when there is room for more and --origins is not given
    periods: tuple[int, ...] = ()  # of the seasonal naive baselines; empty: the run's --option period
    baselines: tuple[str, ...] = ()  # statsforecast methods, such as ets and mstl
    temperature: float = 1.0
    seed: int = 0
    checkpoint: str = "best"  # chosen on the validation part, which lies before the held-out values scored
    device: str = "auto"
    threads: int | None = None  # CPU threads; None: CHARMONY_THREADS, else a default for this machine

    def __post_init__(self) -> None:
        _check_forecast(self.horizon or 1, self.num_samples, self.temperature, self.seed, self.threads)
        if self.origins is not None:
            check_whole("--origins", self.origins, 1, WINDOWS_LIMIT)
        check_whole("--max-windows", self.max_windows, 1, WINDOWS_LIMIT)
        for period in self.periods:
            check_whole("--option period", period, 1, LENGTH_LIMIT)


def _check_forecast(horizon: int, num_samples: int, temperature: float, seed: int | None, threads: int | None) -> None:
    """A ConfigError for the first forecast setting out of range."""
    _check_batch("--horizon", num_samples, horizon)
    if not (math.isfinite(temperature) and 0 < temperature <= TEMPERATURE_LIMIT):
        raise ConfigError(f"--temperature must be above 0 and at most {TEMPERATURE_LIMIT:g} for a forecast, not {temperature}")
    if seed is not None:
        check_seed(seed)
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be at least 1, not {threads}")


def _check_batch(length_flag: str, num_samples: int, length: int) -> None:
    """A ConfigError unless `num_samples` rows of `length` tokens, drawn in one batch, stay within the limits."""
    check_whole("--num-samples", num_samples, 1, SAMPLES_LIMIT)
    check_whole(length_flag, length, 1, LENGTH_LIMIT)
    if num_samples * length > TOKENS_LIMIT:
        raise ConfigError(f"--num-samples {num_samples:,} x {length_flag} {length:,} is over {TOKENS_LIMIT:,} tokens "
                          "in one batch; draw fewer or shorter samples, in several runs")
