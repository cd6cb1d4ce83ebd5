"""The `prepare` stage: documents from a corpus plugin become a vocabulary and token files."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from charmony import __version__
from charmony.pipeline.system.atomic import write_json
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.plugin.corpus import CorpusPlugin, Document, check_options
from charmony.pipeline.data.encoding import Encoder, TokenCounter
from charmony.pipeline.system.errors import ConfigError, CorpusError, PluginError, RunError
from charmony.pipeline.run.manifest import MANIFEST_FORMAT, SPLITS, Manifest, SourceRecord
from charmony.pipeline.plugin.manager import corpus_call, corpus_origin, get_corpus
from charmony.pipeline.run.lock import run_lock
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.vocabulary import Vocabulary


def _documents(plugin: CorpusPlugin, config: PrepareConfig) -> Iterator[tuple[Document, Iterable[str]]]:
    """The plugin's documents (or parts of them) with their tokens, its own failures named after it."""
    with corpus_call(plugin, ""):
        documents = iter(plugin.documents(list(config.sources), dict(config.options)))
    end = Document("")  # stands for the end of the documents: no plugin's document is this very object
    while True:
        with corpus_call(plugin, ""):
            document = next(documents, end)
        if document is end:
            return
        with corpus_call(plugin, "to tokenize its documents"):
            tokens = plugin.tokenize(document.text)
            tokens = tokens if isinstance(tokens, str) else list(tokens)
        yield document, tokens


def _parts(plugin: CorpusPlugin, config: PrepareConfig) -> Iterator[tuple[Iterable[str], Path | None, bool, str | None]]:
    """Each part's tokens, its source, whether it ends its document (the corpus' last part always does),
    and the split the corpus gives it, if any."""
    held = None
    for document, tokens in _documents(plugin, config):
        if held is not None:
            yield held
        if document.split not in (None, *SPLITS):
            raise PluginError(f"corpus plugin {plugin.name!r} gave a document the split {document.split!r}; use 'train', 'val' or None")
        held = (tokens, document.source, not document.continues, document.split)
    if held is not None:
        yield held[0], held[1], True, held[3]


@dataclass
class Survey:
    """What the first pass over the corpus learns, without keeping anything per document."""

    documents: int = 0  # with at least one token
    tokens: int = 0  # each document's tokens and its <eod>
    lengths: Any = field(default_factory=hashlib.sha256)  # digest of the document lengths, to compare passes
    sources: dict = field(default_factory=dict)  # source files of documents with tokens, in order
    given: dict = field(default_factory=dict)  # documents with tokens by the split their corpus gave them (None: none)

    def add(self, length: int, source: Path | None, split: str | None = None) -> None:
        """Count a document of `length` tokens (without its <eod>) read from `source`, of the corpus' `split`."""
        if length:
            self.given[split] = self.given.get(split, 0) + 1
            self.documents += 1
            self.tokens += length + 1
            self.lengths.update(length.to_bytes(8, "little"))
            if source is not None:
                self.sources[source] = None


def _survey(plugin: CorpusPlugin, config: PrepareConfig, counter: TokenCounter) -> Survey:
    """First pass: count the tokens and documents, streaming."""
    survey, length = Survey(), 0
    for tokens, source, ends, split in _parts(plugin, config):
        length += counter.add(tokens)
        if ends:
            survey.add(length, source, split)
            length = 0
    if None in survey.given and len(survey.given) > 1:
        raise PluginError(f"corpus plugin {plugin.name!r} gave a split to some documents but not to others")
    return survey


class HeldOut:
    """Chooses exactly `count` of `total` documents met one at a time, each set equally likely (selection sampling)."""

    def __init__(self, total: int, count: int, seed: int):
        self.remaining, self.needed = total, count
        self.random = np.random.default_rng(seed)

    def next(self) -> str:
        """The split of the next document."""
        chosen = self.random.random() * self.remaining < self.needed
        self.remaining -= 1
        self.needed -= chosen
        return "val" if chosen else "train"


def _split_plan(survey: Survey, val_fraction: float) -> tuple[str, int]:
    """Hold out whole documents or, for too few documents, the end of the text.

    Returns ("documents", how many to hold out) or ("contiguous", first validation position), or
    ("corpus", 0) when the corpus gave every document its split, as PTB's files do.
    """
    if None not in survey.given:
        return "corpus", 0
    held_out = round(survey.documents * val_fraction)
    if val_fraction == 0 or 0 < held_out < survey.documents:
        return "documents", held_out
    return "contiguous", survey.tokens - round(survey.tokens * val_fraction)


def prepared_line(run: Run, manifest: Manifest) -> str:
    """What `charmony prepare` says it made: the run, its documents and tokens per split, and its vocabulary."""
    docs, tokens = manifest.documents, manifest.tokens
    return (f"prepared run {run.name!r} in {run.dir}: corpus {manifest.corpus}, "
            f"{docs['train']:,} train / {docs['val']:,} val documents (split by {manifest.split}), "
            f"{tokens['train']:,} train / {tokens['val']:,} val tokens, vocabulary of {manifest.vocab_size} tokens")


def prepare(run: Run, config: PrepareConfig) -> Manifest:
    """Read the corpus, build the vocabulary, write the token files and manifest; return the manifest.

    Two streaming passes: one counts the tokens, one encodes them a part at a time straight into the
    token files, so memory stays small whatever the size of the corpus or of one document.
    """
    with run_lock(run, "prepare"):
        return _prepare(run, config)


def _prepare(run: Run, config: PrepareConfig) -> Manifest:
    plugin = get_corpus(config.corpus)
    check_options(plugin, config.options)
    if config.max_vocab is None and plugin.max_vocab is not None:
        config = dataclasses.replace(config, max_vocab=plugin.max_vocab)

    counter = TokenCounter()
    survey = _survey(plugin, config, counter)
    if not survey.documents:
        where = ", ".join(map(str, config.sources)) or plugin.default_source
        raise CorpusError(f"corpus {plugin.name!r} found no text in {where}")
    vocab = Vocabulary.from_counts(counter.counts(), config.max_vocab)
    split_kind, split_at = _split_plan(survey, config.val_fraction)
    if split_kind == "corpus" and "train" not in survey.given:
        raise CorpusError(f"corpus {plugin.name!r} gave no training documents; give it the training text too")
    if split_kind == "contiguous":
        if split_at == 0:
            raise ConfigError(f"--val-fraction {config.val_fraction} leaves no training text in this corpus; lower it")
        if config.val_fraction > 0 and split_at == survey.tokens:
            raise ConfigError(f"--val-fraction {config.val_fraction} holds out no text of this corpus; raise it, or use 0")
    _protect_checkpoints(run, vocab, config)

    run.dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{run.name}.prepare-", dir=run.dir.parent))
    try:
        sizes, documents = _encode(plugin, config, Encoder(vocab), survey, split_kind, split_at, staging)
        vocab.save(staging / "vocab.json")
        profile = _profile(plugin, staging, vocab)
        with corpus_call(plugin, "to name its sample files"):
            extension = plugin.sample_extension(config.options)
        distribution, version = corpus_origin(plugin.name)
        manifest = Manifest(
            corpus=plugin.name,
            plugin_version=version,
            plugin_distribution=distribution,
            charmony_version=__version__,
            sources=[SourceRecord.of(path) for path in survey.sources if path.is_file()],
            documents=documents,
            tokens=sizes,
            split=split_kind,
            vocab_size=len(vocab),
            vocab_sha256=vocab.sha256,
            unk=vocab.unk_id is not None,
            dtype=vocab.dtype.name,
            seed=config.seed,
            val_fraction=config.val_fraction,
            max_vocab=config.max_vocab,
            options=dict(config.options),
            prime=plugin.prime,
            embedding=plugin.embedding,
            token_unit=plugin.token_unit,
            extension=extension,
            checks=list(plugin.checks),
        )
        manifest.save(staging / "manifest.json")
        run.dir.mkdir(parents=True, exist_ok=True)
        # The manifest goes last, so a run is never left claiming data it does not have.
        if profile is not None:
            write_json(staging / "profile.json", profile)
        for name in ("vocab.json", "train.bin", "val.bin", "profile.json"):
            if (staging / name).exists():
                (staging / name).replace(run.dir / name)
        if profile is None:
            run.profile_path.unlink(missing_ok=True)
        (staging / "manifest.json").replace(run.manifest_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _training_documents(staging: Path, vocab: Vocabulary) -> Iterator[str]:
    """The texts of the training documents just written to `staging/train.bin`."""
    path = staging / "train.bin"
    if path.stat().st_size == 0:
        return
    ids = np.memmap(path, dtype=vocab.dtype, mode="r")
    ends = np.flatnonzero(ids == vocab.eod_id)
    start = 0
    for end in ends:
        yield vocab.decode(ids[start:end].tolist())
        start = end + 1


def _profile(plugin: CorpusPlugin, staging: Path, vocab: Vocabulary) -> dict | None:
    """The plugin's profile of the training documents, read back from the token file; None when it keeps none."""
    if type(plugin).profile is CorpusPlugin.profile:
        return None
    with corpus_call(plugin, "to profile its documents"):
        return plugin.profile(_training_documents(staging, vocab))


def _encode(plugin, config, encoder: Encoder, survey: Survey, split_kind: str, split_at: int, staging: Path):
    """Second pass: append each part's token ids to its split's file; return tokens and documents per split."""
    different = PluginError(f"corpus plugin {plugin.name!r} gave different documents when read a second time")
    eod = np.array([encoder.vocab.eod_id], dtype=encoder.vocab.dtype)
    held_out = HeldOut(survey.documents, split_at, config.seed) if split_kind == "documents" else None
    sizes = dict.fromkeys(SPLITS, 0)
    documents = dict.fromkeys(SPLITS, 0)
    again = Survey()
    length = 0  # tokens of the current document so far
    split: str | None = None  # of the current document, when split by documents
    with ExitStack() as stack:
        files = {name: stack.enter_context((staging / f"{name}.bin").open("wb")) for name in SPLITS}

        def write(ids: np.ndarray) -> None:
            """Write ids that start at corpus position sizes[train] + sizes[val]."""
            if split is not None:  # split by documents
                pieces = [(split, ids)]
            else:
                cut = max(0, min(len(ids), split_at - sizes["train"] - sizes["val"]))
                pieces = [("train", ids[:cut]), ("val", ids[cut:])]
            for name, piece in pieces:
                if len(piece):
                    files[name].write(piece.tobytes())
                    sizes[name] += len(piece)

        start = 0
        for tokens, source, ends, given in _parts(plugin, config):
            try:
                ids = encoder.encode(tokens)
            except KeyError:
                raise different from None
            if len(ids) and not length:
                start = sizes["train"] + sizes["val"]
                split = given if split_kind == "corpus" else held_out.next() if held_out else None
            length += len(ids)
            write(ids)
            if ends:
                if length:
                    write(eod)
                    _count_document(documents, split_kind, split, start, sizes, split_at)
                again.add(length, source, given)
                length = 0
    if (again.documents, again.tokens, again.lengths.digest()) != (survey.documents, survey.tokens, survey.lengths.digest()):
        raise different
    return sizes, documents


def _count_document(documents: dict, split_kind: str, split: str | None, start: int, sizes: dict, split_at: int) -> None:
    """Count a finished document in the split(s) it went to; with a contiguous split one may straddle the cut."""
    if split_kind in ("documents", "corpus"):
        documents[split] += 1
        return
    end = sizes["train"] + sizes["val"]
    documents["train"] += start < split_at
    documents["val"] += end > split_at


def _protect_checkpoints(run: Run, vocab: Vocabulary, config: PrepareConfig) -> None:
    """Refuse to change the data under a trained run's checkpoints unless forced.

    Preparing the same corpus the same way again is harmless; a new vocabulary would orphan the
    checkpoints, and new data or a new split would make their validation losses incomparable.
    """
    if config.force or not run.has_checkpoints():
        return
    advice = "prepare it under a new --run name, or replace it with --force"
    try:
        old = run.manifest()
    except RunError:
        raise RunError(f"run {run.name!r} has checkpoints but a damaged manifest; {advice}") from None
    if old.vocab_sha256 != vocab.sha256:
        raise RunError(f"run {run.name!r} has checkpoints trained on another vocabulary than this corpus gives; {advice}")
    same = {"format": MANIFEST_FORMAT, "corpus": config.corpus, "seed": config.seed, "val_fraction": config.val_fraction,
            "max_vocab": config.max_vocab, "options": dict(config.options)}
    changed = [key for key, value in same.items() if getattr(old, key) != value]
    if changed:
        raise RunError(f"run {run.name!r} has checkpoints trained on data prepared with other {', '.join(changed)}; {advice}")
