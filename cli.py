"""The `charmony` command line: a thin layer over the pipeline's stage functions.

Only click and charmony's light modules are imported here: torch, numpy and music21 are imported
inside the commands that need them, so that `charmony --help`, `plugins` and `check` start fast.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import click

from charmony import __version__
from charmony.cli_options import (
    TRAIN, checkpoint_option, corpus_option, device_option, field_default, given_options, model_options, option,
    parse_names, parse_sources, run_argument, runs_dir_option, positive, schedule_options, seed_option, shown, threads_option,
)
from charmony.pipeline.run.limits import LENGTH_LIMIT, SAMPLES_LIMIT, TEMPERATURE_LIMIT, VOCAB_LIMIT, WINDOWS_LIMIT
from charmony.pipeline.run.config import (
    DEFAULT_VAL_FRACTION, ForecastConfig, ForecastScoreConfig, GalleryConfig, HarmonizeConfig, PrepareConfig, SampleConfig,
)
from charmony.pipeline.system.errors import CharmonyError, ConfigError
from charmony.pipeline.system.interrupt import INTERRUPTED_EXIT
from charmony.pipeline.system.messages import user_message
from charmony.pipeline.plugin.manager import one_line_warnings, plugin_commands
from charmony.pipeline.run.folder import known_run, named_run, pick_run, runs_dir_arguments
from charmony.pipeline.system.threads import thread_limit

SAMPLE = SampleConfig()
# The commands in the order of the work they do; commands not named here (a plugin's) come after them.
WORKFLOW = ("prepare", "train", "sample", "evaluate", "harmonize", "forecast", "gallery", "check", "render", "plugins")
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
GALLERY_RENDER = "html"  # the --render name that builds a gallery of the samples instead of naming an output plugin


class CharmonyGroup(click.Group):
    """A click group that adds plugin commands on first use, lists commands in workflow order, and turns
    charmony errors into one line."""

    _plugin_commands_loaded = False

    def _load_plugin_commands(self) -> None:
        if not self._plugin_commands_loaded:
            self._plugin_commands_loaded = True
            for name, command in plugin_commands(set(self.commands)).items():
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
        except (CharmonyError, OSError, MemoryError, RuntimeError) as error:
            message = user_message(error)
            if message is None:
                raise
            raise click.ClickException(message) from None
        except KeyboardInterrupt:  # click would say "Aborted!" and exit 1; a shell expects 130 after Ctrl-C
            click.echo(f"charmony {ctx.invoked_subcommand or ''}: interrupted".replace(" :", ":"), err=True)
            raise click.exceptions.Exit(INTERRUPTED_EXIT) from None


class NoSuchTool(click.ClickException):
    """Nothing can do what was asked for these files: exit 2, since 1 means 'checked and invalid'."""

    exit_code = 2


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
@option("--max-vocab", type=click.IntRange(1, VOCAB_LIMIT), metavar="N", show_default="the corpus' advice, else all",
              help="Keep the N most frequent tokens (besides <eod>); the rest become <unk>.")
@option("--val-fraction", type=click.FloatRange(0, 0.5), show_default=str(DEFAULT_VAL_FRACTION),
              help="Share held out for validation (series corpora: see --option holdout instead).")
@seed_option("Decides the train/validation split.", default=field_default(PrepareConfig, "seed"), show_default=True)
@corpus_option("A corpus plugin option; repeatable.")
@option("--force", is_flag=True, help="Replace a trained run's data even when its vocabulary, seed, split or options change.")
@runs_dir_option
def prepare_command(corpus, sources, run_name, max_vocab, val_fraction, seed, options, force, runs_dir):
    """Read CORPUS, build its vocabulary and write the token files of a run.

    \b
    Example:
      charmony prepare text --source poems/ --option split=blank --run poems
    """
    from charmony.pipeline.data.prepare import prepare, prepared_line

    run = named_run(runs_dir, corpus if run_name is None else run_name)
    manifest = prepare(run, PrepareConfig(corpus, list(sources), max_vocab, val_fraction, seed, options, force))
    click.echo(prepared_line(run, manifest))
    click.echo(f"next: {shlex.join(['charmony', 'train', run.name, *runs_dir_arguments(runs_dir)])}")


@cli.command("train", short_help="Train a prepared run's model.")
@run_argument
@model_options
@option("--recipe", metavar="NAME", show_default="none",
              help="Named settings of the run's corpus (see `charmony plugins CORPUS`); options given here win.")
@schedule_options
@device_option("Where to train; auto picks a GPU if there is one.", show_default=shown(TRAIN.device))
@seed_option("Seed for initialisation and dropout.", show_default=shown(TRAIN.seed))
@option("--compile/--no-compile", default=None, show_default=shown(TRAIN.compile), help="torch.compile the step around the recurrent layers.")
@threads_option("CPU threads per process.")
@option("--nproc", type=click.IntRange(1, thread_limit()), help="Train with this many processes on this machine (one per GPU), as torchrun does.")
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
    from charmony.pipeline.training.launch import TrainRequest, run_training

    if resume and restart:
        raise click.UsageError("--resume and --restart exclude each other")
    if resume and recipe:
        raise click.UsageError("--resume keeps the run's saved settings; leave out --recipe")
    forwarded = given_options(click.get_current_context(), ("nproc", "runs_dir"))
    outcome = run_training(TrainRequest(run_name, runs_dir, settings, recipe, resume, restart, nproc, forwarded))
    echo_lines(outcome.lines)
    if outcome.exit_code:
        sys.exit(outcome.exit_code)


@cli.command("sample", short_help="Generate samples from a trained run.")
@run_argument
@option("--num-samples", type=click.IntRange(1, SAMPLES_LIMIT), default=SAMPLE.num_samples, show_default=True, help="Samples, drawn in one batch.")
@option("--max-length", type=click.IntRange(1, LENGTH_LIMIT), default=SAMPLE.max_length, show_default=True, help="Most tokens per sample after the prime.")
@option("--temperature", type=click.FloatRange(0, TEMPERATURE_LIMIT), default=SAMPLE.temperature, show_default=True,
              help="Below 1 is safer, above 1 wilder; 0 is greedy.")
@option("--top-k", type=click.IntRange(1, VOCAB_LIMIT), show_default="all", help="Pick only among the k most likely tokens.")
@option("--top-p", type=click.FloatRange(0, 1, min_open=True), show_default="1",
              help="Pick only among the most likely tokens whose probabilities reach p.")
@option("--prime", show_default="the corpus' own", help="Text every sample starts with.")
@seed_option("Same seed, same samples.", show_default="random, recorded in samples.json")
@checkpoint_option(SAMPLE.checkpoint)
@device_option("Where to sample.", default=SAMPLE.device, show_default=True)
@threads_option("CPU threads.")
@option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              show_default="a new folder under runs/RUN/samples/, and printed", help="Write the samples and samples.json here.")
@option("--render", callback=parse_names, metavar="NAME,...",
              help="Output plugins to check and render each sample with; `html` also builds a gallery of the samples.")
@option("--evaluate/--no-evaluate", default=SAMPLE.evaluate, show_default=shown(SAMPLE.evaluate),
              help="Score the samples as `charmony evaluate` does, into samples.json and one line.")
@option("--free", is_flag=True, help="Sample without the corpus' constraint, which otherwise keeps every sample valid.")
@corpus_option("A corpus sample option, such as meter=3/4 for ABC; repeatable. See `charmony plugins`.")
@runs_dir_option
def sample_command(run_name, out_dir, runs_dir, **settings):
    """Generate samples from RUN's trained model.

    \b
    Example:
      charmony sample shakespeare --num-samples 20 --temperature 0.8 --prime "ROMEO:" --seed 1
      charmony sample bach --num-samples 20 --out samples/ --render midi,score
      charmony sample bach --render abc,score,audio,html
    """
    from charmony.pipeline.sampling.report import sample_lines
    from charmony.pipeline.sampling.stage import sample_to_folder

    run = pick_run(runs_dir, run_name)
    gallery = GALLERY_RENDER in settings["render"]
    settings["render"] = [name for name in settings["render"] if name != GALLERY_RENDER]
    samples, report, target = sample_to_folder(run, SampleConfig(**settings), out_dir)
    echo_lines(sample_lines(samples, report, target, show_texts=out_dir is None))
    if gallery:
        from charmony.pipeline.gallery.build import build_gallery

        made = build_gallery(run, GalleryConfig(samples=[target], out=target / "gallery"))
        click.echo(f"gallery: {made.index}")


@cli.command("harmonize", short_help="Harmonise a melody in four parts with a four-voice run.")
@click.argument("melody", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@option("--run", "run_name", metavar="NAME", show_default="the only run", help="The four-voice run to harmonise with.")
@option("--num-samples", type=click.IntRange(1, SAMPLES_LIMIT), default=field_default(HarmonizeConfig, "num_samples"),
        show_default=True, help="Harmonisations, drawn in one batch.")
@option("--max-length", type=click.IntRange(1, LENGTH_LIMIT), default=field_default(HarmonizeConfig, "max_length"),
        show_default=True, help="Most tokens per harmonisation, the melody included.")
@option("--temperature", type=click.FloatRange(0, TEMPERATURE_LIMIT), default=field_default(HarmonizeConfig, "temperature"),
        show_default=True, help="Below 1 is safer, above 1 wilder; 0 is greedy.")
@seed_option("Same seed, same harmonisations.", show_default="random, recorded in samples.json")
@checkpoint_option(field_default(HarmonizeConfig, "checkpoint"))
@device_option("Where to sample.", default=field_default(HarmonizeConfig, "device"), show_default=True)
@threads_option("CPU threads.")
@option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
        show_default="a new folder under runs/RUN/samples/", help="Write the harmonisations and samples.json here.")
@option("--render", callback=parse_names, metavar="NAME,...",
        help="Output plugins to check and render each harmonisation with; `html` also builds a gallery of them.")
@option("--evaluate/--no-evaluate", default=field_default(HarmonizeConfig, "evaluate"),
        show_default=shown(field_default(HarmonizeConfig, "evaluate")),
        help="Score the harmonisations as `charmony evaluate` does, into samples.json and one line.")
@corpus_option("A corpus sample option, such as crossing=no (no voice above the one before it); repeatable.")
@runs_dir_option
def harmonize_command(melody, run_name, out_dir, runs_dir, **settings):
    """Write four-part harmonisations of MELODY (an ABC file of one tune): the soprano is the melody, and the
    alto, tenor and bass are sampled under the run's grammar.

    \b
    Example:
      charmony harmonize tune.abc --run bach4 --num-samples 8 --seed 1 --out harmonized/ --render midi,html
      (bach4 being a four-voice run: charmony prepare bach --run bach4 --option voices=all; charmony train bach4)
    """
    from charmony.pipeline.sampling.harmonize import harmonize_to_folder
    from charmony.pipeline.sampling.report import sample_lines

    run = pick_run(runs_dir, run_name)
    gallery = GALLERY_RENDER in settings["render"]
    settings["render"] = [name for name in settings["render"] if name != GALLERY_RENDER]
    samples, report, target = harmonize_to_folder(run, HarmonizeConfig(melody=melody, **settings), out_dir)
    echo_lines(sample_lines(samples, report, target, show_texts=out_dir is None))
    if gallery:
        from charmony.pipeline.gallery.build import build_gallery

        made = build_gallery(run, GalleryConfig(samples=[target], out=target / "gallery"))
        click.echo(f"gallery: {made.index}")


@cli.command("evaluate", short_help="Score samples against a run's held-out and training data.")
@click.argument("paths", nargs=-1, metavar="[DIR_OR_FILES]...", type=click.Path(exists=True, path_type=Path))
@option("--run", "run_name", metavar="NAME", show_default="the run named in the folder's samples.json, else the only one",
              help="Run to score against.")
@option("--horizon", type=click.IntRange(1, LENGTH_LIMIT), show_default="the run's first period", help="Series runs: steps forecast from each origin.")
@option("--origins", type=click.IntRange(1, WINDOWS_LIMIT), show_default="one every --horizon steps",
        help="Series runs: forecast origins, spread evenly over the held-out values.")
@option("--num-samples", type=click.IntRange(1, SAMPLES_LIMIT), show_default=str(field_default(ForecastScoreConfig, "num_samples")),
        help="Series runs: forecasts per origin; their median is the point forecast.")
@corpus_option("Series runs: period=24,168 sets the seasonal naive baselines (MASE is scaled by the first).")
@option("--baseline", "baselines", callback=parse_names, metavar="NAME,...", expose_value=True,
        help="Series runs: statsforecast methods to score too (ets, arima, theta, ces, mstl), if it is installed.")
@checkpoint_option(field_default(ForecastScoreConfig, "checkpoint"), "Series runs: which checkpoint; best was chosen on the validation part before the held-out values.")
@option("--json", "as_json", is_flag=True, help="Series runs: print the figures as JSON.")
@seed_option("Series runs: same seed, same figures.", show_default=str(field_default(ForecastScoreConfig, "seed")))
@device_option("Series runs: where to sample.", show_default=field_default(ForecastScoreConfig, "device"))
@runs_dir_option
def evaluate_command(paths, run_name, runs_dir, options, baselines, as_json, checkpoint, **forecast_settings):
    """Score samples against a run: validity, style against its held-out documents, copying from its training ones.

    Each folder is scored on its own, and its samples.json gets the figures; files given alone are scored together.
    Without DIR_OR_FILES, the run's newest folder of samples is scored. A series run without DIR_OR_FILES is
    scored by rolling-origin forecasts over its held-out values, each after the context the model was trained to read: MAE,
    MSE, MASE, the 80% interval's coverage and CRPS, in the series' own units, beside persistence and the
    seasonal naive forecast at each period (see docs/corpora.md, "Time series and forecast").

    \b
    Example:
      charmony evaluate --run bach
      charmony evaluate samples/ other/sample_001.abc --run bach
      charmony evaluate --run series --horizon 24 --option period=24,168 --json
    """
    from charmony.pipeline.evaluation.sets import evaluate_files, files_to_evaluate, latest_files, recorded_run

    run = pick_run(runs_dir, run_name or known_run(runs_dir, recorded_run(list(paths))))
    given = {key: value for key, value in forecast_settings.items() if value is not None}
    series = {"--option": options, "--baseline": baselines, "--json": as_json,
              "--checkpoint": checkpoint != field_default(ForecastScoreConfig, "checkpoint")}
    if not paths and _is_series_run(run):
        from charmony.pipeline.series.score import score_forecasts
        from charmony.pipeline.series.settings import parse_periods

        unknown = sorted(set(options) - {"period"})
        if unknown:
            raise ConfigError(f"--option {unknown[0]}: evaluate takes only --option period=... for a series run")
        periods = parse_periods(options) if "period" in options else ()
        config = ForecastScoreConfig(**given, periods=periods, baselines=tuple(baselines), checkpoint=checkpoint)
        score = score_forecasts(run, config)
        click.echo(json.dumps(score.to_json(), indent=2) if as_json else score.text())
        return
    named = [flag for flag, value in series.items() if value]
    if given or named:
        flags = {param.name: param.opts[0] for param in click.get_current_context().command.params}
        names = ", ".join([flags[key] for key in given] + named)
        raise ConfigError(f"{names}: only for scoring a series run's forecasts (a series run and no DIR_OR_FILES)")
    sets = files_to_evaluate(list(paths), run.manifest().extension) if paths else [latest_files(run)]
    for evaluated in sets:
        text = evaluate_files(run, evaluated).text()
        click.echo(text if len(sets) == 1 else text.replace("evaluate:", f"evaluate {evaluated.label}:", 1))


def _is_series_run(run) -> bool:
    """Whether `run` is of a series corpus, as its plugin says."""
    from charmony.pipeline.run.manifest import get_run_corpus

    return get_run_corpus(run.manifest()).material == "series"


@cli.command("gallery", short_help="Build an HTML gallery of a run's samples.")
@run_argument
@option("--samples", "sample_dirs", multiple=True, type=click.Path(path_type=Path), metavar="DIR",
        show_default="every sample folder of the run", help="A sample folder to show; repeatable.")
@option("--out", "out_dir", type=click.Path(path_type=Path), show_default="runs/RUN/gallery/", help="Folder to write the gallery to.")
@option("--open", "open_browser", is_flag=True, help="Open the gallery in a web browser when it is written, where one is available.")
@option("--render/--no-render", default=True, show_default=True,
        help="Render the scores and audio a sample set lacks into the gallery; --no-render shows only what `sample --render` made.")
@runs_dir_option
def gallery_command(run_name, sample_dirs, out_dir, open_browser, render, runs_dir):
    """Build an HTML gallery of RUN's samples: scores, audio, verdicts and the training curve, offline.

    \b
    Example:
      charmony gallery bach --open
      charmony gallery bach --samples samples/ --out bach-gallery/
    """
    from charmony.pipeline.gallery.build import build_gallery

    run = pick_run(runs_dir, run_name)
    made = build_gallery(run, GalleryConfig(samples=list(sample_dirs), out=out_dir, render=render))
    echo_lines(made.lines())
    if open_browser:
        from charmony.pipeline.gallery.browser import open_in_browser

        if not open_in_browser(made.index):
            click.echo("no graphical web browser is available here; open the address above in one")


@cli.command("forecast", short_help="Forecast a series run: median and 10-90% band.")
@run_argument
@option("--context", "contexts", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE.csv",
              show_default="the end of the run's series", help="CSV file whose values to continue; repeatable, forecast in one batch.")
@option("--horizon", type=click.IntRange(1, LENGTH_LIMIT), required=True, help="Steps to forecast.")
@option("--num-samples", type=click.IntRange(1, SAMPLES_LIMIT), default=field_default(ForecastConfig, "num_samples"), show_default=True,
              help="Continuations drawn in one batch; the quantiles are over them.")
@option("--temperature", type=positive(TEMPERATURE_LIMIT), default=field_default(ForecastConfig, "temperature"), show_default=True,
              help="1 samples the model's own distribution.")
@seed_option("Same seed, same forecast.", show_default="random, recorded in forecast.json")
@checkpoint_option(field_default(ForecastConfig, "checkpoint"))
@device_option("Where to sample.", default=field_default(ForecastConfig, "device"), show_default=True)
@threads_option("CPU threads.")
@option("--samples-csv", is_flag=True, help="Put every sample in forecast.csv too, a column each.")
@option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for forecast.csv, forecast.svg and forecast.json (a folder per context file for several).")
@runs_dir_option
def forecast_command(run_name, out_dir, runs_dir, samples_csv, **settings):
    """Forecast the series of RUN, a trained run of the series corpus: median and 10-90% band.

    \b
    Example:
      charmony forecast series --horizon 24 --num-samples 100 --out forecast/
      charmony forecast series --context last-week.csv --horizon 48 --seed 1 --out forecast/
      charmony forecast series --context a.csv --context b.csv --horizon 24 --samples-csv --out forecasts/
    """
    from charmony.pipeline.series.forecast import forecast, write_forecasts

    config = ForecastConfig(**settings)
    run = pick_run(runs_dir, run_name)
    results = forecast(run, config)
    written = write_forecasts(results, config.contexts, out_dir, samples_csv)
    for result in results:
        meta = result.metadata
        click.echo(f"forecast of {config.horizon} steps after {meta['context']} ({meta['context_values']:,} values), "
                   f"{config.num_samples} samples (seed {meta['seed']})")
    click.echo(f"wrote {', '.join(str(path) for path in written)}")


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
    from charmony.pipeline.outputs.report import check_files

    invalid = False
    for report in check_files(files, names):
        echo_lines(report.lines)
        invalid |= report.failed
        if not report.handled:
            raise NoSuchTool(f"no output plugin checks files like {report.path}; see `charmony plugins`")
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
    from charmony.pipeline.outputs.report import render_files

    if not names:
        raise NoSuchTool("--to needs at least one output plugin name; see `charmony plugins`")
    failed = False
    for report in render_files(files, names, out_dir):
        echo_lines(report.lines)
        failed |= report.failed
    sys.exit(1 if failed else 0)


def echo_lines(lines: list[str] | list[tuple[str, bool]]) -> None:
    """Print each line; a line given as (line, True) goes to stderr."""
    for line in lines:
        text, error = line if isinstance(line, tuple) else (line, False)
        click.echo(text, err=error)


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
    from charmony.pipeline.plugin.describe import format_details, plugin_details, plugin_list, plugin_table
    from charmony.pipeline.plugin.manager import plugin_infos

    infos = plugin_infos()
    if name is not None:
        details = plugin_details(name, infos)
        click.echo(json.dumps(details, indent=2, ensure_ascii=False) if as_json else format_details(details))
    elif as_json:
        click.echo(json.dumps(plugin_list(infos), indent=2))
    else:
        echo_lines(plugin_table(infos))


def main() -> None:
    """Run the CLI, with plugin warnings printed as one line each; a closed pipe (`| head`) ends it quietly."""
    one_line_warnings()
    try:
        cli()
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit; point it at nothing instead.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
