"""`make demo`, bench_bach.py and the docs name one Bach recipe: the soprano lines moved to C, dropout 0.3."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from charmony.corpora.bach import BachCorpus

ROOT = Path(__file__).resolve().parent.parent
TONIC = {"voices": "soprano", "transpose": "tonic"}


def bench_bach():
    """benchmarks/bench_bach.py as a module."""
    spec = importlib.util.spec_from_file_location("bench_bach", ROOT / "benchmarks" / "bench_bach.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_demo_prepares_the_soprano_lines_in_c_and_trains_the_demo_recipe():
    target = ROOT.joinpath("Makefile").read_text(encoding="utf-8").split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    prepare = next(line for line in target.splitlines() if " prepare bach " in line)
    assert dict(re.findall(r"--option (\w+)=(\w+)", prepare)) == TONIC
    assert "--recipe demo" in target


def test_the_demo_and_bench_recipes_are_the_one_key_model_with_dropout_0_3():
    for name in ("demo", "bench"):
        recipe = BachCorpus.recipes[name]
        assert (recipe.layers, recipe.hidden, recipe.dropout) == (2, 256, 0.3)
        assert "dropout 0.3" in recipe.description and "transpose=tonic" in recipe.description


def test_bench_bach_trains_the_soprano_model_by_the_bench_recipe():
    bench = bench_bach()
    assert bench.SOPRANO == TONIC
    model = bench.SOPRANO_TRAIN.model
    assert (model.layers, model.hidden, model.dropout) == (2, 256, BachCorpus.recipes["bench"].dropout)
    assert bench.TRAIN.model.dropout == 0.1, "the four-voice model keeps its own"


def test_the_docs_say_what_the_recipes_are():
    corpora = ROOT.joinpath("docs", "corpora.md").read_text(encoding="utf-8")
    for name in ("demo", "bench"):
        row = next(line for line in corpora.splitlines() if line.startswith(f"| `bach` | `{name}` |"))
        assert "dropout 0.3" in row and "`transpose=tonic`" in row, row
    assert re.search(r"It is the\s+recipe of `make demo` and `bench_bach.py`", corpora)
    assert "transpose=all` stays the recipe" not in corpora
