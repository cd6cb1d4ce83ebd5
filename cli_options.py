"""The command line's option types and parsers, and how a default taken from a config dataclass is shown."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from charmony.pipeline.system.errors import SEED_LIMIT
from charmony.pipeline.run.config import CELL_NAMES, OPTIMIZERS, ModelConfig, TrainConfig
from charmony.pipeline.run.limits import BATCH_LIMIT, GRAD_CLIP_LIMIT, INIT_SCALE_LIMIT, LAYERS_LIMIT, LR_LIMIT, MINUTES_LIMIT, SEQ_LEN_LIMIT, STEPS_LIMIT, WIDTH_LIMIT
from charmony.pipeline.system.threads import thread_limit
from charmony.pipeline.run.folder import RUNS_ENV, DEFAULT_RUNS_DIR


class Option(click.Option):
    """click's option, showing a default given as text as `[default: text]`, like any other default."""

    def get_help_extra(self, ctx):
        extra = super().get_help_extra(ctx)
        if isinstance(self.show_default, str) and "default" in extra:
            extra["default"] = self.show_default
        return extra


def option(*names, **settings):
    """`click.option` with charmony's `Option`."""
    return click.option(*names, cls=Option, **settings)


class SeedRange(click.IntRange):
    """A seed the random-number generators take: 0 to 2**63 - 1, said so briefly."""

    def __init__(self) -> None:
        super().__init__(0, SEED_LIMIT - 1)

    def _describe_range(self) -> str:
        return "0<=x<2**63"


class DeviceChoice(click.Choice):
    """auto, cpu or cuda; also cuda:N for one GPU of several."""

    def __init__(self) -> None:
        super().__init__(["auto", "cpu", "cuda"])

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.startswith("cuda:") and value[5:].isdigit():
            return value
        return super().convert(value, param, ctx)


class CheckpointChoice(click.ParamType):
    """best, latest, or the path of a checkpoint file."""

    name = "checkpoint"

    def get_metavar(self, param, ctx=None) -> str:
        return "[best|latest|PATH]"

    def convert(self, value, param, ctx):
        if value in ("best", "latest") or Path(value).is_file():
            return value
        self.fail(f"{value!r} is neither best, latest nor a checkpoint file", param, ctx)


def field_default(config_class, name: str):
    """The default of a config dataclass' field, so that the command line never repeats it."""
    field = next(f for f in dataclasses.fields(config_class) if f.name == name)
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def shown(value) -> str:
    """A default as help shows it: `[default: 0.1]`, `[default: no]` for False."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def parse_options(ctx, param, values) -> dict[str, str]:
    """Turn repeated `--option KEY=VALUE` into a dict."""
    options = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE")
        options[key] = setting
    return options


def parse_sources(ctx, param, values) -> list[Path]:
    """Paths from repeated `--source`; an empty one would silently mean the current folder."""
    if any(not value for value in values):
        raise click.BadParameter("an empty path is not a source")
    return [Path(value) for value in values]


def parse_names(ctx, param, value) -> list[str]:
    """Turn `a,b,c` into a list of names."""
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def runs_dir_option(command):
    """--runs-dir, shared by every command that reads or writes runs."""
    return option(
        "--runs-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=RUNS_ENV,
        default=str(DEFAULT_RUNS_DIR),
        show_default=True,
        help=f"Folder holding one folder per run (or ${RUNS_ENV}).",
    )(command)


THREADS_DEFAULT = "$CHARMONY_THREADS, else 1 up to 2 CPUs, else CPUs - 1"


def run_argument(command):
    """[RUN], the run a command works on: the only prepared run when left out."""
    return click.argument("run_name", metavar="[RUN]", required=False)(command)


def seed_option(help: str, **settings):
    """--seed, a seed the random-number generators take."""
    return option("--seed", type=SeedRange(), help=help, **settings)


def device_option(help: str, **settings):
    """--device: auto, cpu, cuda or cuda:N."""
    return option("--device", type=DeviceChoice(), help=help, **settings)


def threads_option(help: str):
    """--threads, the CPU threads a process uses."""
    return option("--threads", type=click.IntRange(1, thread_limit()), show_default=THREADS_DEFAULT, help=help)


def checkpoint_option(default: str, help: str = "Which checkpoint: the best by validation loss, the latest, or a file."):
    """--checkpoint: best, latest or a checkpoint file."""
    return option("--checkpoint", type=CheckpointChoice(), default=default, show_default=True, help=help)


def corpus_option(help: str):
    """--option KEY=VALUE, repeatable: a corpus plugin's option."""
    return option("--option", "options", multiple=True, callback=parse_options, metavar="KEY=VALUE", help=help)


def given_options(ctx: click.Context, leave_out: tuple[str, ...]) -> list[str]:
    """The options given to this command as a command line, without those named in `leave_out` (and unset ones)."""
    args = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if not isinstance(param, click.Option) or param.name in leave_out or value is None:
            continue
        if value is False and not param.secondary_opts:  # a plain flag left off; --no-X is given as such
            continue
        if param.is_flag:
            args.append(param.opts[0] if value else param.secondary_opts[0])
        else:
            args += [param.opts[0], str(value)]
    return args


MODEL = ModelConfig()
TRAIN = TrainConfig()


def positive(limit: float) -> click.FloatRange:
    """A number above 0 and at most `limit`."""
    return click.FloatRange(0, limit, min_open=True)


def steps() -> click.IntRange:
    """A whole number of steps, from 1 to STEPS_LIMIT."""
    return click.IntRange(1, STEPS_LIMIT)


def options_group(*decorators):
    """One decorator applying `decorators` in the order given, so that help lists the options in that order."""

    def apply(command):
        for decorator in reversed(decorators):
            command = decorator(command)
        return command
    return apply


model_options = options_group(  # the model's shape: ModelConfig's fields
    option("--layers", type=click.IntRange(1, LAYERS_LIMIT), show_default=shown(MODEL.layers), help="Stacked recurrent layers."),
    option("--hidden", type=click.IntRange(1, WIDTH_LIMIT), show_default=shown(MODEL.hidden), help="Units per layer."),
    option("--embedding", type=click.IntRange(0, WIDTH_LIMIT), show_default="--hidden for words, 64 if the corpus recommends one, else 0",
           help="Embedding size; 0 for one-hot."),
    option("--cell", type=click.Choice(CELL_NAMES), show_default=shown(MODEL.cell),
           help="Recurrent cell; lnlstm is the LayerNorm LSTM."),
    option("--dropout", type=click.FloatRange(0, 1, max_open=True), show_default=shown(MODEL.dropout), help="Dropout between layers."),
    option("--recurrent-dropout", type=click.FloatRange(0, 1, max_open=True), show_default=shown(MODEL.recurrent_dropout),
           help="lnlstm only: dropout on the cell's candidate update."),
    option("--tie-weights/--no-tie-weights", default=None, show_default=shown(MODEL.tie_weights),
           help="Share embedding and output weights (needs --embedding = --hidden); the standard improvement for words."),
    option("--init-scale", type=positive(INIT_SCALE_LIMIT), metavar="F", show_default="PyTorch's initialisation",
           help="Draw every weight from U(-F, F), as the PTB recipes do."),
)
schedule_options = options_group(  # how long and how fast to train: TrainConfig's optimisation and logging fields
    option("--seq-len", type=click.IntRange(1, SEQ_LEN_LIMIT), show_default=shown(TRAIN.seq_len), help="Time steps per batch."),
    option("--batch-size", type=click.IntRange(1, BATCH_LIMIT), show_default=shown(TRAIN.batch_size), help="Parallel streams per process."),
    option("--lr", type=positive(LR_LIMIT), show_default=shown(TRAIN.lr), help="Peak learning rate."),
    option("--optimizer", type=click.Choice(OPTIMIZERS), show_default=shown(TRAIN.optimizer),
           help="sgd is plain SGD, as PyTorch's word_language_model trains (--lr about 20, --grad-clip 0.25, --weight-decay 0)."),
    option("--warmup-steps", type=click.IntRange(0, STEPS_LIMIT), show_default=shown(TRAIN.warmup_steps),
           help="Linear warm-up steps (at most a tenth of --max-steps), then cosine decay."),
    option("--weight-decay", type=click.FloatRange(0, 1, max_open=True), show_default=shown(TRAIN.weight_decay),
           help="AdamW weight decay of weight matrices."),
    option("--grad-clip", type=positive(GRAD_CLIP_LIMIT), show_default=shown(TRAIN.grad_clip), help="Largest global gradient norm."),
    option("--ema-decay", type=click.FloatRange(0, 1, max_open=True), show_default=shown(TRAIN.ema_decay), metavar="D",
           help="Validate, and keep in best.pt, an average of the weights in which each step weighs 1 - D (0: none)."),
    option("--output-prior/--no-output-prior", default=None, show_default=shown(TRAIN.output_prior),
           help="Start the output layer's bias at the log of the training tokens' frequencies, so that the untrained "
                "model draws tokens as often as the training text holds them."),
    option("--max-steps", type=steps(), show_default=shown(TRAIN.max_steps), help="Steps to train to."),
    option("--max-minutes", type=positive(MINUTES_LIMIT), show_default="no limit", help="Stop after this many minutes of wall time."),
    option("--eval-every", type=steps(), show_default=shown(TRAIN.eval_every), help="Steps between validations."),
    option("--patience", type=steps(), show_default="never", metavar="N",
           help="Stop once N validations in a row have not bettered the best validation loss (best.pt keeps the best)."),
    option("--save-every", type=steps(), show_default=shown(TRAIN.save_every), help="Steps between checkpoints."),
    option("--log-every", type=steps(), show_default=shown(TRAIN.log_every),
           help="Steps between metrics lines (and, without a terminal, log lines)."),
)
