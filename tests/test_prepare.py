import dataclasses
import json
import os

import numpy as np
import pytest
from tiny import RHYMES, TINY_TRAIN

from charmony import __version__
from charmony.pipeline.plugin.corpus import CorpusPlugin, Document
from charmony.pipeline.system.errors import ConfigError, CorpusError, PluginError, RunError
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.folder import Run
from charmony.pipeline.training.train import train


def decoded_documents(run: Run, split: str) -> list[str]:
    vocab = run.vocabulary()
    text = vocab.decode(t if t != vocab.eod_id else 0 for t in run.tokens(split).tolist())
    return [doc for doc in text.split("<eod>") if doc]


def test_documents_split_by_seed_and_encoded_exactly(rhymes_file, runs_dir):
    run = Run(runs_dir / "rhymes")
    manifest = prepare(run, PrepareConfig("text", [rhymes_file], options={"split": "blank"}, val_fraction=0.2))
    train_docs, val_docs = decoded_documents(run, "train"), decoded_documents(run, "val")
    assert manifest.split == "documents"
    assert manifest.documents == {"train": 48, "val": 12}
    assert sorted(d.rstrip("\n") for d in train_docs + val_docs) == sorted(r.rstrip("\n") for r in RHYMES * 6)
    assert manifest.tokens["train"] == sum(len(d) + 1 for d in train_docs)
    assert manifest.tokens["val"] == sum(len(d) + 1 for d in val_docs)
    assert manifest.vocab_size == len(run.vocabulary())
    assert manifest.sources[0].path == str(rhymes_file)
    assert len(manifest.sources[0].sha256) == 64
    assert manifest.corpus == "text" and manifest.plugin_version == __version__ and manifest.options == {"split": "blank"}
    assert manifest.plugin_distribution == "charmony (built-in)" and manifest.checks == []
    assert (run.dir / "train.bin").stat().st_size == manifest.tokens["train"]  # uint8: one byte a token


def test_same_seed_same_split_other_seed_other_split(rhymes_file, runs_dir):
    def val_docs(seed, name):
        run = Run(runs_dir / name)
        prepare(run, PrepareConfig("text", [rhymes_file], options={"split": "blank"}, seed=seed))
        return run.tokens("val").tobytes()

    assert val_docs(1, "a") == val_docs(1, "b")
    assert val_docs(1, "a") != val_docs(2, "c")


def test_one_long_document_is_split_into_contiguous_stretches(tmp_path, runs_dir):
    source = tmp_path / "novel.txt"
    text = "".join(f"line {i}\n" for i in range(1000))
    source.write_text(text)
    run = Run(runs_dir / "novel")
    manifest = prepare(run, PrepareConfig("text", [source], val_fraction=0.1))
    vocab = run.vocabulary()
    assert manifest.split == "contiguous"
    joined = vocab.decode(run.tokens("train").tolist()) + vocab.decode(run.tokens("val").tolist())
    assert joined == text + "<eod>"
    assert manifest.tokens["val"] == round((len(text) + 1) * 0.1)


@pytest.mark.parametrize(
    "split,expected",
    [("blank", ["a b", "c\nd", "e"]), ("%%", ["a b\n\n", "c\nd\n\n\n", "e"]), (r"re:\n\n+", ["a b", "c\nd", "e"])],
)
def test_split_option(tmp_path, runs_dir, split, expected):
    source = tmp_path / "docs.txt"
    source.write_text("a b\n\n%%c\nd\n\n\n%%e" if split == "%%" else "a b\n\nc\nd\n\n\ne")
    run = Run(runs_dir / "split")
    prepare(run, PrepareConfig("text", [source], val_fraction=0))
    assert decoded_documents(run, "train") == [source.read_text()]
    prepare(run, PrepareConfig("text", [source], val_fraction=0, options={"split": split}))
    assert decoded_documents(run, "train") == expected


def test_directory_source_reads_matching_files(tmp_path, runs_dir):
    folder = tmp_path / "src"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.txt").write_text("beta")
    (folder / "skip.md").write_text("gamma")
    run = Run(runs_dir / "dir")
    manifest = prepare(run, PrepareConfig("text", [folder], val_fraction=0, options={"glob": "*.txt"}))
    assert decoded_documents(run, "train") == ["alpha", "beta"]
    assert [s.path for s in manifest.sources] == [str(folder / "a.txt"), str(folder / "sub" / "b.txt")]


def test_default_source_is_on_every_machine(runs_dir):
    manifest = prepare(Run(runs_dir / "text"), PrepareConfig("text"))
    assert manifest.documents["train"] > 50
    assert manifest.tokens["train"] > 300_000


def test_max_vocab_maps_rare_characters_to_unk(rhymes_file, runs_dir):
    run = Run(runs_dir / "small")
    manifest = prepare(run, PrepareConfig("text", [rhymes_file], max_vocab=10))
    assert manifest.vocab_size == 12 and manifest.unk, "ten tokens, <eod> and <unk>"
    assert "<unk>" in run.vocabulary().decode(run.tokens("train").tolist())


def test_missing_source(runs_dir, tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        prepare(Run(runs_dir / "x"), PrepareConfig("text", [tmp_path / "nope.txt"]))


def test_empty_corpus(runs_dir, tmp_path):
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(CorpusError, match="found no text"):
        prepare(Run(runs_dir / "x"), PrepareConfig("text", [tmp_path / "empty.txt"]))


def test_binary_file_names_file_and_offset(runs_dir, tmp_path):
    path = tmp_path / "image.bin"
    path.write_bytes(b"GIF89a" + bytes(range(10)))
    with pytest.raises(CorpusError, match=r"image\.bin: binary file \(NUL byte at offset 6\)"):
        prepare(Run(runs_dir / "x"), PrepareConfig("text", [path]))


def test_non_utf8_file_names_file_and_offset(runs_dir, tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café au lait".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"latin1\.txt: not UTF-8 \(byte 0xe9 at offset 3\)"):
        prepare(Run(runs_dir / "x"), PrepareConfig("text", [path]))


def test_unknown_corpus_and_unknown_option(runs_dir, rhymes_file):
    with pytest.raises(PluginError, match="unknown corpus 'bahc'; known corpora: bach, code, folk, poetry, series, text, words"):
        prepare(Run(runs_dir / "x"), PrepareConfig("bahc"))
    with pytest.raises(ConfigError, match="no option 'splitt'; its options: glob, split"):
        prepare(Run(runs_dir / "x"), PrepareConfig("text", [rhymes_file], options={"splitt": "blank"}))


class ExplodingCorpus(CorpusPlugin):
    name = "exploding"
    description = "Yields one document, then fails."

    def documents(self, sources, options):
        yield Document("fine so far")
        raise RuntimeError("disk on fire")


class ExplodingPlugin:
    @hookimpl
    def register_corpora(self, register):
        register(ExplodingCorpus())


def test_plugin_failing_in_prepare_is_named_and_leaves_the_run_as_it_was(register_plugin, rhymes_file, runs_dir):
    register_plugin(ExplodingPlugin(), "exploding-plugin")
    run = Run(runs_dir / "kept")
    prepare(run, PrepareConfig("text", [rhymes_file]))
    before = {p.name: p.read_bytes() for p in run.dir.iterdir()}
    with pytest.raises(PluginError, match="corpus plugin 'exploding' failed: RuntimeError: disk on fire"):
        prepare(run, PrepareConfig("exploding"))
    assert {p.name: p.read_bytes() for p in run.dir.iterdir()} == before
    assert [p.name for p in runs_dir.iterdir()] == ["kept"], "no staging folder is left behind"
    assert json.loads(run.manifest_path.read_text())["corpus"] == "text"


def test_token_files_are_memmaps_of_the_recorded_dtype(rhymes_file, runs_dir):
    run = Run(runs_dir / "r")
    prepare(run, PrepareConfig("text", [rhymes_file]))
    tokens = run.tokens("train")
    assert isinstance(tokens, np.memmap) and tokens.dtype == np.uint8


@pytest.mark.parametrize("spec", [r"re:\n(---)\n", "re:"])
def test_split_patterns_with_groups_or_nothing_are_refused(tmp_path, runs_dir, spec):
    source = tmp_path / "docs.txt"
    source.write_text("alpha\n---\nbeta")
    with pytest.raises(CorpusError, match="give a non-empty pattern without capturing groups"):
        prepare(Run(runs_dir / "x"), PrepareConfig("text", [source], options={"split": spec}))


def test_a_few_documents_fall_back_to_a_contiguous_split_with_true_counts(tmp_path, runs_dir):
    source = tmp_path / "three.txt"
    source.write_text("a" * 100 + "\n\n" + "b" * 100 + "\n\n" + "c" * 100)
    manifest = prepare(Run(runs_dir / "few"), PrepareConfig("text", [source], options={"split": "blank"}, val_fraction=0.1))
    assert manifest.split == "contiguous"
    assert manifest.documents == {"train": 3, "val": 1}, "the last document straddles the cut"
    assert manifest.tokens == {"train": 303 - 30, "val": 30}


@pytest.mark.parametrize("fraction,message", [(0.6, "from 0 to 0.5"), (1e-9, "holds out no text")])
def test_val_fraction_out_of_range_or_holding_nothing(rhymes_file, runs_dir, fraction, message):
    with pytest.raises(ConfigError, match=message):
        prepare(Run(runs_dir / "x"), PrepareConfig("text", [rhymes_file], val_fraction=fraction))


def test_a_trained_run_keeps_its_data_unless_forced(rhymes_file, runs_dir):
    run = Run(runs_dir / "kept")
    config = PrepareConfig("text", [rhymes_file], options={"split": "blank"})
    prepare(run, config)
    train(run, TINY_TRAIN.with_settings(max_steps=3))
    prepare(run, config)  # the same preparation again is harmless
    with pytest.raises(RunError, match=r"trained on data prepared with other seed; prepare it under a new --run"):
        prepare(run, dataclasses.replace(config, seed=7))
    run.manifest_path.write_text("[]")
    with pytest.raises(RunError, match="has checkpoints but a damaged manifest"):
        prepare(run, config)
    prepare(run, dataclasses.replace(config, seed=7, force=True))
    assert run.manifest().seed == 7


def test_a_pipe_is_not_a_source(tmp_path, runs_dir):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(CorpusError, match="is not a regular file or folder"):
        prepare(Run(runs_dir / "x"), PrepareConfig("text", [fifo]))


@pytest.mark.parametrize("damage,problem", [
    (lambda m: m.pop("dtype"), "'dtype' is missing"),
    (lambda m: m.update(dtype="int7"), "dtype 'int7' is not one of"),
    (lambda m: m["tokens"].update(train=-1), "tokens.train is not a count"),
    (lambda m: m.update(sources={"path": "x"}), "'sources' is not a list"),
    (lambda m: m["sources"][0].pop("sha256"), "source .*rhymes.txt has no SHA-256"),
    (lambda m: m["sources"][0].update(bytes="many"), "source .*rhymes.txt has no size in bytes"),
    (lambda m: m["sources"].append(None), "a source is not a JSON object"),
    (lambda m: m.update(options={"split": 3}), "'options' are not names and strings"),
    (lambda m: m.update(groups={"train": 3}), "groups is not a count per split"),
])
def test_a_damaged_manifest_is_named(rhymes_file, runs_dir, damage, problem):
    run = Run(runs_dir / "damaged")
    prepare(run, PrepareConfig("text", [rhymes_file]))
    manifest = json.loads(run.manifest_path.read_text())
    damage(manifest)
    run.manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(RunError, match=f"manifest.json is damaged \\({problem}"):
        train(run, TINY_TRAIN)
