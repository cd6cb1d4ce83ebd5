"""Validation documents may lead with parts the model reads but the validation loss leaves out (Document.scored)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from charmony.pipeline.data.batching import DeviceBatches, DocumentRows, StreamBatches
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.model.charmodel import CharModel
from charmony.pipeline.plugin.corpus import CorpusPlugin, Document
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.run.config import ModelConfig, PrepareConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.system.errors import PluginError
from charmony.pipeline.training.train import evaluate


class CuedCorpus(CorpusPlugin):
    """Training lines of a cue and an answer; validation lines whose cue is read only (unless `options` say)."""

    name = "cued"
    description = "Cues and answers."
    options = {"scored": "which validation parts are scored: answers (default), all or none"}

    def documents(self, sources, options):
        random = np.random.default_rng(0)
        scored = options.get("scored", "answers")
        for number in range(60):
            cue = "".join(random.choice(list("0123456789"), 12)) + "|"
            split = "val" if number % 4 == 0 else "train"
            if split == "val":
                yield Document(cue, split=split, continues=True, scored=scored == "all")
                yield Document("abab", split=split, scored=scored != "none")
            else:
                yield Document(cue + "abab", split=split)


class CuedPlugin:
    @hookimpl
    def register_corpora(self, register):
        register(CuedCorpus())


@pytest.fixture
def cued(register_plugin, runs_dir):
    register_plugin(CuedPlugin(), "cued-plugin")

    def run_and_config(name: str, **options: str) -> tuple[Run, PrepareConfig]:
        return Run(runs_dir / name), PrepareConfig("cued", options=options)

    return run_and_config


def test_prepare_weighs_each_validation_token_and_drops_the_weights_when_all_count(cued):
    runs = {}
    for name, option in (("answers", "answers"), ("all", "all")):
        run, config = cued(name, scored=option)
        prepare(run, config)
        runs[name] = run
    manifest = runs["answers"].manifest()
    weights = runs["answers"].scored()
    ids = runs["answers"].tokens("val")
    vocab = runs["answers"].vocabulary()
    assert manifest.unscored == 15 * (13 + 1), "each of 15 cues and its document's <eod>"
    assert weights is not None and len(weights) == len(ids) == 15 * (13 + 4 + 1)
    text = "".join("#" if t == vocab.eod_id else vocab.decode([t]) for t in ids.tolist())
    marked = "".join(ch if weight else "_" for ch, weight in zip(text, weights.tolist()))
    assert marked == ("_" * 13 + "abab" + "_") * 15, "the cue and the <eod> read only, the answer scored"
    assert runs["all"].manifest().unscored == 0 and runs["all"].scored() is None
    assert not runs["all"].scored_path.exists()
    run, config = cued("answers", scored="all")  # prepared again over the run that had weights
    prepare(run, config)
    assert not run.scored_path.exists() and run.scored() is None


def test_prepare_refuses_validation_with_nothing_scored(cued):
    run, config = cued("none", scored="none")
    with pytest.raises(PluginError, match="marked every validation token unscored"):
        prepare(run, config)
    assert not run.dir.exists() or not run.is_prepared()


def test_the_validation_loss_reads_each_document_whole_and_counts_its_scored_tokens_alone(cued):
    run, config = cued("answers")
    prepare(run, config)
    ids, weights, vocab = run.tokens("val"), run.scored(), run.vocabulary()
    torch.manual_seed(0)
    model = CharModel(ModelConfig(layers=1, hidden=16, embedding=8, vocab_size=len(vocab)))
    chars, cpu = torch.from_numpy(vocab.token_lengths()), torch.device("cpu")
    rows = DocumentRows(ids, weights, vocab.eod_id, 4, 5, 10_000)  # chunks of 5 tokens: a cue (13) spans three
    weighted, _ = evaluate(model, rows, 100, chars, cpu)
    plain, _ = evaluate(model, DeviceBatches(StreamBatches(ids, 4, 5, "val"), cpu), 100, chars, cpu)
    # each document read on its own from a fresh state, in one call, and its answer's losses picked out
    losses, kept = [], []
    model.eval()
    ends = np.flatnonzero(np.asarray(ids) == vocab.eod_id) + 1
    with torch.no_grad():
        for start, end in zip([0, *ends[:-1]], ends):
            document = torch.from_numpy(np.asarray(ids[start:end], dtype=np.int64))[None]
            logits, _ = model(document[:, :-1], model.initial_state(1, cpu))
            losses.append(F.cross_entropy(logits[0], document[0, 1:], reduction="none"))
            kept.append(torch.from_numpy(np.asarray(weights[start + 1:end], dtype=bool)))
    scored = torch.cat(losses)[torch.cat(kept)]
    assert len(scored) == 15 * 4, "each answer's four tokens; the first answer token is read after its whole cue"
    assert math.isclose(weighted, scored.mean().item(), rel_tol=1e-5)
    assert not math.isclose(weighted, plain, rel_tol=1e-3)


def test_a_process_reads_its_share_of_the_documents_within_the_budget(cued):
    run, config = cued("answers")
    prepare(run, config)
    ids, weights, eod = run.tokens("val"), run.scored(), run.vocabulary().eod_id
    both = [DocumentRows(ids, weights, eod, 4, 8, 10_000, rank, 2) for rank in (0, 1)]
    assert [len(rows.rows) for rows in both] == [8, 7], "every other document of 15"
    spread = DocumentRows(ids, weights, eod, 4, 8, 18 * 3)
    assert [len(ids_) for ids_, _ in spread.rows] == [18, 18, 18], "three documents of 18 tokens within 54"
    assert [int(w.sum()) for _, w in spread.rows] == [4, 4, 4]
    first, last = ids[:18].tolist(), ids[-18:].tolist()
    assert spread.rows[0][0].tolist() == first and spread.rows[-1][0].tolist() == last, "the first and the last"
    assert len(DocumentRows(ids, weights, eod, 4, 8, 5).rows[0][0]) == 5, "the first document, cut to the budget"
