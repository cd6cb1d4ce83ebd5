"""The `charmony` command line: a thin layer over the pipeline's stage functions."""

from __future__ import annotations

import dataclasses
import json
import sys
import warnings
from pathlib import Path

import click
import torch

from charmony import __version__
from charmony.pipeline.corpus import CorpusWarning
from charmony.pipeline.device import resolve_device
from charmony.pipeline.distributed import INTERRUPTED_EXIT, LaunchInterrupted, World, check_gpus, launch
from charmony.pipeline.errors import SEED_LIMIT, CharmonyError, ConfigError, RunError
from charmony.pipeline.plugins import PluginWarning, call_each, get_outputs, get_plugin_manager, outputs, plugin_infos
from charmony.pipeline.prepare import PrepareConfig, prepare
from charmony.pipeline.rendering import apply_outputs, summarise, summary_line
from charmony.pipeline.runs import RUNS_ENV, Run, find_run, named_run
from charmony.pipeline.sample import SampleConfig, new_samples_dir, sample, write_samples
from charmony.pipeline.sources import read_text
from charmony.pipeline.train import TrainConfig, plan_training, resumable_checkpoint, resume_config, train

TRAIN_DEFAULTS = TrainConfig()
SAMPLE_DEFAULTS = SampleConfig()


class CharmonyGroup(click.Group):
    """A click group that adds plugin commands on first use and turns charmony errors into one line."""

    _plugin_commands_loaded = False

    def _load_plugin_commands(self) -> None:
        if self._plugin_commands_loaded:
            return
        self._plugin_commands_loaded = True
        plugin_commands = click.Group()
        call_each(get_plugin_manager(), "register_commands", lambda plugin: {"cli": plugin_commands})
        for name, command in plugin_commands.commands.items():
            if name in self.commands:
                warnings.warn(f"a plugin's command {name!r} is skipped: charmony already has a command of that name", PluginWarning)
            else:
                self.add_command(command, name)

    def list_commands(self, ctx):
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        self._load_plugin_commands()
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CharmonyError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:  # an unwritable --out, a full disk: the system's own words say it best
            where = f"{error.filename}: " if error.filename else ""
            raise click.ClickException(f"{where}{error.strerror or error}") from None
        except (MemoryError, torch.OutOfMemoryError) as error:
            raise click.ClickException(out_of_memory(error)) from None
        except RuntimeError as error:
            if "allocate" not in str(error) and "out of memory" not in str(error):
                raise
            raise click.ClickException(out_of_memory(error)) from None


def out_of_memory(error: BaseException) -> str:
    """The one-line message for running out of memory."""
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return (
        f"out of memory ({first[:120]}); lower --batch-size, --seq-len, --hidden or --layers for training, "
        "--num-samples or --max-length for sampling; checkpoints already written are intact"
    )


class NoSuchTool(click.ClickException):
    """Nothing can do what was asked for these files: exit 2, since 1 means 'checked and invalid'."""

    exit_code = 2


def runs_dir_option(command):
    """--runs-dir, shared by every command that reads or writes runs."""
    return click.option(
        "--runs-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=RUNS_ENV,
        default="runs",
        show_default=True,
        help=f"Folder holding one folder per run (or ${RUNS_ENV}).",
    )(command)


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


def pick_run(runs_dir: Path, name: str | None) -> Run:
    """The named run, or the only prepared run when no name is given."""
    if name is None:
        prepared = sorted(path.parent.name for path in runs_dir.glob("*/manifest.json"))
        if len(prepared) != 1:
            found = f"runs in {runs_dir}: {', '.join(prepared)}" if prepared else f"there is none in {runs_dir}; run `charmony prepare CORPUS`"
            raise RunError(f"name the RUN to use; {found}")
        name = prepared[0]
    return find_run(runs_dir, name)


def default_note(config, field: str) -> str:
    """The `[default: …]` note of an option whose default lives in a config dataclass."""
    return f"[default: {getattr(config, field)}]"


@click.group(cls=CharmonyGroup)
@click.version_option(__version__, prog_name="charmony")
def cli():
    """Train character-level recurrent models on text and music, and sample from them."""


@cli.command("prepare")
@click.argument("corpus")
@click.option("--source", "sources", multiple=True, callback=parse_sources, help="File or directory to read; repeatable. Default: the corpus' own.")
@click.option("--run", "run_name", help="Run name.  [default: the corpus name]")
@click.option("--max-vocab", type=int, help="Keep this many most frequent tokens (besides <eod>); the rest become <unk>.")
@click.option("--val-fraction", type=float, default=0.1, show_default=True, help="Share held out for validation.")
@click.option("--seed", type=click.IntRange(0, SEED_LIMIT - 1), default=1337, show_default=True, help="Decides the train/validation split.")
@click.option("--option", "options", multiple=True, callback=parse_options, metavar="KEY=VALUE", help="A corpus plugin option; repeatable.")
@click.option("--force", is_flag=True, help="Replace a trained run's data even when its vocabulary, seed, split or options change.")
@runs_dir_option
def prepare_command(corpus, sources, run_name, max_vocab, val_fraction, seed, options, force, runs_dir):
    """Read CORPUS, build its vocabulary and write the token files of a run."""
    config = PrepareConfig(corpus, list(sources), max_vocab, val_fraction, seed, options, force)
    run = named_run(runs_dir, run_name or corpus)
    manifest = prepare(run, config)
    docs, tokens = manifest["documents"], manifest["tokens"]
    click.echo(
        f"prepared run {run.name!r} in {run.dir}: corpus {manifest['corpus']}, "
        f"{docs['train']:,} train / {docs['val']:,} val documents (split by {manifest['split']}), "
        f"{tokens['train']:,} train / {tokens['val']:,} val tokens, vocabulary of {manifest['vocab_size']} tokens"
    )
    click.echo(f"next: charmony train {run.name}" + (f" --runs-dir {runs_dir}" if runs_dir != Path("runs") else ""))


@cli.command("train")
@click.argument("run_name", metavar="[RUN]", required=False)
@click.option("--layers", type=int, help=f"Stacked recurrent layers. {default_note(TRAIN_DEFAULTS, 'layers')}")
@click.option("--hidden", type=int, help=f"Units per layer. {default_note(TRAIN_DEFAULTS, 'hidden')}")
@click.option("--embedding", type=int, help="Embedding size; 0 for one-hot.  [default: 64 if the corpus recommends one, else 0]")
@click.option("--cell", type=click.Choice(["lstm", "gru", "rnn"]), help=f"Recurrent cell. {default_note(TRAIN_DEFAULTS, 'cell')}")
@click.option("--dropout", type=float, help=f"Dropout between layers. {default_note(TRAIN_DEFAULTS, 'dropout')}")
@click.option("--tie-weights/--no-tie-weights", default=None, help="Share embedding and output weights (needs --embedding = --hidden).")
@click.option("--seq-len", type=int, help=f"Time steps per batch. {default_note(TRAIN_DEFAULTS, 'seq_len')}")
@click.option("--batch-size", type=int, help=f"Parallel streams. {default_note(TRAIN_DEFAULTS, 'batch_size')}")
@click.option("--lr", type=float, help=f"Peak learning rate. {default_note(TRAIN_DEFAULTS, 'lr')}")
@click.option("--warmup-steps", type=int, help=f"Linear warm-up steps, then cosine decay. {default_note(TRAIN_DEFAULTS, 'warmup_steps')}")
@click.option("--weight-decay", type=float, help=f"AdamW weight decay of weight matrices. {default_note(TRAIN_DEFAULTS, 'weight_decay')}")
@click.option("--grad-clip", type=float, help=f"Largest global gradient norm. {default_note(TRAIN_DEFAULTS, 'grad_clip')}")
@click.option("--max-steps", type=int, help=f"Steps to train to. {default_note(TRAIN_DEFAULTS, 'max_steps')}")
@click.option("--max-minutes", type=float, help="Stop after this many minutes of wall time.")
@click.option("--eval-every", type=int, help=f"Steps between validations. {default_note(TRAIN_DEFAULTS, 'eval_every')}")
@click.option("--save-every", type=int, help=f"Steps between checkpoints. {default_note(TRAIN_DEFAULTS, 'save_every')}")
@click.option("--log-every", type=int, help=f"Steps between metrics lines. {default_note(TRAIN_DEFAULTS, 'log_every')}")
@click.option("--device", help=f"auto, cpu or cuda. {default_note(TRAIN_DEFAULTS, 'device')}")
@click.option("--seed", type=click.IntRange(0, SEED_LIMIT - 1), help=f"Seed for initialisation and dropout. {default_note(TRAIN_DEFAULTS, 'seed')}")
@click.option("--compile/--no-compile", default=None, help="torch.compile the step around the recurrent layers.  [default: no]")
@click.option("--nproc", type=click.IntRange(1), help="Train with this many processes on this machine (one per GPU), as torchrun does.")
@click.option("--resume", is_flag=True, help="Continue from the run's latest checkpoint with its saved settings.")
@click.option("--restart", is_flag=True, help="Discard the run's checkpoints and train from step 0.")
@runs_dir_option
def train_command(run_name, resume, restart, nproc, runs_dir, **settings):
    """Train the model of RUN, a prepared run (with --nproc N, or under torchrun, in N processes)."""
    if resume and restart:
        raise click.UsageError("--resume and --restart exclude each other")
    world = World.from_environment()
    if nproc and world.size > 1:
        raise ConfigError("--nproc launches processes itself; under torchrun, leave it out")
    processes = nproc or world.size
    run = pick_run(runs_dir, run_name)
    given = {key: value for key, value in settings.items() if value is not None}
    checkpoint = resumable_checkpoint(run) if resume else None
    config = resume_config(checkpoint, given, processes) if resume else dataclasses.replace(TRAIN_DEFAULTS, **given)
    if processes > world.size:
        check_gpus(processes, resolve_device(config.device))
        plan_training(run, config, processes, resume, restart, checkpoint)  # fail here, before any process starts
        try:
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
        click.echo(
            f"trained run {run.name!r} to step {result.step}; best validation loss "
            f"{result.best_val_loss:.4f} nats/token, checkpoint {run.best_path}"
        )


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


@cli.command("sample")
@click.argument("run_name", metavar="[RUN]", required=False)
@click.option("--num-samples", type=int, default=SAMPLE_DEFAULTS.num_samples, show_default=True, help="Samples, drawn in one batch.")
@click.option("--max-length", type=int, default=SAMPLE_DEFAULTS.max_length, show_default=True, help="Most tokens per sample after the prime.")
@click.option("--temperature", type=float, default=SAMPLE_DEFAULTS.temperature, show_default=True, help="Below 1 is safer, above 1 wilder; 0 is greedy.")
@click.option("--top-k", type=int, help="Pick only among the k most likely tokens.")
@click.option("--top-p", type=float, help="Pick only among the most likely tokens whose probabilities reach p.")
@click.option("--prime", help="Text every sample starts with.  [default: the corpus' own]")
@click.option("--seed", type=click.IntRange(0, SEED_LIMIT - 1), help="Same seed, same samples.  [default: random, recorded in samples.json]")
@click.option("--checkpoint", default=SAMPLE_DEFAULTS.checkpoint, show_default=True, help="best, latest, or a checkpoint file.")
@click.option("--device", default=SAMPLE_DEFAULTS.device, show_default=True, help="auto, cpu or cuda.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Write the samples and samples.json here instead of printing them.")
@click.option("--render", callback=parse_names, metavar="NAME,...", help="Output plugins to check and render each sample with.")
@click.option("--free", is_flag=True, help="Sample without the corpus' constraint, which otherwise keeps every sample valid.")
@click.option("--option", "options", multiple=True, callback=parse_options, metavar="KEY=VALUE",
              help="A corpus sample option, such as meter=3/4 for ABC; repeatable. See `charmony plugins`.")
@runs_dir_option
def sample_command(run_name, out_dir, runs_dir, **settings):
    """Generate samples from RUN's trained model."""
    run = pick_run(runs_dir, run_name)
    config = SampleConfig(**settings)
    samples, metadata = sample(run, config)
    target = out_dir or new_samples_dir(run, metadata["step"], metadata["seed"])
    report = write_samples(samples, metadata, target, run.manifest()["extension"], metadata["outputs"], run.profile())
    if out_dir is None:
        for number, item in enumerate(samples):
            click.echo(f"--- sample {number} ---")
            click.echo(item.text)
        click.echo("---")
    finished = sum(item.finished for item in samples)
    click.echo(f"{len(samples)} {metadata['mode']} samples (seed {metadata['seed']}, {finished} ended by themselves) written to {target}")
    for name, counts in report["summary"].items():
        if summary_line(name, counts):
            click.echo(summary_line(name, counts))


@cli.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--with", "names", callback=parse_names, metavar="NAME,...", help="Checkers to use.  [default: every one that accepts the file]")
def check_command(files, names):
    """Check FILES with the output plugins that check them; exit 1 if any is invalid."""
    checkers = get_outputs(names) if names else list(outputs().values())
    invalid = False
    for path in files:
        text = read_text(path)
        checked = False
        for plugin in (p for p in checkers if p.accepts(path)):
            try:
                verdict = plugin.check(text)
            except Exception as error:  # a failing checker marks the file, and the others still run
                click.echo(f"{path}: checker {plugin.name!r} failed: {type(error).__name__}: {error}")
                invalid = checked = True
                continue
            if verdict is None:
                continue
            checked = True
            for problem in verdict.problems:
                click.echo(f"{path}:{problem.line}:{problem.column}: {problem.message}")
            invalid |= not verdict.valid
        if not checked:
            raise NoSuchTool(f"no output plugin checks files like {path}; see `charmony plugins`")
    sys.exit(1 if invalid else 0)


@cli.command("render")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "names", callback=parse_names, required=True, metavar="NAME,...", help="Output plugins to render with.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Folder for the results.  [default: beside each file]")
def render_command(files, names, out_dir):
    """Render FILES with the named output plugins."""
    if not names:
        raise NoSuchTool("--to needs at least one output plugin name; see `charmony plugins`")
    plugins = get_outputs(names)
    per_file = []
    for path in files:
        target = out_dir or path.parent
        target.mkdir(parents=True, exist_ok=True)
        results = apply_outputs(plugins, path, target)
        per_file.append(results)
        for name, result in results.items():
            for written in result.get("files", []):
                click.echo(f"{path} -> {target / written}")
            if "error" in result:
                click.echo(f"{path}: {name} failed: {result['error']}", err=True)
            for reason in result.get("skipped", []):
                click.echo(f"{path}: {name}: {reason}", err=True)
    for name, counts in summarise(per_file, plugins).items():
        if counts["checked"]:
            click.echo(summary_line(name, counts))
    sys.exit(1 if any("error" in r or "skipped" in r for results in per_file for r in results.values()) else 0)


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_command(as_json):
    """List every corpus and output plugin."""
    infos = plugin_infos()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(info) for info in infos], indent=2))
        return
    rows = [("NAME", "KIND", "VERSION", "FROM", "DESCRIPTION")] + [
        (i.name, i.kind, i.version, i.origin, i.description) for i in infos
    ]
    widths = [max(len(row[c]) for row in rows) for c in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])


def _format_warning(message, category, filename, lineno, line=None):
    if issubclass(category, (PluginWarning, CorpusWarning)):
        return f"Warning: {message}\n"
    return _original_format_warning(message, category, filename, lineno, line)


_original_format_warning = warnings.formatwarning


def main() -> None:
    """Run the CLI, with plugin warnings printed as one line each."""
    warnings.formatwarning = _format_warning
    cli()
