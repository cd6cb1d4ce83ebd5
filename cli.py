"""The `charmony` command line: a thin layer over the pipeline's stage functions.

Only click and charmony's light modules are imported here: torch, numpy and music21 are imported
inside the commands that need them, so that `charmony --help`, `plugins` and `check` start fast.
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from pathlib import Path

import click

from charmony import __version__
from charmony.cli_options import (
    CheckpointChoice, DeviceChoice, SeedRange, field_default, option, parse_names, parse_options, parse_sources,
    runs_dir_option, shown,
)
from charmony.pipeline.run.config import (
    CELL_NAMES, ForecastConfig, ForecastScoreConfig, ModelConfig, PrepareConfig, SampleConfig, TrainConfig,
)
from charmony.pipeline.plugin.corpus import CorpusWarning
from charmony.pipeline.system.errors import CharmonyError, ConfigError, RunError
from charmony.pipeline.plugin.manager import PluginWarning, call_each, get_plugin_manager
from charmony.pipeline.run.folder import Run, find_run, named_run

TRAIN = TrainConfig()
MODEL = ModelConfig()
SAMPLE = SampleConfig()
# The commands in the order of the work they do; commands not named here (a plugin's) come after them.
WORKFLOW = ("prepare", "train", "sample", "evaluate", "forecast", "gallery", "check", "render", "plugins")
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
GALLERY_RENDER = "html"  # the --render name that builds a gallery of the samples instead of naming an output plugin


class CharmonyGroup(click.Group):
    """A click group that adds plugin commands on first use, lists commands in workflow order, and turns
    charmony errors into one line."""

    _plugin_commands_loaded = False

    def _load_plugin_commands(self) -> None:
        if self._plugin_commands_loaded:
            return
        self._plugin_commands_loaded = True
        plugin_commands = click.Group()
        call_each(get_plugin_manager(), "register_commands", lambda plugin: {"cli": plugin_commands})
        for name, command in plugin_commands.commands.items():
            if name in self.commands:
                warnings.warn(f"a plugin's command {name!r} is skipped: charmony already has a command of that name", PluginWarning,
                              stacklevel=1)
            else:
                self.add_command(command, name)

    def list_commands(self, ctx):
        self._load_plugin_commands()
        order = {name: position for position, name in enumerate(WORKFLOW)}
        return sorted(self.commands, key=lambda name: (order.get(name, len(order)), name))

    def get_command(self, ctx, name):
        self._load_plugin_commands()
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CharmonyError as error:
            raise click.ClickException(str(error)) from None
        except BrokenPipeError:
            raise
        except MemoryError as error:
            raise click.ClickException(out_of_memory(error)) from None
        except OSError as error:  # an unwritable --out, a full disk: the system's own words say it best
            where = f"{error.filename}: " if error.filename else ""
            raise click.ClickException(f"{where}{error.strerror or error}") from None
        except RuntimeError as error:  # torch.OutOfMemoryError is one, and the CPU allocator raises a plain one
            if "allocate" not in str(error) and "out of memory" not in str(error):
                raise
            raise click.ClickException(out_of_memory(error)) from None


ALLOCATION = re.compile(r"allocate (\d+) bytes|[Tt]ried to allocate ([\d.]+ [KMGTP]i?B)")


def out_of_memory(error: BaseException) -> str:
    """The one-line message for running out of memory, with the size that could not be allocated."""
    text = str(error).strip()
    found = ALLOCATION.search(text)
    if found and found.group(1):
        what = f"tried to allocate {int(found.group(1)):,} bytes ({size(int(found.group(1)))})"
    elif found:
        what = f"tried to allocate {found.group(2)}"
    else:
        what = text.splitlines()[0] if text else type(error).__name__
    return (
        f"out of memory ({what}); lower --batch-size, --seq-len, --hidden or --layers for training, "
        "--num-samples or --max-length for sampling; checkpoints already written are intact"
    )


def size(count: float) -> str:
    """Bytes in binary units: 98.2 TiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{count:.0f} B"
        count /= 1024
    return f"{count:.1f} PiB"


class NoSuchTool(click.ClickException):
    """Nothing can do what was asked for these files: exit 2, since 1 means 'checked and invalid'."""

    exit_code = 2


def pick_run(runs_dir: Path, name: str | None) -> Run:
    """The named run, or the only prepared run when no name is given."""
    if name is None:
        prepared = sorted(path.parent.name for path in runs_dir.glob("*/manifest.json"))
        if len(prepared) != 1:
            found = f"runs in {runs_dir}: {', '.join(prepared)}" if prepared else f"there is none in {runs_dir}; run `charmony prepare CORPUS`"
            raise RunError(f"name the RUN to use; {found}")
        name = prepared[0]
    return find_run(runs_dir, name)


@click.group(cls=CharmonyGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="charmony")
def cli():
    """Train character-level recurrent models on text and music, and sample from them.

    \b
    Example:
      charmony prepare text --source input.txt --run shakespeare
      charmony train shakespeare --max-minutes 60
      charmony sample shakespeare --num-samples 5 --prime "ROMEO:"
    """


@cli.command("prepare", short_help="Read a corpus into a run's vocabulary and token files.")
@click.argument("corpus")
@option("--source", "sources", multiple=True, callback=parse_sources, metavar="PATH", show_default="the corpus' own",
              help="File or folder to read; repeatable.")
@option("--run", "run_name", metavar="NAME", show_default="the corpus name", help="Run name.")
@option("--max-vocab", type=click.IntRange(1), metavar="N", show_default="the corpus' advice, else all",
              help="Keep the N most frequent tokens (besides <eod>); the rest become <unk>.")
@option("--val-fraction", type=click.FloatRange(0, 0.5), default=field_default(PrepareConfig, "val_fraction"),
              show_default=True, help="Share held out for validation.")
@option("--seed", type=SeedRange(), default=field_default(PrepareConfig, "seed"), show_default=True,
              help="Decides the train/validation split.")
@option("--option", "options", multiple=True, callback=parse_options, metavar="KEY=VALUE", help="A corpus plugin option; repeatable.")
@option("--force", is_flag=True, help="Replace a trained run's data even when its vocabulary, seed, split or options change.")
@runs_dir_option
def prepare_command(corpus, sources, run_name, max_vocab, val_fraction, seed, options, force, runs_dir):
    """Read CORPUS, build its vocabulary and write the token files of a run.

    \b
    Example:
      charmony prepare text --source poems/ --option split=blank --run poems
    """
    from charmony.pipeline.data.prepare import prepare

    config = PrepareConfig(corpus, list(sources), max_vocab, val_fraction, seed, options, force)
    run = named_run(runs_dir, run_name or corpus)
    manifest = prepare(run, config)
    docs, tokens = manifest.documents, manifest.tokens
    click.echo(
        f"prepared run {run.name!r} in {run.dir}: corpus {manifest.corpus}, "
        f"{docs['train']:,} train / {docs['val']:,} val documents (split by {manifest.split}), "
        f"{tokens['train']:,} train / {tokens['val']:,} val tokens, vocabulary of {manifest.vocab_size} tokens"
    )
    click.echo(f"next: charmony train {run.name}" + (f" --runs-dir {runs_dir}" if runs_dir != Path("runs") else ""))


POSITIVE = click.FloatRange(0, min_open=True)


@cli.command("train", short_help="Train a prepared run's model.")
@click.argument("run_name", metavar="[RUN]", required=False)
@option("--layers", type=click.IntRange(1), show_default=shown(MODEL.layers), help="Stacked recurrent layers.")
@option("--hidden", type=click.IntRange(1), show_default=shown(MODEL.hidden), help="Units per layer.")
@option("--embedding", type=click.IntRange(0), show_default="--hidden for words, 64 if the corpus recommends one, else 0",
              help="Embedding size; 0 for one-hot.")
@option("--cell", type=click.Choice(CELL_NAMES), show_default=shown(MODEL.cell),
              help="Recurrent cell; lnlstm is the LayerNorm LSTM.")
@option("--dropout", type=click.FloatRange(0, 1, max_open=True), show_default=shown(MODEL.dropout), help="Dropout between layers.")
@option("--recurrent-dropout", type=click.FloatRange(0, 1, max_open=True), show_default=shown(MODEL.recurrent_dropout),
              help="lnlstm only: dropout on the cell's candidate update.")
@option("--tie-weights/--no-tie-weights", default=None, show_default=shown(MODEL.tie_weights),
              help="Share embedding and output weights (needs --embedding = --hidden); the standard improvement for words.")
@option("--init-scale", type=POSITIVE, metavar="F", show_default="PyTorch's initialisation",
              help="Draw every weight from U(-F, F), as the PTB recipes do.")
@option("--recipe", metavar="NAME", show_default="none",
              help="Named settings of the run's corpus (see `charmony plugins CORPUS`); options given here win.")
@option("--seq-len", type=click.IntRange(1), show_default=shown(TRAIN.seq_len), help="Time steps per batch.")
@option("--batch-size", type=click.IntRange(1), show_default=shown(TRAIN.batch_size), help="Parallel streams per process.")
@option("--lr", type=POSITIVE, show_default=shown(TRAIN.lr), help="Peak learning rate.")
@option("--warmup-steps", type=click.IntRange(0), show_default=shown(TRAIN.warmup_steps),
              help="Linear warm-up steps (at most a tenth of --max-steps), then cosine decay.")
@option("--weight-decay", type=click.FloatRange(0, 1, max_open=True), show_default=shown(TRAIN.weight_decay),
              help="AdamW weight decay of weight matrices.")
@option("--grad-clip", type=POSITIVE, show_default=shown(TRAIN.grad_clip), help="Largest global gradient norm.")
@option("--max-steps", type=click.IntRange(1), show_default=shown(TRAIN.max_steps), help="Steps to train to.")
@option("--max-minutes", type=POSITIVE, show_default="no limit", help="Stop after this many minutes of wall time.")
@option("--eval-every", type=click.IntRange(1), show_default=shown(TRAIN.eval_every), help="Steps between validations.")
@option("--save-every", type=click.IntRange(1), show_default=shown(TRAIN.save_every), help="Steps between checkpoints.")
@option("--log-every", type=click.IntRange(1), show_default=shown(TRAIN.log_every),
              help="Steps between metrics lines (and, without a terminal, log lines).")
@option("--device", type=DeviceChoice(), show_default=shown(TRAIN.device), help="Where to train; auto picks a GPU if there is one.")
@option("--seed", type=SeedRange(), show_default=shown(TRAIN.seed), help="Seed for initialisation and dropout.")
@option("--compile/--no-compile", default=None, show_default=shown(TRAIN.compile), help="torch.compile the step around the recurrent layers.")
@option("--threads", type=click.IntRange(1), show_default="$CHARMONY_THREADS, else 1 up to 2 CPUs, else CPUs - 1",
              help="CPU threads per process.")
@option("--nproc", type=click.IntRange(1), help="Train with this many processes on this machine (one per GPU), as torchrun does.")
@option("--resume", is_flag=True, help="Continue from the run's latest checkpoint with its saved settings.")
@option("--restart", is_flag=True, help="Discard the run's checkpoints and train from step 0.")
@runs_dir_option
def train_command(run_name, resume, restart, nproc, runs_dir, recipe, **settings):
    """Train the model of RUN, a prepared run (with --nproc N, or under torchrun, in N processes).

    \b
    Example:
      charmony train shakespeare --layers 3 --hidden 512 --dropout 0.2 --max-minutes 60
      charmony train shakespeare --resume --max-steps 10000
      charmony train words --recipe small --tie-weights
    """
    from charmony.pipeline.system.device import resolve_device
    from charmony.pipeline.training.distributed import INTERRUPTED_EXIT, LaunchInterrupted, check_gpus, launch
    from charmony.pipeline.system.world import World
    from charmony.pipeline.training.resume import resumable_checkpoint, resume_config
    from charmony.pipeline.run.lock import run_lock
    from charmony.pipeline.system.threads import threads_to_use
    from charmony.pipeline.training.train import plan_training, train

    if resume and restart:
        raise click.UsageError("--resume and --restart exclude each other")
    if resume and recipe:
        raise click.UsageError("--resume keeps the run's saved settings; leave out --recipe")
    world = World.from_environment()
    if nproc and world.size > 1:
        raise ConfigError("--nproc launches processes itself; under torchrun, leave it out")
    processes = nproc or world.size
    run = pick_run(runs_dir, run_name)
    given = {key: value for key, value in settings.items() if value is not None}
    if recipe:
        given = recipe_settings(run, recipe, given)
    checkpoint = resumable_checkpoint(run) if resume else None
    config = resume_config(checkpoint, given, processes) if resume else TRAIN.with_settings(**given)
    if processes > world.size:
        check_gpus(processes, resolve_device(config.device))
        plan_training(run, config, processes, resume, restart, checkpoint)  # fail here, before any process starts
        if resolve_device(config.device).type == "cpu":  # each process starts with its share of the CPUs
            os.environ["OMP_NUM_THREADS"] = str(threads_to_use(config.threads, processes))
        try:
            with run_lock(run, "train", for_children=True):
                launch(processes, worker_arguments(click.get_current_context(), run, runs_dir))
        except LaunchInterrupted:
            click.echo(f"interrupted; checkpoint saved to {run.checkpoint_path}")
            click.echo(f"continue with: charmony train {run.name} --resume --nproc {processes}")
            sys.exit(INTERRUPTED_EXIT)
        return  # process 0 has said how training ended
    result = train(run, config, resume=resume, restart=restart, checkpoint=checkpoint)
    if not world.main:
        sys.exit(INTERRUPTED_EXIT if result.interrupted else 0)
    if result.interrupted:
        click.echo(f"interrupted at step {result.step}; checkpoint saved to {result.checkpoint}")
        click.echo(f"continue with: charmony train {run.name} --resume")
        sys.exit(INTERRUPTED_EXIT)
    if result.best_val_loss is None:
        click.echo(f"trained run {run.name!r} to step {result.step}; no validation split, checkpoint {result.checkpoint}")
    else:
        from charmony.pipeline.training.log import perplexity

        if run.manifest().word_level:
            measure = f" (perplexity {perplexity(result.best_val_loss):.2f})"
        else:
            measure = f" ({result.best_val_bpc:.3f} bpc)" if result.best_val_bpc is not None else ""
        click.echo(
            f"trained run {run.name!r} to step {result.step}; best validation loss "
            f"{result.best_val_loss:.4f} nats/token{measure}, checkpoint {run.best_path}"
        )


def recipe_settings(run: Run, name: str, given: dict) -> dict:
    """The settings of the run's corpus' recipe `name`, with the options given on the command line winning."""
    from charmony.pipeline.run.manifest import get_run_corpus
    from charmony.pipeline.plugin.recipes import apply_recipe

    return apply_recipe(get_run_corpus(run.manifest()).recipe(name), given)


def worker_arguments(ctx: click.Context, run: Run, runs_dir: Path) -> list[str]:
    """The `train` command line each launched process runs: this one's options, without --nproc."""
    args = ["train", run.name, "--runs-dir", str(runs_dir.resolve())]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if not isinstance(param, click.Option) or param.name in ("nproc", "runs_dir") or value is None or value is False:
            continue
        if param.is_flag:
            args.append(param.opts[0] if value else param.secondary_opts[0])
        else:
            args += [param.opts[0], str(value)]
    return args


@cli.command("sample", short_help="Generate samples from a trained run.")
@click.argument("run_name", metavar="[RUN]", required=False)
@option("--num-samples", type=click.IntRange(1), default=SAMPLE.num_samples, show_default=True, help="Samples, drawn in one batch.")
@option("--max-length", type=click.IntRange(1), default=SAMPLE.max_length, show_default=True, help="Most tokens per sample after the prime.")
@option("--temperature", type=click.FloatRange(0), default=SAMPLE.temperature, show_default=True,
              help="Below 1 is safer, above 1 wilder; 0 is greedy.")
@option("--top-k", type=click.IntRange(1), show_default="all", help="Pick only among the k most likely tokens.")
@option("--top-p", type=click.FloatRange(0, 1, min_open=True), show_default="1",
              help="Pick only among the most likely tokens whose probabilities reach p.")
@option("--prime", show_default="the corpus' own", help="Text every sample starts with.")
@option("--seed", type=SeedRange(), show_default="random, recorded in samples.json", help="Same seed, same samples.")
@option("--checkpoint", type=CheckpointChoice(), default=SAMPLE.checkpoint, show_default=True,
              help="Which checkpoint: the best by validation loss, the latest, or a file.")
@option("--device", type=DeviceChoice(), default=SAMPLE.device, show_default=True, help="Where to sample.")
@option("--threads", type=click.IntRange(1), show_default="$CHARMONY_THREADS, else 1 up to 2 CPUs, else CPUs - 1",
              help="CPU threads.")
@option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              show_default="a new folder under runs/RUN/samples/, and printed", help="Write the samples and samples.json here.")
@option("--render", callback=parse_names, metavar="NAME,...",
              help="Output plugins to check and render each sample with; `html` also builds a gallery of the samples.")
@option("--evaluate/--no-evaluate", default=SAMPLE.evaluate, show_default=shown(SAMPLE.evaluate),
              help="Score the samples as `charmony evaluate` does, into samples.json and one line.")
@option("--free", is_flag=True, help="Sample without the corpus' constraint, which otherwise keeps every sample valid.")
@option("--option", "options", multiple=True, callback=parse_options, metavar="KEY=VALUE",
        help="A corpus sample option, such as meter=3/4 for ABC; repeatable. See `charmony plugins`.")
@runs_dir_option
def sample_command(run_name, out_dir, runs_dir, **settings):
    """Generate samples from RUN's trained model.

    \b
    Example:
      charmony sample shakespeare --num-samples 20 --temperature 0.8 --prime "ROMEO:" --seed 1
      charmony sample bach --num-samples 20 --out samples/ --render midi,score
      charmony sample bach --render abc,score,audio,html
    """
    from charmony.pipeline.outputs.runner import summary_line
    from charmony.pipeline.sampling.stage import sample_to_folder

    run = pick_run(runs_dir, run_name)
    gallery = GALLERY_RENDER in settings["render"]
    settings["render"] = [name for name in settings["render"] if name != GALLERY_RENDER]
    samples, report, target = sample_to_folder(run, SampleConfig(**settings), out_dir)
    if out_dir is None:
        for number, item in enumerate(samples, start=1):
            click.echo(f"--- sample {number} ---")
            click.echo(item.text)
        click.echo("---")
    finished = sum(item.finished for item in samples)
    click.echo(f"{len(samples)} {report['mode']} samples (seed {report['seed']}, {finished} ended by themselves) written to {target}")
    for name, counts in report["summary"].items():
        if summary_line(name, counts):
            click.echo(summary_line(name, counts))
    if "evaluation" in report:
        from charmony.pipeline.evaluation.evaluate import evaluation_text

        click.echo(evaluation_text(report["evaluation"]))
    if gallery:
        from charmony.pipeline.run.config import GalleryConfig
        from charmony.pipeline.gallery.build import build_gallery

        made = build_gallery(run, GalleryConfig(samples=[target], out=target / "gallery"))
        click.echo(f"gallery: {made.index}")


@cli.command("evaluate", short_help="Score samples against a run's held-out and training data.")
@click.argument("paths", nargs=-1, metavar="[DIR_OR_FILES]...", type=click.Path(exists=True, path_type=Path))
@option("--run", "run_name", metavar="NAME", show_default="the run named in the folder's samples.json, else the only one",
              help="Run to score against.")
@option("--horizon", type=click.IntRange(1), show_default="the run's period", help="Series runs: steps forecast per window.")
@option("--context-steps", "context", type=click.IntRange(1), show_default="seven periods",
        help="Series runs: values read before each window.")
@option("--num-samples", type=click.IntRange(1), show_default=str(field_default(ForecastScoreConfig, "num_samples")),
        help="Series runs: forecasts per window, whose median is scored.")
@option("--seed", type=SeedRange(), show_default=str(field_default(ForecastScoreConfig, "seed")),
        help="Series runs: same seed, same figures.")
@option("--device", type=DeviceChoice(), show_default=field_default(ForecastScoreConfig, "device"), help="Series runs: where to sample.")
@runs_dir_option
def evaluate_command(paths, run_name, runs_dir, **forecast_settings):
    """Score samples against a run: validity, style against its held-out documents, copying from its training ones.

    Each folder is scored on its own, and its samples.json gets the figures; files given alone are scored together.
    Without DIR_OR_FILES, the run's newest folder of samples is scored. A series run without DIR_OR_FILES is
    scored by forecasting its held-out windows: MSE and MAE of the median forecast against persistence (the
    last value) and seasonal persistence (the last period).

    \b
    Example:
      charmony evaluate --run bach
      charmony evaluate samples/ other/sample_001.abc --run bach
      charmony evaluate --run series --horizon 24
    """
    from charmony.pipeline.evaluation.sets import evaluate_files, files_to_evaluate, latest_files, recorded_run

    run = pick_run(runs_dir, run_name or _known_run(runs_dir, recorded_run(list(paths))))
    given = {key: value for key, value in forecast_settings.items() if value is not None}
    if not paths and _is_series_run(run):
        from charmony.pipeline.series.score import score_forecasts

        click.echo(score_forecasts(run, ForecastScoreConfig(**given)).line())
        return
    if given:
        flags = {param.name: param.opts[0] for param in click.get_current_context().command.params}
        names = ", ".join(flags[key] for key in given)
        raise ConfigError(f"{names}: only for scoring a series run's forecasts (a series run and no DIR_OR_FILES)")
    sets = files_to_evaluate(list(paths), run.manifest().extension) if paths else [latest_files(run)]
    for evaluated in sets:
        text = evaluate_files(run, evaluated).text()
        click.echo(text if len(sets) == 1 else text.replace("evaluate:", f"evaluate {evaluated.label}:", 1))


def _is_series_run(run) -> bool:
    """Whether `run` is of a series corpus, as its plugin says."""
    from charmony.pipeline.run.manifest import get_run_corpus

    return get_run_corpus(run.manifest()).material == "series"


def _known_run(runs_dir: Path, name: str | None) -> str | None:
    """`name` when runs_dir holds a prepared run of that name, else None."""
    return name if name and (runs_dir / name / "manifest.json").is_file() else None


@cli.command("gallery", short_help="Build an HTML gallery of a run's samples.")
@click.argument("run_name", metavar="[RUN]", required=False)
@option("--samples", "sample_dirs", multiple=True, type=click.Path(path_type=Path), metavar="DIR",
        show_default="every sample folder of the run", help="A sample folder to show; repeatable.")
@option("--out", "out_dir", type=click.Path(path_type=Path), show_default="runs/RUN/gallery/", help="Folder to write the gallery to.")
@option("--open", "open_browser", is_flag=True, help="Open the gallery in a web browser when it is written.")
@runs_dir_option
def gallery_command(run_name, sample_dirs, out_dir, open_browser, runs_dir):
    """Build an HTML gallery of RUN's samples: scores, audio, verdicts and the training curve, offline.

    \b
    Example:
      charmony gallery bach --open
      charmony gallery bach --samples samples/ --out bach-gallery/
    """
    from charmony.pipeline.run.config import GalleryConfig
    from charmony.pipeline.gallery.build import build_gallery

    run = pick_run(runs_dir, run_name)
    made = build_gallery(run, GalleryConfig(samples=list(sample_dirs), out=out_dir))
    sets = f"{made.sets} sample folders" if made.sets != 1 else "1 sample folder"
    click.echo(f"gallery of {made.samples} samples from {sets} written to {made.index}")
    click.echo(f"open it in a browser: {made.index.resolve().as_uri()}")
    if open_browser:
        import webbrowser

        webbrowser.open(made.index.resolve().as_uri())


@cli.command("forecast", short_help="Forecast a series run: median and 10-90% band.")
@click.argument("run_name", metavar="[RUN]", required=False)
@option("--context", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE.csv",
              show_default="the end of the run's series", help="CSV file whose values to continue.")
@option("--horizon", type=click.IntRange(1), required=True, help="Steps to forecast.")
@option("--num-samples", type=click.IntRange(1), default=field_default(ForecastConfig, "num_samples"), show_default=True,
              help="Continuations drawn in one batch; the quantiles are over them.")
@option("--temperature", type=POSITIVE, default=field_default(ForecastConfig, "temperature"), show_default=True,
              help="1 samples the model's own distribution.")
@option("--seed", type=SeedRange(), show_default="random, recorded in forecast.json", help="Same seed, same forecast.")
@option("--checkpoint", type=CheckpointChoice(), default=field_default(ForecastConfig, "checkpoint"), show_default=True,
              help="Which checkpoint: the best by validation loss, the latest, or a file.")
@option("--device", type=DeviceChoice(), default=field_default(ForecastConfig, "device"), show_default=True,
              help="Where to sample.")
@option("--threads", type=click.IntRange(1), show_default="$CHARMONY_THREADS, else 1 up to 2 CPUs, else CPUs - 1",
              help="CPU threads.")
@option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for forecast.csv, forecast.svg and forecast.json.")
@runs_dir_option
def forecast_command(run_name, out_dir, runs_dir, **settings):
    """Forecast the series of RUN, a trained run of the series corpus: median and 10-90% band.

    \b
    Example:
      charmony forecast series --horizon 24 --num-samples 100 --out forecast/
      charmony forecast series --context last-week.csv --horizon 48 --seed 1 --out forecast/
    """
    from charmony.pipeline.series.forecast import forecast, write_forecast

    config = ForecastConfig(**settings)
    run = pick_run(runs_dir, run_name)
    result = forecast(run, config)
    written = write_forecast(result, out_dir)
    meta = result.metadata
    click.echo(f"forecast of {config.horizon} steps after {meta['context']} ({meta['context_values']:,} values), "
               f"{config.num_samples} samples (seed {meta['seed']}): {', '.join(str(path) for path in written)}")


FILES = click.Path(exists=True, dir_okay=False, path_type=Path)


@cli.command("check", short_help="Check files with the output plugins that check them.")
@click.argument("files", nargs=-1, required=True, type=FILES)
@option("--with", "names", callback=parse_names, metavar="NAME,...", show_default="every one that accepts the file",
              help="Checkers to use.")
def check_command(files, names):
    """Check FILES with the output plugins that check them; exit 1 if any is invalid.

    \b
    Example:
      charmony check tunes.abc poem.txt
    """
    from charmony.pipeline.outputs.runner import OutputRunner
    from charmony.pipeline.plugin.manager import get_outputs, outputs

    runner = OutputRunner(get_outputs(names) if names else list(outputs().values()), render=False)
    invalid = False
    for path in files:
        checked = runner.run(path)
        if checked.unreadable is not None:
            click.echo(f"{path}: {checked.unreadable}")
            invalid = True
            continue
        for name, result in checked.results.items():
            if "error" in result:
                click.echo(f"{path}: checker {name!r} failed: {result['error']}")
                invalid = True
        for verdict in checked.verdicts.values():
            for problem in verdict.problems:
                click.echo(f"{path}:{problem.line}:{problem.column}: {problem.message}")
            invalid |= not verdict.valid
        if not checked.verdicts and not any("error" in result for result in checked.results.values()):
            raise NoSuchTool(f"no output plugin checks files like {path}; see `charmony plugins`")
    sys.exit(1 if invalid else 0)


@cli.command("render", short_help="Render files with the named output plugins.")
@click.argument("files", nargs=-1, required=True, type=FILES)
@option("--to", "names", callback=parse_names, required=True, metavar="NAME,...", help="Output plugins to render with.")
@option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), show_default="beside each file",
              help="Folder for the results.")
def render_command(files, names, out_dir):
    """Render FILES with the named output plugins; exit 1 if anything failed or was left out.

    \b
    Example:
      charmony render tunes.abc --to midi,score --out rendered/
    """
    from charmony.pipeline.outputs.runner import OutputRunner, summary_line
    from charmony.pipeline.plugin.manager import get_outputs

    if not names:
        raise NoSuchTool("--to needs at least one output plugin name; see `charmony plugins`")
    runner = OutputRunner(get_outputs(names))
    failed = False
    for path in files:
        target = out_dir or path.parent
        rendered = runner.run(path, target)
        if rendered.unreadable is not None:
            click.echo(f"{path}: {rendered.unreadable}", err=True)
            failed = True
        for name, result in rendered.results.items():
            for written in result.get("files", []):
                click.echo(f"{path} -> {target / written}")
            for key, value in result.get("details", {}).items():
                click.echo(f"{path}: {name}: {key}: {value}")
            if "error" in result:
                click.echo(f"{path}: {name} failed: {result['error']}", err=True)
            for reason in result.get("skipped", []):
                click.echo(f"{path}: {name}: {reason}", err=True)
            failed |= "error" in result or "skipped" in result
    for name, counts in runner.summary().items():
        if counts["checked"]:
            click.echo(summary_line(name, counts))
    sys.exit(1 if failed else 0)


@cli.command("plugins", short_help="List the corpus and output plugins, or show one.")
@click.argument("name", required=False)
@option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_command(name, as_json):
    """List every corpus and output plugin, with its kind, version and the distribution it comes from;
    with NAME, show that plugin's options and recipes.

    \b
    Example:
      charmony plugins --json
      charmony plugins words
    """
    import dataclasses

    from charmony.pipeline.plugin.manager import plugin_infos

    infos = plugin_infos()
    if name is not None:
        details = plugin_details(name, infos)
        click.echo(json.dumps(details, indent=2, ensure_ascii=False) if as_json else format_details(details))
        return
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(info) for info in infos], indent=2))
        return
    rows = [("NAME", "KIND", "VERSION", "FROM", "DESCRIPTION")] + [
        (i.name, i.kind, i.version, i.origin, i.description) for i in infos
    ]
    widths = [max(len(row[c]) for row in rows) for c in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])


def plugin_details(name: str, infos) -> dict:
    """What `charmony plugins NAME` shows: the plugin's listing, and a corpus' options, sample options and recipes."""
    import dataclasses

    from charmony.pipeline.plugin.manager import corpora, outputs

    found = [info for info in infos if info.name == name]
    if not found:
        known = ", ".join(sorted(info.name for info in infos))
        raise click.ClickException(f"no plugin {name!r}; installed plugins: {known}")
    details = dataclasses.asdict(found[0])
    if found[0].kind == "corpus":
        corpus = corpora()[name]
        details.update({
            "default_source": corpus.default_source,
            "token_unit": corpus.token_unit,
            "options": dict(corpus.options),
            "sample_options": dict(getattr(corpus, "sample_options", {}) or {}),
            "recipes": {key: {"description": recipe.description, "settings": recipe.settings()}
                        for key, recipe in (corpus.recipes or {}).items()},
        })
    else:
        details["extensions"] = list(outputs()[name].extensions)
    return details


def format_details(details: dict) -> str:
    """`plugin_details` as text: a heading, then one section per kind of setting."""
    from charmony.pipeline.plugin.recipes import Recipe

    lines = [f"{details['name']}: {details['kind']} {details['version']} from {details['origin']}", details["description"]]
    if details["kind"] != "corpus":
        lines.append(f"files: {', '.join(details['extensions']) or 'any'}")
        return "\n".join(lines)
    lines += [f"default source: {details['default_source']}", f"tokens: {details['token_unit']}s"]
    sections = [
        ("prepare options (charmony prepare --option KEY=VALUE)", details["options"]),
        ("sample options (charmony sample --option KEY=VALUE)", details["sample_options"]),
        ("recipes (charmony train RUN --recipe NAME)", {
            key: f"{recipe['description']}\n{Recipe(recipe['description'], **recipe['settings']).flags()}"
            for key, recipe in details["recipes"].items()
        }),
    ]
    for heading, entries in sections:
        if not entries:
            continue
        width = max(map(len, entries))
        lines += ["", heading + ":"]
        for key, text in entries.items():
            first, *rest = text.split("\n")
            lines.append(f"  {key.ljust(width)}  {first}")
            lines += [f"  {' ' * width}  {more}" for more in rest]
    return "\n".join(lines)


def _format_warning(message, category, filename, lineno, line=None):
    if issubclass(category, (PluginWarning, CorpusWarning)):
        return f"Warning: {message}\n"
    return _original_format_warning(message, category, filename, lineno, line)


_original_format_warning = warnings.formatwarning


def main() -> None:
    """Run the CLI, with plugin warnings printed as one line each; a closed pipe (`| head`) ends it quietly."""
    warnings.formatwarning = _format_warning
    try:
        cli()
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit; point it at nothing instead.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
