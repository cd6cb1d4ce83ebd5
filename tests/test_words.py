import json
import math
import random
import re

import numpy as np
import pytest

from charmony.cli import cli
from charmony.corpora.words import WordsCorpus, split_punctuation, tokenize_words
from charmony.pipeline.training.checkpoint import Checkpoint
from charmony.pipeline.plugin.corpus import CorpusPlugin, Document
from charmony.pipeline.system.errors import ConfigError, CorpusError
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.manager import corpora
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.plugin.recipes import Recipe
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.config import TrainConfig

SUBJECTS = ["the cat", "a dog", "the old man", "my sister", "a bird"]
VERBS = ["saw", "sat on", "ran to", "ate", "likes"]
OBJECTS = ["the mat", "a tree", "the house", "a fish", "the river"]


def sentences(count: int, seed: int) -> str:
    """PTB-style lines: lower-cased, a space before every word and before the line break."""
    pick = random.Random(seed).choice
    return "".join(f" {pick(SUBJECTS)} {pick(VERBS)} {pick(OBJECTS)} \n" for _ in range(count))


@pytest.fixture
def ptb(tmp_path):
    folder = tmp_path / "ptb"
    folder.mkdir()
    for part, count, seed in (("train", 2500, 1), ("valid", 250, 2), ("test", 250, 3)):
        (folder / f"ptb.{part}.txt").write_text(sentences(count, seed))
    return folder


@pytest.mark.parametrize("text", ["", " the cat \n", "Hello  world.\n\n  indented\tline   ", "a\r\nb \n\n", "  "])
def test_word_tokens_give_the_text_back_and_count_words_and_lines(text):
    tokens = tokenize_words(text)
    assert "".join(tokens) == text
    assert sum(not t.isspace() for t in tokens) == len(text.split())
    assert sum(t.endswith("\n") for t in tokens) == text.count("\n")


def test_punctuation_split_lays_text_out_as_ptb():
    assert split_punctuation("Hello, world!\nIt's") == " Hello , world !\n It ' s"


def test_the_ptb_layout_keeps_its_own_split_and_leaves_out_test(ptb, runs_dir):
    run = Run(runs_dir / "ptb")
    manifest = prepare(run, PrepareConfig("words", [ptb], val_fraction=0.5, seed=7))
    assert manifest.split == "corpus" and manifest.token_unit == "word"
    assert [s.path.rsplit("/", 1)[1] for s in manifest.sources] == ["ptb.train.txt", "ptb.valid.txt"]
    train_text = (ptb / "ptb.train.txt").read_text()
    # n words and a line break per line, and one <eod> for the file: PTB's own token count
    assert manifest.tokens["train"] == len(train_text.split()) + train_text.count("\n") + 1
    vocab = run.vocabulary()
    assert " \n" in vocab.tokens and " cat" in vocab.tokens
    assert vocab.decode(run.tokens("val")[:-1].tolist()) == (ptb / "ptb.valid.txt").read_text()


def test_the_layout_needs_a_valid_part_and_no_strangers(ptb, runs_dir):
    (ptb / "ptb.valid.txt").unlink()
    with pytest.raises(CorpusError, match="hold no valid part"):
        prepare(Run(runs_dir / "a"), PrepareConfig("words", [ptb]))
    (ptb / "ptb.valid.txt").write_text(" a \n")
    (ptb / "notes.txt").write_text("mine")
    with pytest.raises(CorpusError, match="notes.txt is not named as the PTB/WikiText layout"):
        prepare(Run(runs_dir / "b"), PrepareConfig("words", [ptb]))


def test_wikitext_names_are_recognised(tmp_path, runs_dir):
    for part in ("train", "valid", "test"):
        (tmp_path / f"wiki.{part}.tokens").write_text(" = Title = \n \n" + sentences(50, len(part)))
    manifest = prepare(Run(runs_dir / "wiki"), PrepareConfig("words", [tmp_path / f"wiki.{p}.tokens" for p in ("train", "valid", "test")]))
    assert manifest.split == "corpus" and manifest.documents == {"train": 1, "val": 1}


def test_the_bare_train_valid_test_names_keep_their_split_and_a_vocabulary_past_the_default(tmp_path, runs_dir):
    # The layout of PyTorch's word_language_model example: train.txt, valid.txt, test.txt, tokenised, one line a sentence.
    words = [f"w{index}" for index in range(10_500)]  # more than the corpus' default max-vocab of 10,000
    (tmp_path / "train.txt").write_text("".join(f" {' '.join(words[i:i + 15])} \n" for i in range(0, len(words), 15)))
    (tmp_path / "valid.txt").write_text(" w7 w10499 w3 \n \n w42 \n")
    (tmp_path / "test.txt").write_text(" only in test \n")
    run = Run(runs_dir / "example")
    manifest = prepare(run, PrepareConfig("words", [tmp_path], max_vocab=1_000_000, val_fraction=0.5))
    assert manifest.split == "corpus"
    assert sorted(s.path.rsplit("/", 1)[1] for s in manifest.sources) == ["train.txt", "valid.txt"]
    vocab = run.vocabulary()
    assert " w10499" in vocab.tokens and " test" not in vocab.tokens, "every train word kept; the test part left out"
    # the valid part is the file's own: its 4 words and 3 line breaks, and the end of the document
    assert vocab.decode(run.tokens("val")[:-1].tolist()) == " w7 w10499 w3 \n \n w42 \n"
    assert manifest.tokens["val"] == 4 + 3 + 1
    assert not np.isin(run.tokens("train"), [vocab.unk_id]).any(), "no train word is cut from the vocabulary"


def test_a_word_model_learns_to_a_perplexity_an_untrained_one_cannot_reach(ptb, runs_dir, invoke):
    run = Run(runs_dir / "ptb")
    prepare(run, PrepareConfig("words", [ptb]))
    vocab_size = len(run.vocabulary())
    result = invoke("train", "ptb", "--layers", "1", "--hidden", "32", "--seq-len", "16", "--batch-size", "8",
                    "--lr", "0.01", "--warmup-steps", "10", "--max-steps", "150", "--eval-every", "50",
                    "--device", "cpu", "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in run.metrics_path.read_text().splitlines()]
    evaluated = [line for line in lines if "val_loss" in line]
    assert evaluated and not any({"val_bpc", "train_bpc"} & set(line) for line in lines), "bits per character mean nothing for words"
    assert all(line["val_ppl"] == pytest.approx(math.exp(line["val_loss"])) for line in evaluated)
    assert all(line["train_ppl"] == pytest.approx(math.exp(line["train_loss"])) for line in lines)
    best = min(line["val_ppl"] for line in evaluated)
    # An untrained model is near the vocabulary size; this grammar's own perplexity is about 3.
    assert best < vocab_size / 3
    assert f"(perplexity {best:.2f})" in result.output and "bpc" not in result.output
    assert f"nats/token (ppl {lines[-1]['val_ppl']:.2f})" in result.output, "the log lines give perplexity too"
    assert Checkpoint.load(run.best_path).model_config.embedding == 32, "word runs embed as wide as --hidden"


def test_recipe_settings_apply_and_explicit_flags_win(ptb, runs_dir, invoke):
    prepare(Run(runs_dir / "ptb"), PrepareConfig("words", [ptb]))
    result = invoke("train", "ptb", "--recipe", "small", "--hidden", "16", "--layers", "1", "--batch-size", "4",
                    "--seq-len", "8", "--max-steps", "3", "--eval-every", "3", "--device", "cpu", "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    saved = Checkpoint.load(runs_dir / "ptb" / "checkpoint.pt")
    config, model = saved.train_config, saved.train_config.model
    assert (model.hidden, model.layers, config.batch_size, config.seq_len, config.max_steps) == (16, 1, 4, 8, 3)
    assert (config.lr, config.grad_clip, model.init_scale, config.warmup_steps) == (2e-3, 5.0, 0.1, 200)
    assert saved.model_config.init_scale == 0.1
    head = saved.model["head.weight"]
    # PyTorch would draw from U(-0.25, 0.25) for 16 inputs; three Adam steps at 2e-3 move a weight by at most 0.006
    assert 0.09 < head.abs().max() <= 0.1 + 0.007, "weights drawn from U(-0.1, 0.1)"


def test_an_unknown_recipe_is_one_line_listing_the_recipes(ptb, runs_dir, invoke):
    prepare(Run(runs_dir / "ptb"), PrepareConfig("words", [ptb]))
    result = invoke("train", "ptb", "--recipe", "huge", "--runs-dir", runs_dir)
    assert result.exit_code == 1
    assert result.output == "Error: corpus 'words' has no recipe 'huge'; its recipes: small, medium, large, quick\n"
    with pytest.raises(ConfigError, match="corpus 'text' has no recipe 'small-ish'; its recipes: char-rnn, small"):
        corpora()["text"].recipe("small-ish")


def test_every_built_in_recipe_names_train_options_that_accept_its_values():
    train_options = {param.name for param in cli.commands["train"].params}
    for corpus in corpora().values():
        for name, recipe in corpus.recipes.items():
            settings = recipe.settings()
            assert settings and set(settings) <= train_options, (corpus.name, name)
            TrainConfig().with_settings(**settings)  # values in range
    assert {"small", "medium", "large"} <= set(corpora()["words"].recipes)
    assert "demo" in corpora()["bach"].recipes and "char-rnn" in corpora()["text"].recipes


class Limericks(CorpusPlugin):
    name = "limericks"
    description = "There once was a corpus from Crewe."
    options = {"rhyme": "aabba (default) or abab"}
    sample_options = {"lines": "how many lines a sample has (default 5)"}
    recipes = {"tiny": Recipe("one small layer", layers=1, hidden=8, tie_weights=True)}

    def documents(self, sources, options):
        yield Document("there once was a corpus from crewe\n")


class LimerickPlugin:
    @hookimpl
    def register_corpora(self, register):
        register(Limericks())


def test_plugins_name_lists_options_sample_options_and_recipes(register_plugin, invoke):
    register_plugin(LimerickPlugin(), "limerick-plugin")
    text = invoke("plugins", "limericks")
    assert text.exit_code == 0, text.output
    for expected in ("limericks: corpus", "prepare options", "rhyme  aabba (default) or abab",
                     "sample options (charmony sample --option KEY=VALUE):", "lines  how many lines",
                     "recipes (charmony train RUN --recipe NAME):", "tiny  one small layer",
                     "--layers 1 --hidden 8 --tie-weights"):
        assert expected in text.output, expected
    data = json.loads(invoke("plugins", "limericks", "--json").output)
    assert data["recipes"] == {"tiny": {"description": "one small layer", "settings": {"layers": 1, "hidden": 8, "tie_weights": True}}}
    words = invoke("plugins", "words").output
    assert "sample options" not in words and "small   PTB small" in words
    missing = invoke("plugins", "nope")
    assert missing.exit_code == 1 and missing.output.startswith("Error: no plugin 'nope'; installed plugins: abc,")


def test_resume_refuses_a_recipe(invoke, runs_dir):
    result = invoke("train", "x", "--resume", "--recipe", "small", "--runs-dir", runs_dir)
    assert result.exit_code == 2 and "--resume keeps the run's saved settings" in result.output


def test_the_default_source_is_lower_cased_words_with_punctuation_apart():
    first = next(WordsCorpus().documents([], {}))
    assert first.text == first.text.lower() and (" ." in first.text or " ," in first.text)


def test_the_word_benchmark_runs_on_a_corpus_in_the_ptb_layout(ptb, capsys, monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent.parent / "benchmarks"))
    import bench_words

    figures = bench_words.main(["--source", str(ptb), "--minutes", "1", "--max-steps", "40", "--hidden", "16",
                                "--eval-every", "20", "--batch-size", "8", "--seq-len", "10"])
    output = capsys.readouterr().out
    assert figures["steps"] == 40 and figures["vocab"] == len(set(sentences(2500, 1).split())) + 2
    assert "best validation perplexity" in output and "reference: PTB small: 120.7 valid" in output
    assert 1 < figures["best_val_ppl"] < figures["vocab"]


def test_a_vocabulary_larger_than_the_default_keeps_every_word_and_a_literal_unk(tmp_path, runs_dir):
    words = [f"w{index}" for index in range(12_000)]  # more than the corpus' default of 10,000
    pick = random.Random(3).choice
    lines = [" ".join(words[i:i + 10]) for i in range(0, len(words), 10)]
    lines += ["<unk> stands in for a rare word", "<eod> is only text here"] + [" ".join(pick(words) for _ in range(8)) for _ in range(200)]
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("\n".join(lines) + "\n")
    large = prepare(Run(runs_dir / "large"), PrepareConfig("words", [tmp_path / "text"], max_vocab=20_000))
    vocab = Run(runs_dir / "large").vocabulary()
    assert large.max_vocab == 20_000 and vocab.unk_id is not None
    assert vocab.encode(["<unk>", "<eod>", " w5"]) == [vocab.unk_id, vocab.unk_id, vocab.index[" w5"]]
    ids = np.concatenate([Run(runs_dir / "large").tokens(split) for split in ("train", "val")])
    assert int((ids == vocab.unk_id).sum()) == 2, "only the literal <unk> and <eod> are unknown: no word is cut"
    assert int((ids == vocab.eod_id).sum()) == 1, "one file, one document: a literal <eod> in it is no boundary"
    default = prepare(Run(runs_dir / "default"), PrepareConfig("words", [tmp_path / "text"]))
    assert default.vocab_size == 10_002 and large.vocab_size > 12_000


STAND_IN_EXAMPLE = '''
import argparse, pathlib, time
parser = argparse.ArgumentParser()
parser.add_argument("--data")
args, _ = parser.parse_known_args()
words = set()
for part in ("train", "valid", "test"):
    words.update(pathlib.Path(args.data, part + ".txt").read_text().split())
print(f"dictionary {len(words | {'<eos>'})}", flush=True)
for epoch in range(1, 100000):
    time.sleep(0.5)
    print(f"| end of epoch {epoch:3d} | time:  0.50s | valid loss  5.00 | valid ppl {1000 / epoch:8.2f}", flush=True)
'''


def test_the_side_by_side_benchmark_runs_both_on_one_vocabulary_and_stops_the_example(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent.parent / "benchmarks"))
    import bench_words_vs_example

    example = tmp_path / "word_language_model"
    (example / "data" / "wikitext-2").mkdir(parents=True)
    (example / "main.py").write_text(STAND_IN_EXAMPLE)  # stands in for pytorch/examples' main.py: prints an epoch a 0.5 s
    (example / "data" / "wikitext-2" / "train.txt").write_text(sentences(600, 1) + " a rare word \n")
    (example / "data" / "wikitext-2" / "valid.txt").write_text(sentences(60, 2) + " unseen words here \n")
    figures = bench_words_vs_example.main(["--example", str(example), "--minutes", "0.1", "--hidden", "16",
                                           "--set", "seq_len=10", "batch_size=4", "--keep", str(tmp_path / "work")])
    output = capsys.readouterr().out
    example_log = (tmp_path / "work" / "example.log").read_text()
    charmony_log = (tmp_path / "work" / "charmony.log").read_text()
    words = set(sentences(600, 1).split()) | {"a", "rare", "word", "<unk>"}
    # the example's dictionary (every word of the files, and <eos>) and charmony's (the same, and <eod>)
    assert f"dictionary {len(words) + 1}" in example_log
    assert f"charmony: vocabulary {len(words) + 2:,}," in charmony_log
    # valid words the training text lacks are <unk> in both sides' valid.txt (and the example's test.txt, a copy)
    assert (tmp_path / "work" / "data" / "valid.txt").read_text().endswith(" <unk> <unk> <unk> \n")
    assert (tmp_path / "work" / "data" / "test.txt").read_text() == (tmp_path / "work" / "data" / "valid.txt").read_text()
    assert figures["points"]["charmony"] and figures["points"]["example"]
    assert figures["best"]["example"] == min(ppl for at, _, ppl in figures["points"]["example"] if at <= figures["minutes"] * 60)
    assert 0.09 < figures["minutes"] < 2, "the example, which would run for ever, was stopped when charmony's training ended"
    assert re.search(r"example +1 +1000.00", output) and "ratio" in output
