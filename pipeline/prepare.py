"""The `prepare` stage: documents from a corpus plugin become a vocabulary and token files."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charmony import __version__
from charmony.pipeline.atomic import write_json
from charmony.pipeline.corpus import CorpusPlugin, Document
from charmony.pipeline.errors import CharmonyError, ConfigError, CorpusError, PluginError, RunError, check_seed
from charmony.pipeline.plugins import corpus_version, get_corpus
from charmony.pipeline.runs import Run
from charmony.pipeline.sources import file_sha256
from charmony.pipeline.vocabulary import Vocabulary

SPLITS = ("train", "val")


@dataclass
class PrepareConfig:
    """What to prepare and how."""

    corpus: str
    sources: list[Path] = field(default_factory=list)
    max_vocab: int | None = None  # keep this many most frequent tokens, the rest become <unk>
    val_fraction: float = 0.1  # share of documents (or of the text, for one document) held out
    seed: int = 1337  # decides which documents are held out
    options: dict[str, str] = field(default_factory=dict)  # the corpus plugin's --option KEY=VALUE
    force: bool = False  # replace a trained run's data even when vocabulary, seed, split or options change

    def __post_init__(self) -> None:
        if not 0 <= self.val_fraction <= 0.5:
            raise ConfigError(f"--val-fraction must be from 0 to 0.5, not {self.val_fraction}")
        if self.max_vocab is not None and self.max_vocab < 1:
            raise ConfigError(f"--max-vocab must be at least 1, not {self.max_vocab}")
        check_seed(self.seed)


def _check_options(config: PrepareConfig, plugin: CorpusPlugin) -> None:
    unknown = sorted(set(config.options) - set(plugin.options))
    if unknown:
        offered = ", ".join(sorted(plugin.options)) or "none"
        raise ConfigError(f"corpus {plugin.name!r} has no option {unknown[0]!r}; its options: {offered}")


def _documents(plugin: CorpusPlugin, config: PrepareConfig) -> Iterator[tuple[Document, list[str] | str]]:
    """The plugin's documents with their tokens, its own failures named after it."""
    try:
        for document in plugin.documents(list(config.sources), dict(config.options)):
            yield document, plugin.tokenize(document.text)
    except CharmonyError:
        raise
    except Exception as error:
        raise PluginError(f"corpus plugin {plugin.name!r} failed: {type(error).__name__}: {error}") from error


def _assign_splits(lengths: list[int], val_fraction: float, seed: int) -> tuple[str, list[str] | int]:
    """Hold out whole documents chosen by seed or, for too few documents, the end of the text.

    Returns ("documents", split name per document) or ("contiguous", first validation position).
    """
    count = len(lengths)
    held_out = round(count * val_fraction)
    if val_fraction == 0 or 0 < held_out < count:
        chosen = set(np.random.default_rng(seed).permutation(count)[:held_out].tolist())
        return "documents", ["val" if i in chosen else "train" for i in range(count)]
    total = sum(lengths)
    return "contiguous", total - round(total * val_fraction)


def prepare(run: Run, config: PrepareConfig) -> dict:
    """Read the corpus, build the vocabulary, write the token files and manifest; return the manifest."""
    plugin = get_corpus(config.corpus)
    _check_options(config, plugin)
    if config.max_vocab is None and plugin.max_vocab is not None:
        config = dataclasses.replace(config, max_vocab=plugin.max_vocab)

    counts: Counter = Counter()
    lengths: list[int] = []
    sources: dict[Path, None] = {}
    for document, tokens in _documents(plugin, config):
        before = counts.total()
        counts.update(tokens)
        length = counts.total() - before
        if length:
            lengths.append(length + 1)  # + the end-of-document token
            if document.source is not None:
                sources[document.source] = None
    if not lengths:
        where = ", ".join(map(str, config.sources)) or plugin.default_source
        raise CorpusError(f"corpus {plugin.name!r} found no text in {where}")

    vocab = Vocabulary.from_counts(counts, config.max_vocab)
    split_kind, assignment = _assign_splits(lengths, config.val_fraction, config.seed)
    if split_kind == "documents":
        sizes = {s: sum(n for n, a in zip(lengths, assignment) if a == s) for s in SPLITS}
        documents = {s: assignment.count(s) for s in SPLITS}
    else:
        sizes = {"train": assignment, "val": sum(lengths) - assignment}
        ends = np.cumsum(lengths)
        starts = ends - np.asarray(lengths)
        # Documents with any text on each side of the cut; one document may straddle it.
        documents = {"train": int((starts < assignment).sum()), "val": int((ends > assignment).sum())}
    if sizes["train"] == 0:
        raise ConfigError(f"--val-fraction {config.val_fraction} leaves no training text in this corpus; lower it")
    if config.val_fraction > 0 and sizes["val"] == 0:
        raise ConfigError(f"--val-fraction {config.val_fraction} holds out no text of this corpus; raise it, or use 0")
    _protect_checkpoints(run, vocab, config)

    run.dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{run.name}.prepare-", dir=run.dir.parent))
    try:
        _encode(plugin, config, vocab, lengths, split_kind, assignment, sizes, staging)
        vocab.save(staging / "vocab.json")
        manifest = {
            "format": 1,
            "corpus": plugin.name,
            "plugin_version": corpus_version(plugin.name),
            "charmony_version": __version__,
            "sources": [
                {"path": str(path), "sha256": file_sha256(path), "bytes": path.stat().st_size}
                for path in sources if path.is_file()
            ],
            "documents": documents,
            "tokens": sizes,
            "split": split_kind,
            "vocab_size": len(vocab),
            "vocab_sha256": vocab.sha256,
            "unk": vocab.unk_id is not None,
            "dtype": vocab.dtype.name,
            "seed": config.seed,
            "val_fraction": config.val_fraction,
            "max_vocab": config.max_vocab,
            "options": dict(config.options),
            "prime": plugin.prime,
            "embedding": plugin.embedding,
            "extension": plugin.sample_extension(config.options),
        }
        write_json(staging / "manifest.json", manifest)
        run.dir.mkdir(parents=True, exist_ok=True)
        # The manifest goes last, so a run is never left claiming data it does not have.
        for name in ("vocab.json", "train.bin", "val.bin", "manifest.json"):
            (staging / name).replace(run.dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _encode(plugin, config, vocab, lengths, split_kind, assignment, sizes, staging: Path) -> None:
    """Second pass over the corpus: write each split's token ids straight into its file."""
    arrays = {}
    for split in SPLITS:
        path = staging / f"{split}.bin"
        path.touch()
        if sizes[split]:
            arrays[split] = np.memmap(path, dtype=vocab.dtype, mode="w+", shape=(sizes[split],))
    offsets = dict.fromkeys(SPLITS, 0)
    position = 0
    index = 0
    for _, tokens in _documents(plugin, config):
        ids = vocab.encode(tokens)
        if not ids:
            continue
        if index >= len(lengths) or len(ids) + 1 != lengths[index]:
            raise PluginError(f"corpus plugin {plugin.name!r} gave different documents when read a second time")
        ids.append(vocab.eod_id)
        if split_kind == "documents":
            pieces = [(assignment[index], ids)]
        else:
            cut = max(0, min(len(ids), assignment - position))
            pieces = [("train", ids[:cut]), ("val", ids[cut:])]
        for split, piece in pieces:
            if piece:
                arrays[split][offsets[split]: offsets[split] + len(piece)] = piece
                offsets[split] += len(piece)
        position += len(ids)
        index += 1
    if index != len(lengths):
        raise PluginError(f"corpus plugin {plugin.name!r} gave different documents when read a second time")
    for array in arrays.values():
        array.flush()


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
    if old.get("vocab_sha256") != vocab.sha256:
        raise RunError(f"run {run.name!r} has checkpoints trained on another vocabulary than this corpus gives; {advice}")
    same = {"corpus": config.corpus, "seed": config.seed, "val_fraction": config.val_fraction,
            "max_vocab": config.max_vocab, "options": dict(config.options)}
    changed = [key for key, value in same.items() if old.get(key) != value]
    if changed:
        raise RunError(f"run {run.name!r} has checkpoints trained on data prepared with other {', '.join(changed)}; {advice}")
