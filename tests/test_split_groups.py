"""The split holds out whole groups: documents a corpus derived from one piece never straddle it."""

import dataclasses
import json

import pytest
from tiny import TINY_TRAIN

from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.plugin.corpus import CorpusPlugin, Document
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.run.folder import Run
from charmony.pipeline.system.errors import RunError
from charmony.pipeline.training.train import train

# Which of 30 ungrouped documents seed 3 held out (val_fraction 0.2) before groups existed.
HELD_OUT_BEFORE_GROUPS = [0, 4, 7, 9, 20, 28]


class PiecesCorpus(CorpusPlugin):
    """`pieces` pieces in `variants` versions each, all of a piece's versions grouped when `grouped` says so."""

    name = "pieces"
    description = "Numbered pieces, each in several versions."
    options = {"pieces": "how many", "variants": "versions of each", "grouped": "no, yes or alone (each document its own group)",
               "parts": "yield each document in two parts, the second without a group"}

    def documents(self, sources, options):
        grouped = options.get("grouped", "no")
        for variant in range(int(options.get("variants", "1"))):  # a piece's versions far apart, as bach's keys are
            for piece in range(int(options.get("pieces", "30"))):
                text = f"piece {piece} version {variant}\n"
                group = {"no": None, "yes": f"piece {piece}", "alone": f"{piece}/{variant}"}[grouped]
                if options.get("parts") == "yes":
                    yield Document(text[:6], group=group, continues=True)
                    yield Document(text[6:])
                else:
                    yield Document(text, group=group)


class PiecesPlugin:
    @hookimpl
    def register_corpora(self, register):
        register(PiecesCorpus())


@pytest.fixture
def pieces_corpus(register_plugin):
    register_plugin(PiecesPlugin(), "pieces-plugin")


@pytest.fixture
def pieces(pieces_corpus, runs_dir):
    """Prepare the pieces corpus as a run named after its options; return the run, its manifest and its documents per split."""

    def run(seed: int = 3, **options: str):
        name = "-".join(f"{k}{v}" for k, v in options.items()) + f"-seed{seed}"
        run = Run(runs_dir / name)
        manifest = prepare(run, PrepareConfig("pieces", seed=seed, val_fraction=0.2, options=options))
        return run, manifest, {split: split_documents(run, split) for split in ("train", "val")}

    return run


def split_documents(run: Run, split: str) -> list[str]:
    """The documents of one split, read back from its token file."""
    vocab = run.vocabulary()
    text = vocab.decode(t if t != vocab.eod_id else 0 for t in run.tokens(split).tolist())
    return [doc for doc in text.split("<eod>") if doc]


def piece_numbers(documents: list[str]) -> set[int]:
    return {int(document.split()[1]) for document in documents}


def test_documents_without_groups_are_held_out_as_before(pieces):
    _, manifest, documents = pieces()
    assert manifest.split == "documents" and manifest.groups is None
    assert documents["val"] == [f"piece {n} version 0\n" for n in HELD_OUT_BEFORE_GROUPS]


def test_each_document_its_own_group_splits_as_documents_without_groups_do(pieces):
    _, manifest, documents = pieces(grouped="alone", variants="2")
    _, _, ungrouped = pieces(variants="2")
    assert manifest.split == "groups" and manifest.groups == {"train": 48, "val": 12}
    assert documents == ungrouped


@pytest.mark.parametrize("parts", ["no", "yes"])
def test_every_version_of_a_piece_goes_to_the_same_side(pieces, parts):
    run, manifest, documents = pieces(grouped="yes", variants="4", parts=parts)
    train_pieces, val_pieces = piece_numbers(documents["train"]), piece_numbers(documents["val"])
    assert not train_pieces & val_pieces and len(train_pieces | val_pieces) == 30
    assert manifest.split == "groups" and manifest.groups == {"train": 24, "val": 6}
    assert manifest.documents == {"train": 96, "val": 24} and len(documents["val"]) == 24
    assert json.loads(run.manifest_path.read_text())["groups"] == {"train": 24, "val": 6}


def test_the_same_seed_holds_out_the_same_pieces_and_another_seed_others(pieces):
    held_out = {seed: piece_numbers(pieces(seed, grouped="yes", variants="3")[2]["val"]) for seed in (3, 4)}
    assert piece_numbers(pieces(3, grouped="yes", variants="3")[2]["val"]) == held_out[3]
    assert held_out[3] != held_out[4] and len(held_out[3]) == len(held_out[4]) == 6


def test_a_trained_run_is_not_regrouped_unless_forced(pieces_corpus, runs_dir):
    run = Run(runs_dir / "regrouped")
    config = PrepareConfig("pieces", seed=3, val_fraction=0.2, options={"variants": "2"})
    prepare(run, config)
    train(run, TINY_TRAIN.with_settings(max_steps=2))
    grouped = dataclasses.replace(config, options={"variants": "2", "grouped": "yes"})
    with pytest.raises(RunError, match="trained on data prepared with other options, split"):
        prepare(run, grouped)
    assert prepare(run, dataclasses.replace(grouped, force=True)).split == "groups"


def test_a_manifest_from_before_groups_is_read(pieces):
    run, manifest, _ = pieces(grouped="yes", variants="2")
    data = json.loads(run.manifest_path.read_text())
    del data["groups"]
    run.manifest_path.write_text(json.dumps(data))
    assert run.manifest().groups is None and run.manifest().documents == manifest.documents
