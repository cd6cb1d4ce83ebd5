"""Shared fixtures: tiny corpora made on the spot, prepared and trained runs, and plugin registration."""

from __future__ import annotations

import os

# Installed third-party plugins stay out of the tests; tests that want entry points load them explicitly.
os.environ["CHARMONY_LOAD_PLUGINS"] = ""

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from charmony.cli import cli  # noqa: E402
from charmony.pipeline.plugin.manager import get_plugin_manager  # noqa: E402
from charmony.pipeline.data.prepare import PrepareConfig, prepare  # noqa: E402
from charmony.pipeline.run.folder import Run  # noqa: E402
from charmony.pipeline.training.train import train  # noqa: E402

from tiny import RHYMES, TINY_TRAIN  # noqa: E402


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def rhymes_file(tmp_path: Path) -> Path:
    """Nursery rhymes, separated by blank lines, repeated so there is enough to batch."""
    path = tmp_path / "rhymes.txt"
    path.write_text("\n\n".join(RHYMES * 6), encoding="utf-8")
    return path


@pytest.fixture
def prepared(rhymes_file, runs_dir):
    """Prepare the rhymes, one document per rhyme, as a run of the given name."""

    def make(name: str) -> Run:
        run = Run(runs_dir / name)
        prepare(run, PrepareConfig("text", [rhymes_file], options={"split": "blank"}))
        return run

    return make


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Run:
    """A small model trained on nursery rhymes, shared by tests that only read it."""
    root = tmp_path_factory.mktemp("trained")
    source = root / "rhymes.txt"
    source.write_text("\n\n".join(RHYMES * 6), encoding="utf-8")
    run = Run(root / "runs" / "rhymes")
    prepare(run, PrepareConfig("text", [source], options={"split": "blank"}, val_fraction=0.2))
    train(run, TINY_TRAIN.with_settings(max_steps=200))  # enough to learn the rhymes with any split
    return run


@pytest.fixture
def copy_of(tmp_path: Path):
    """Copy a run into this test's own folder, so the test may change it."""

    def copy(run: Run) -> Run:
        target = tmp_path / "copies" / run.name
        shutil.copytree(run.dir, target)
        return Run(target)

    return copy


@pytest.fixture
def register_plugin():
    """Register plugin objects for one test, unregistering them afterwards."""
    pm = get_plugin_manager()
    names = []

    def register(plugin, name: str):
        pm.register(plugin, name=name)
        names.append(name)

    try:
        yield register
    finally:
        for name in names:
            if pm.get_plugin(name) is not None:
                pm.unregister(name=name)


@pytest.fixture
def invoke():
    """Run the CLI in-process and return click's result."""
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=True)

    return run
