import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from charmony import __version__
from charmony.corpora.text import TextCorpus
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.output import OutputPlugin
from charmony.pipeline.plugin.verdict import Problem, Verdict
from assertions import assert_user_error

TINY = ["--layers", "1", "--hidden", "32", "--embedding", "16", "--seq-len", "16", "--batch-size", "8",
        "--lr", "0.01", "--eval-every", "20", "--device", "cpu"]


def test_train_with_patience_says_where_and_why_it_stopped(invoke, rhymes_file, runs_dir):
    assert invoke("prepare", "text", "--source", rhymes_file, "--option", "split=blank", "--run", "rhymes",
                  "--runs-dir", runs_dir).exit_code == 0
    refused = invoke("train", "rhymes", "--runs-dir", runs_dir, "--patience", "0", *TINY)
    assert refused.exit_code != 0 and "--patience" in refused.output and "Traceback" not in refused.output
    assert not (runs_dir / "rhymes" / "checkpoint.pt").exists()
    trained = invoke("train", "rhymes", "--runs-dir", runs_dir, "--max-steps", "600", *TINY, "--eval-every", "5",
                     "--patience", "3")
    assert trained.exit_code == 0, trained.output
    step = int(re.search(r"to step (\d+) \(stopped early: the last 3 validations bettered no best, --patience\)",
                         trained.output).group(1))
    metrics = [json.loads(line) for line in (runs_dir / "rhymes" / "metrics.jsonl").read_text().splitlines()]
    validated = [line["val_loss"] for line in metrics if "val_loss" in line]
    assert step < 600 and metrics[-1]["step"] == step
    assert min(validated[-3:]) >= min(validated[:-3]), "the last three bettered no best"


def test_prepare_train_sample_end_to_end(invoke, rhymes_file, runs_dir, tmp_path):
    prepared = invoke("prepare", "text", "--source", rhymes_file, "--option", "split=blank",
                      "--run", "rhymes", "--runs-dir", runs_dir)
    assert prepared.exit_code == 0, prepared.output
    assert "54 train / 6 val documents" in prepared.output
    trained = invoke("train", "rhymes", "--runs-dir", runs_dir, "--max-steps", "40", *TINY)
    assert trained.exit_code == 0, trained.output
    assert "best validation loss" in trained.output
    metrics = [json.loads(line) for line in (runs_dir / "rhymes" / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 40 and "val_bpc" in metrics[-1]

    out = tmp_path / "samples"
    sampled = invoke("sample", "--runs-dir", runs_dir, "--num-samples", "5", "--max-length", "60",
                     "--seed", "4", "--top-k", "10", "--out", out)
    assert sampled.exit_code == 0, sampled.output
    assert sorted(p.name for p in out.iterdir()) == [f"sample_00{i}.txt" for i in range(1, 6)] + ["samples.json"]
    report = json.loads((out / "samples.json").read_text())
    assert report["seed"] == 4 and report["top_k"] == 10 and report["step"] == 40

    printed = invoke("sample", "rhymes", "--runs-dir", runs_dir, "--num-samples", "5", "--seed", "4",
                     "--max-length", "60", "--top-k", "10")
    assert printed.exit_code == 0
    assert re.findall(r"^--- sample (\d+) ---$", printed.output, re.M) == ["1", "2", "3", "4", "5"]
    shown = re.split(r"--- sample \d+ ---\n", printed.output.split("\n---\n")[0])[1:]
    assert [text.removesuffix("\n") for text in shown] == [(out / f"sample_00{i}.txt").read_text() for i in range(1, 6)]
    assert (runs_dir / "rhymes" / "samples" / "step000040-seed4" / "samples.json").exists()


def test_train_resume_from_the_cli_extends_the_run(invoke, rhymes_file, runs_dir):
    invoke("prepare", "text", "--source", rhymes_file, "--runs-dir", runs_dir)
    assert invoke("train", "--runs-dir", runs_dir, "--max-steps", "10", *TINY).exit_code == 0
    metrics = runs_dir / "text" / "metrics.jsonl"
    first_session = metrics.read_text()
    resumed = invoke("train", "--runs-dir", runs_dir, "--resume", "--max-steps", "20", "--grad-clip", "2.5")
    assert resumed.exit_code == 0, resumed.output
    assert "to step 20" in resumed.output
    # Training from scratch to 20 steps would have logged step 10 with another learning rate.
    assert metrics.read_text().startswith(first_session)
    assert [json.loads(line)["step"] for line in metrics.read_text().splitlines()] == [10, 20]
    checkpoint = torch.load(runs_dir / "text" / "checkpoint.pt", weights_only=True)
    assert checkpoint["train_config"]["model"]["hidden"] == 32, "resume keeps the saved settings"
    assert checkpoint["train_config"]["grad_clip"] == 2.5, "and takes the ones given again"


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "charmony", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"charmony, version {__version__}"


class Parens(OutputPlugin):
    """Checks that brackets balance, and renders an upper-case copy."""

    name = "parens"
    description = "Balanced brackets."
    extensions = (".txt",)

    def check(self, text):
        problems, depth = [], 0
        for number, line in enumerate(text.splitlines(), 1):
            for column, char in enumerate(line, 1):
                depth += {"(": 1, ")": -1}.get(char, 0)
                if depth < 0:
                    problems.append(Problem(number, column, "')' closes nothing"))
                    depth = 0
        return Verdict(valid=not problems, problems=problems, details={"depth": depth})

    def render(self, path, out_dir):
        target = out_dir / (path.stem + ".upper")
        target.write_text(path.read_text().upper())
        return [target]


class ParensPlugin:
    @hookimpl
    def register_outputs(self, register):
        register(Parens())


def test_check_prints_file_line_column_and_exits_1_on_problems(invoke, register_plugin, tmp_path):
    register_plugin(ParensPlugin(), "parens-plugin")
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("(fine)\n")
    bad.write_text("ok\nno) and no)\n")
    assert invoke("check", good).exit_code == 0
    result = invoke("check", good, bad)
    assert result.exit_code == 1
    assert result.output.splitlines() == [f"{bad}:2:3: ')' closes nothing", f"{bad}:2:11: ')' closes nothing"]
    assert_user_error(invoke("check", tmp_path / "good.txt", "--with", "nope"), "unknown output plugin 'nope'")


def test_render_and_sample_render_run_output_plugins(invoke, register_plugin, trained_run, copy_of, tmp_path):
    register_plugin(ParensPlugin(), "parens-plugin")
    source = tmp_path / "mine.txt"
    source.write_text("hello (world)")
    rendered = invoke("render", source, "--to", "parens", "--out", tmp_path / "r")
    assert rendered.exit_code == 0, rendered.output
    assert (tmp_path / "r" / "mine.upper").read_text() == "HELLO (WORLD)"
    assert "parens: 1/1 valid" in rendered.output

    run = copy_of(trained_run)
    out = tmp_path / "s"
    result = invoke("sample", run.name, "--runs-dir", run.dir.parent, "--num-samples", "4", "--seed", "1",
                    "--max-length", "40", "--out", out, "--render", "parens")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "samples.json").read_text())
    assert report["summary"]["parens"]["checked"] == 4
    assert f"parens: {report['summary']['parens']['valid']}/4 valid" in result.output
    first = report["samples"][0]["outputs"]["parens"]
    assert first["files"] == ["sample_001.upper"] and "valid" in first["verdict"]
    assert (out / "sample_001.upper").read_text() == (out / "sample_001.txt").read_text().upper()


# Bad input: one clear line, a non-zero exit, no traceback.

def test_missing_source(invoke, runs_dir):
    assert_user_error(invoke("prepare", "text", "--source", "no/such/file.txt", "--runs-dir", runs_dir),
                      "source no/such/file.txt does not exist")


def test_empty_corpus(invoke, runs_dir, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "blank.txt").write_text("\n\n")
    assert_user_error(invoke("prepare", "text", "--source", tmp_path / "empty", "--runs-dir", runs_dir), "found no text")


def test_binary_file(invoke, runs_dir, tmp_path):
    (tmp_path / "a.out").write_bytes(b"\x7fELF\x00\x01")
    assert_user_error(invoke("prepare", "text", "--source", tmp_path / "a.out", "--runs-dir", runs_dir),
                      "a.out: binary file (NUL byte at offset 4)")


def test_unknown_corpus_and_unknown_run(invoke, runs_dir):
    assert_user_error(invoke("prepare", "novels", "--runs-dir", runs_dir), "unknown corpus 'novels'", "text")
    assert_user_error(invoke("train", "ghost", "--runs-dir", runs_dir), "no run 'ghost'")
    assert_user_error(invoke("sample", "ghost", "--runs-dir", runs_dir), "no run 'ghost'")


def test_train_before_prepare(invoke, runs_dir):
    (runs_dir / "half").mkdir(parents=True)
    assert_user_error(invoke("train", "half", "--runs-dir", runs_dir), "is not prepared", "charmony prepare")


def test_corpus_smaller_than_one_batch(invoke, runs_dir, tmp_path):
    (tmp_path / "short.txt").write_text("too short to train on")
    invoke("prepare", "text", "--source", tmp_path / "short.txt", "--val-fraction", "0", "--runs-dir", runs_dir)
    assert_user_error(invoke("train", "text", "--runs-dir", runs_dir, "--batch-size", "4", "--seq-len", "10"),
                      "has 22 tokens", "needs at least 44")


def test_prime_outside_the_vocabulary(invoke, trained_run):
    result = invoke("sample", "rhymes", "--runs-dir", trained_run.dir.parent, "--prime", "Quixote")
    assert_user_error(result, "not in the vocabulary: 'Q', 'x'")


def test_checkpoint_with_another_vocabulary(invoke, trained_run, copy_of, tmp_path):
    run = copy_of(trained_run)
    (tmp_path / "other.txt").write_text("ABCDEFGHIJKLMNOP " * 100)
    again = ("prepare", "text", "--source", tmp_path / "other.txt", "--run", run.name, "--runs-dir", run.dir.parent)
    assert_user_error(invoke(*again), "has checkpoints trained on another vocabulary", "--force")
    assert invoke(*again, "--force").exit_code == 0
    assert_user_error(invoke("sample", run.name, "--runs-dir", run.dir.parent), "different vocabulary")


class LaidOutText(TextCorpus):
    """Text a run may name a layout of (the same documents either way, so that only the layout tells runs apart)."""

    name = "laid-out"
    options = {**TextCorpus.options, "layout": "lines or verses"}

    def documents(self, sources, options):
        return super().documents(sources, {key: value for key, value in options.items() if key != "layout"})

    def layout(self, options):
        return options.get("layout", "lines")

    def finish(self, text, sample):
        return f"layout {sample.layout}\n{text}"


class LaidOutPlugin:
    @hookimpl
    def register_corpora(self, register):
        register(LaidOutText())


def test_a_checkpoint_is_refused_for_a_run_prepared_in_another_layout(invoke, register_plugin, rhymes_file, runs_dir, tmp_path):
    register_plugin(LaidOutPlugin(), "laid-out-plugin")

    def prepare_run(name: str, layout: str, *more: str):
        return invoke("prepare", "laid-out", "--source", rhymes_file, "--option", "split=blank", "--option", f"layout={layout}",
                      "--run", name, "--runs-dir", runs_dir, *more)

    assert prepare_run("lines", "lines").exit_code == 0 and prepare_run("verses", "verses").exit_code == 0
    trained = invoke("train", "lines", "--runs-dir", runs_dir, "--max-steps", "20", *TINY)
    assert trained.exit_code == 0, trained.output
    lines, verses = runs_dir / "lines", runs_dir / "verses"
    assert json.loads((lines / "manifest.json").read_text())["layout"] == "lines"
    assert json.loads((verses / "manifest.json").read_text())["vocab_sha256"] == json.loads((lines / "manifest.json").read_text())["vocab_sha256"]
    out = tmp_path / "samples"
    refused = invoke("sample", "verses", "--runs-dir", runs_dir, "--checkpoint", lines / "best.pt", "--out", out)
    assert_user_error(refused, "best.pt was trained on documents in layout 'lines'", "prepared in layout 'verses'")
    assert not out.exists() and not (verses / "samples").exists()
    sampled = invoke("sample", "lines", "--runs-dir", runs_dir, "--num-samples", "2", "--max-length", "20", "--out", out)
    assert sampled.exit_code == 0, sampled.output
    assert (out / "sample_001.txt").read_text().startswith("layout lines\n")
    assert_user_error(prepare_run("lines", "verses"), "checkpoints trained on data prepared with other options, layout")
    assert prepare_run("lines", "verses", "--force").exit_code == 0
    resumed = invoke("train", "lines", "--runs-dir", runs_dir, "--resume", "--max-steps", "30", *TINY)
    assert_user_error(resumed, "checkpoint.pt was trained on documents in layout 'lines'", "prepared in layout 'verses'")
    assert json.loads((lines / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 20


def test_truncated_checkpoint(invoke, trained_run, copy_of):
    run = copy_of(trained_run)
    data = run.best_path.read_bytes()
    run.best_path.write_bytes(data[:1000])
    assert_user_error(invoke("sample", run.name, "--runs-dir", run.dir.parent), "best.pt is truncated or corrupt")


def test_device_cuda_without_a_gpu(invoke, trained_run, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on every machine without a GPU
    assert_user_error(invoke("sample", "rhymes", "--runs-dir", trained_run.dir.parent, "--device", "cuda"),
                      "no usable CUDA GPU")


def test_malformed_option_and_unknown_render(invoke, trained_run, runs_dir):
    result = invoke("prepare", "text", "--option", "split", "--runs-dir", runs_dir)
    assert result.exit_code == 2 and "'split' is not KEY=VALUE" in result.output
    assert_user_error(invoke("sample", "rhymes", "--runs-dir", trained_run.dir.parent, "--render", "lilypond"),
                      "unknown output plugin 'lilypond'")


def test_no_run_named_and_several_exist(invoke, rhymes_file, runs_dir):
    for name in ("a", "b"):
        invoke("prepare", "text", "--source", rhymes_file, "--run", name, "--runs-dir", runs_dir)
    assert_user_error(invoke("train", "--runs-dir", runs_dir), "name the RUN to use; runs in", "a, b")


def test_runs_dir_comes_from_the_environment(invoke, rhymes_file, tmp_path, monkeypatch):
    monkeypatch.setenv("CHARMONY_RUNS", str(tmp_path / "elsewhere"))
    assert invoke("prepare", "text", "--source", rhymes_file).exit_code == 0
    assert Path(tmp_path / "elsewhere" / "text" / "manifest.json").exists()


def test_run_names_cannot_escape_the_runs_dir(invoke, rhymes_file, runs_dir):
    assert_user_error(invoke("prepare", "text", "--source", rhymes_file, "--run", "../outside", "--runs-dir", runs_dir),
                      "run name '../outside' is not allowed")
    assert not (runs_dir.parent / "outside").exists()
    assert invoke("prepare", "text", "--source", rhymes_file, "--runs-dir", runs_dir).exit_code == 0
    assert_user_error(invoke("train", str(runs_dir / "text"), "--runs-dir", runs_dir),
                      f"run name '{runs_dir / 'text'}' is a path; give the folder that holds it and its name: "
                      f"--runs-dir {runs_dir} and the run text")


def test_an_empty_run_name_is_refused_by_prepare_as_by_train(invoke, rhymes_file, runs_dir):
    for args in (("prepare", "text", "--source", rhymes_file, "--run", ""), ("train", "")):
        assert_user_error(invoke(*args, "--runs-dir", runs_dir), "run name '' is not allowed")
    assert not (runs_dir / "text").exists(), "the corpus name was not used instead"


BIG = str(2**63)


@pytest.mark.parametrize(("command", "flag", "value", "limit"), [
    ("train", "--layers", "100000", "1<=x<=100"), ("train", "--hidden", BIG, "1<=x<=65536"),
    ("train", "--embedding", BIG, "0<=x<=65536"), ("train", "--seq-len", BIG, "1<=x<=100000"),
    ("train", "--batch-size", BIG, "1<=x<=100000"), ("train", "--max-steps", BIG, "1<=x<=1000000000"),
    ("train", "--warmup-steps", BIG, "0<=x<=1000000000"), ("train", "--log-every", BIG, "1<=x<=1000000000"),
    ("train", "--lr", "1e300", "0<x<=100.0"), ("train", "--max-minutes", "inf", "0<x<=1000000.0"),
    ("train", "--grad-clip", "1e300", "0<x<=1000000.0"), ("train", "--init-scale", "1e300", "0<x<=10.0"),
    ("sample", "--num-samples", BIG, "1<=x<=100000"), ("sample", "--max-length", BIG, "1<=x<=10000000"),
    ("sample", "--top-k", BIG, "1<=x<=10000000"), ("sample", "--temperature", "1e300", "0<=x<=100.0"),
    ("prepare", "--max-vocab", BIG, "1<=x<=10000000"), ("evaluate", "--num-samples", BIG, "1<=x<=100000"),
])
def test_every_numeric_flag_has_an_upper_bound(invoke, runs_dir, command, flag, value, limit):
    target = ("text",) if command == "prepare" else ("--run", "none") if command == "evaluate" else ("none",)
    result = invoke(command, *target, flag, value, "--runs-dir", runs_dir)
    assert_user_error(result, f"Invalid value for '{flag}'", f"is not in the range {limit}")
    assert result.exit_code == 2


def test_too_many_tokens_in_one_batch_of_samples_is_one_line(invoke, trained_run):
    result = invoke("sample", "rhymes", "--runs-dir", trained_run.dir.parent, "--num-samples", "100000", "--max-length", "10000")
    assert_user_error(result, "--num-samples 100,000 x --max-length 10,000 is over 100,000,000 tokens")


def test_unwritable_output_is_one_line(invoke, trained_run, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    result = invoke("sample", "rhymes", "--runs-dir", trained_run.dir.parent, "--out", tmp_path / "a-file" / "out")
    assert_user_error(result, "a-file")


@pytest.mark.parametrize("command", ["prepare text", "train rhymes", "sample rhymes"])
@pytest.mark.parametrize("seed", ["-1", str(2**64)])
def test_seeds_out_of_range(invoke, trained_run, command, seed):
    result = invoke(*command.split(), "--seed", seed, "--runs-dir", trained_run.dir.parent)
    assert_user_error(result, "Invalid value for '--seed'", f"{seed} is not in the range")


def test_sampling_again_with_one_seed_keeps_the_earlier_samples(invoke, trained_run, copy_of):
    run = copy_of(trained_run)
    for temperature in ("1.0", "0.5"):
        result = invoke("sample", run.name, "--runs-dir", run.dir.parent, "--seed", "3", "--max-length", "20",
                        "--temperature", temperature)
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in run.samples_dir.iterdir()) == ["step000200-seed3", "step000200-seed3-2"]


def test_sampling_into_an_used_out_folder_replaces_only_its_own_files(invoke, trained_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ("sample", "rhymes", "--runs-dir", trained_run.dir.parent, "--seed", "1", "--max-length", "20", "--out", out)
    assert invoke(*args, "--num-samples", "3").exit_code == 0
    assert invoke(*args, "--num-samples", "1").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "sample_001.txt", "samples.json"]


def test_ctrl_c_in_the_cli_saves_a_checkpoint_and_exits_cleanly(invoke, rhymes_file, runs_dir):
    invoke("prepare", "text", "--source", rhymes_file, "--runs-dir", runs_dir)
    metrics = runs_dir / "text" / "metrics.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "charmony", "train", "--runs-dir", str(runs_dir), "--max-steps", "100000",
         "--log-every", "1", *TINY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (metrics.exists() and metrics.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    step = int(re.search(r"interrupted at step (\d+); checkpoint saved", stdout).group(1))
    assert f"continue with: charmony train text --resume --runs-dir {runs_dir}\n" in stdout, "the hint finds this run again"
    assert torch.load(runs_dir / "text" / "checkpoint.pt", weights_only=True)["step"] == step > 0


def test_check_and_render_with_nothing_to_do_exit_2(invoke, tmp_path):
    (tmp_path / "f.txt").write_text("text")
    result = invoke("check", tmp_path / "f.txt")
    assert result.exit_code == 2 and "no output plugin checks files like" in result.output
    result = invoke("render", tmp_path / "f.txt", "--to", "")
    assert result.exit_code == 2 and "--to needs at least one output plugin name" in result.output


def test_an_empty_source_path_is_refused(invoke, runs_dir):
    result = invoke("prepare", "text", "--source", "", "--runs-dir", runs_dir)
    assert result.exit_code == 2 and "an empty path is not a source" in result.output


class NumberedText(TextCorpus):
    """Text whose samples are always checked by `parens` and numbered in a first line."""

    name = "numbered"
    checks = ("parens",)

    def finish(self, text, sample):
        return f"#{sample.number} of {sample.run}, step {sample.step}, seed {sample.seed}\n{text}"


class NumberedPlugin:
    @hookimpl
    def register_corpora(self, register):
        register(NumberedText())


def test_a_corpus_checks_and_finishes_its_own_samples(invoke, register_plugin, trained_run, copy_of, tmp_path):
    register_plugin(ParensPlugin(), "parens-plugin")
    register_plugin(NumberedPlugin(), "numbered-plugin")
    run = copy_of(trained_run)
    manifest = json.loads(run.manifest_path.read_text())
    run.manifest_path.write_text(json.dumps(dict(manifest, corpus="numbered", checks=["parens"])))  # as prepare froze them
    out = tmp_path / "s"
    result = invoke("sample", run.name, "--runs-dir", run.dir.parent, "--num-samples", "3", "--seed", "1",
                    "--max-length", "30", "--out", out)
    assert result.exit_code == 0, result.output
    assert [(out / f"sample_{n:03d}.txt").read_text().split("\n")[0] for n in range(1, 4)] == [f"#{n} of {run.name}, step 200, seed 1" for n in (1, 2, 3)]
    report = json.loads((out / "samples.json").read_text())
    assert report["outputs"] == ["parens"] and report["summary"]["parens"]["checked"] == 3


# Conventions: help, order, option types, pipes.

def test_commands_are_listed_in_workflow_order_and_plugin_commands_after_them(register_plugin):
    from test_plugins import CommandPlugin

    from charmony.cli import WORKFLOW, CharmonyGroup, cli

    from click.testing import CliRunner

    register_plugin(CommandPlugin(), "greeter")
    group = CharmonyGroup(name="charmony", commands=dict(cli.commands), context_settings=cli.context_settings)
    listed = group.list_commands(None)
    assert listed == [name for name in WORKFLOW if name in cli.commands] + ["greet"]
    assert WORKFLOW.index("evaluate") == WORKFLOW.index("sample") + 1, "evaluate slots in after sample"
    shown = re.findall(r"^  (\w+)  ", CliRunner().invoke(group, ["--help"]).output, re.M)
    assert shown == listed


def test_every_command_has_dash_h_a_one_line_summary_and_an_example(invoke):
    from charmony.cli import cli

    top = invoke("-h")
    assert top.exit_code == 0 and top.output == invoke("--help").output
    for name, command in cli.commands.items():
        help_text = invoke(name, "-h")
        assert help_text.exit_code == 0, help_text.output
        assert re.search(rf"Example:\n\s+charmony {name} ", help_text.output), name
        summary = command.get_short_help_str(limit=200)
        assert len(summary) <= 60 and "\n" not in summary and not summary.endswith("..."), summary
        assert "9223372036854775807" not in help_text.output, "a seed's range is said briefly"
        manual = [param.name for param in command.params if "[default" in (getattr(param, "help", None) or "")]
        assert not manual, f"{name}: defaults of {manual} are written by hand instead of shown by click"


def test_choices_and_ranges_are_checked_by_the_command_line_and_shown_in_help(invoke, trained_run):
    assert "--device [auto|cpu|cuda]" in invoke("train", "-h").output
    assert "--checkpoint [best|latest|PATH]" in invoke("sample", "-h").output
    assert "0<=x<2**63" in invoke("sample", "-h").output
    runs = ("--runs-dir", trained_run.dir.parent)
    for args, fragment in [(("--device", "tpu"), "'tpu' is not one of 'auto', 'cpu', 'cuda'"),
                           (("--checkpoint", "newest"), "'newest' is neither best, latest nor a checkpoint file"),
                           (("--top-p", "0"), "0<x<=1"),
                           (("--num-samples", "0"), "1<=x<=100000")]:
        result = invoke("sample", "rhymes", *runs, *args)
        assert result.exit_code == 2 and fragment in result.output, result.output
    assert invoke("sample", "rhymes", *runs, "--device", "cpu", "--checkpoint", "latest", "--max-length", 5).exit_code == 0


def test_defaults_in_help_come_from_the_config_dataclasses(invoke):
    from charmony.pipeline.run.config import DEFAULT_VAL_FRACTION, PrepareConfig, TrainConfig

    prepare_help = " ".join(invoke("prepare", "-h").output.split())
    assert f"instead). [default: {DEFAULT_VAL_FRACTION};" in prepare_help
    assert f"split. [default: {PrepareConfig('x').seed};" in prepare_help
    train_help = " ".join(invoke("train", "-h").output.split())
    assert f"Stacked recurrent layers. [default: {TrainConfig().model.layers};" in train_help
    assert f"Peak learning rate. [default: {TrainConfig().lr};" in train_help


def test_a_closed_pipe_ends_quietly():
    result = subprocess.run(f"{sys.executable} -m charmony plugins | head -1", shell=True, capture_output=True, text=True, timeout=60)
    assert result.stdout.startswith("NAME") and len(result.stdout.splitlines()) == 1
    assert result.stderr == ""


def test_the_out_of_memory_line_keeps_the_whole_size():
    from charmony.pipeline.system.messages import out_of_memory

    message = out_of_memory(RuntimeError(
        "[enforce fail at alloc_cpu.cpp:121] data. DefaultCPUAllocator: not enough memory: "
        "you tried to allocate 108000000000000 bytes. Error code 12 (Cannot allocate memory)"))
    assert "tried to allocate 108,000,000,000,000 bytes (98.2 TiB)" in message
    cuda = out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 15.78 GiB total capacity)"))
    assert "tried to allocate 20.00 GiB" in cuda


def test_only_errors_a_user_can_act_on_become_one_line():
    from charmony.pipeline.system.errors import RunError
    from charmony.pipeline.system.messages import user_message

    assert user_message(RunError("no run 'x'")) == "no run 'x'"
    assert user_message(PermissionError(13, "Permission denied", "/out")) == "/out: Permission denied"
    assert user_message(OSError(28, "No space left on device")) == (
        "No space left on device; free some space, or write elsewhere (--runs-dir, --out), and run it again")
    assert user_message(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")).startswith("out of memory (tried to allocate 2.00 GiB)")
    assert user_message(RuntimeError("a bug")) is None
    assert user_message(BrokenPipeError()) is None
    assert user_message(ValueError("a bug")) is None


def test_the_resume_hint_repeats_what_it_takes_to_find_the_same_run(tmp_path, monkeypatch):
    from charmony.pipeline.run.folder import DEFAULT_RUNS_DIR, Run
    from charmony.pipeline.training.launch import resume_command

    elsewhere = tmp_path / "my runs"
    assert resume_command(Run(elsewhere / "poems"), elsewhere) == f"charmony train poems --resume --runs-dir '{elsewhere}'"
    assert resume_command(Run(elsewhere / "poems"), elsewhere, 2) == (
        f"charmony train poems --resume --nproc 2 --runs-dir '{elsewhere}'")
    monkeypatch.delenv("CHARMONY_RUNS", raising=False)
    assert resume_command(Run(DEFAULT_RUNS_DIR / "poems"), DEFAULT_RUNS_DIR) == "charmony train poems --resume"
    monkeypatch.setenv("CHARMONY_RUNS", str(elsewhere))  # then `--runs-dir runs` given is needed to find ./runs again
    assert resume_command(Run(DEFAULT_RUNS_DIR / "poems"), DEFAULT_RUNS_DIR) == "charmony train poems --resume --runs-dir runs"
    assert resume_command(Run(elsewhere / "poems"), elsewhere) == f"charmony train poems --resume --runs-dir '{elsewhere}'"


def test_processes_started_with_nproc_get_every_option_given_a_no_flag_too():
    """`train --nproc N` starts its processes with the options it was given: `--no-X` among them, since a recipe's X
    would win in them otherwise; a plain flag left off, and the options named, stay out."""
    from charmony.cli import cli
    from charmony.cli_options import given_options

    command = cli.commands["train"]
    given = ["r", "--recipe", "forecast", "--no-tie-weights", "--no-output-prior", "--layers", "3", "--nproc", "2"]
    with command.make_context("train", given) as ctx:
        forwarded = given_options(ctx, ("nproc", "runs_dir"))
    assert forwarded[forwarded.index("--layers") + 1] == "3"
    assert {"--no-tie-weights", "--no-output-prior", "--recipe"} <= set(forwarded)
    assert not {"--nproc", "--resume", "--restart", "--compile", "--output-prior"} & set(forwarded)
