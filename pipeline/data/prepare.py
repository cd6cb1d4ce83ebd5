"""The `prepare` stage: documents from a corpus plugin become a vocabulary and token files."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charmony import __version__
from charmony.pipeline.system.atomic import write_json
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.plugin.corpus import CorpusPlugin, Document, check_options
from charmony.pipeline.data.encoding import Encoder, TokenCounter
from charmony.pipeline.data.split import GroupSides, HeldOut, Survey, split_plan
from charmony.pipeline.system.errors import ConfigError, CorpusError, PluginError, RunError
from charmony.pipeline.run.manifest import MANIFEST_FORMAT, SPLITS, Manifest, SourceRecord
from charmony.pipeline.plugin.manager import corpus_call, corpus_origin, get_corpus
from charmony.pipeline.run.lock import run_lock
from charmony.pipeline.run.folder import SCORED_NAME, Run
from charmony.pipeline.run.vocabulary import Vocabulary


READ_TOKENS = 1 << 20  # token ids read back at a time for the profile


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


@dataclass(frozen=True)
class Part:
    """A document, or a part of one, as the passes meet it."""

    tokens: Iterable[str]
    source: Path | None
    ends: bool  # whether it ends its document (the corpus' last part always does)
    split: str | None  # the split the corpus gave its document, if any
    group: str | None  # its document's group: that of the document's first part
    scored: bool = True  # False: its tokens are left out of the validation loss


def _parts(plugin: CorpusPlugin, config: PrepareConfig) -> Iterator[Part]:
    """Each part of each document, in order."""
    held, group, starts = None, None, True
    for document, tokens in _documents(plugin, config):
        if held is not None:
            yield held
        if document.split not in (None, *SPLITS):
            raise PluginError(f"corpus plugin {plugin.name!r} gave a document the split {document.split!r}; use 'train', 'val' or None")
        if starts:
            group = document.group
        held = Part(tokens, document.source, not document.continues, document.split, group, document.scored)
        starts = not document.continues
    if held is not None:
        yield dataclasses.replace(held, ends=True)


def _survey(plugin: CorpusPlugin, config: PrepareConfig, counter: TokenCounter) -> Survey:
    """First pass: count the tokens, documents and groups, streaming."""
    survey, length = Survey(), 0
    for part in _parts(plugin, config):
        count = counter.add(part.tokens)
        length += count
        survey.unscored += 0 if part.scored else count
        if part.ends:
            survey.add(length, part.source, part.split, part.group)
            length = 0
    if None in survey.given and len(survey.given) > 1:
        raise PluginError(f"corpus plugin {plugin.name!r} gave a split to some documents but not to others")
    return survey


def prepared_line(run: Run, manifest: Manifest) -> str:
    """What `charmony prepare` says it made: the run, its documents and tokens per split, and its vocabulary;
    then the `note` of the corpus' profile, where it keeps one line on what it chose (as the series corpus does)."""
    docs, tokens = manifest.documents, manifest.tokens
    line = (f"prepared run {run.name!r} in {run.dir}: corpus {manifest.corpus}, "
            f"{docs['train']:,} train / {docs['val']:,} val documents (split by {manifest.split}), "
            f"{tokens['train']:,} train / {tokens['val']:,} val tokens, vocabulary of {manifest.vocab_size} tokens")
    note = (run.profile() or {}).get("note")
    return f"{line}\n{note}" if isinstance(note, str) and note else line


def prepare(run: Run, config: PrepareConfig) -> Manifest:
    """Read the corpus, build the vocabulary, write the token files and manifest; return the manifest.

    Two streaming passes: one counts the tokens, one encodes them a part at a time straight into the
    token files, so memory stays small whatever the size of the corpus or of one document (it keeps only
    the names of the groups the corpus gives its documents).
    """
    with run_lock(run, "prepare"):
        return _prepare(run, config)


def _prepare(run: Run, config: PrepareConfig) -> Manifest:
    plugin = get_corpus(config.corpus)
    check_options(plugin, config.options)
    if config.val_fraction is not None and plugin.held_out_option:
        raise ConfigError(f"--val-fraction does not apply to corpus {plugin.name!r}, which holds out part of each document "
                          f"itself: leave it out, and give --option {plugin.held_out_option}=SHARE instead")
    if config.max_vocab is None and plugin.max_vocab is not None:
        config = dataclasses.replace(config, max_vocab=plugin.max_vocab)

    counter = TokenCounter()
    survey = _survey(plugin, config, counter)
    if not survey.documents:
        where = ", ".join(map(str, config.sources)) or plugin.default_source
        raise CorpusError(f"corpus {plugin.name!r} found no text in {where}")
    vocab = Vocabulary.from_counts(counter.counts(), config.max_vocab)
    split_kind, split_at = split_plan(survey, config.held_out_share)
    if split_kind == "corpus" and "train" not in survey.given:
        raise CorpusError(f"corpus {plugin.name!r} gave no training documents; give it the training text too")
    if split_kind == "contiguous":
        if split_at == 0:
            raise ConfigError(f"--val-fraction {config.held_out_share} leaves no training text in this corpus; lower it")
        if config.held_out_share > 0 and split_at == survey.tokens:
            raise ConfigError(f"--val-fraction {config.held_out_share} holds out no text of this corpus; raise it, or use 0")
    with corpus_call(plugin, "to name its layout"):
        layout = plugin.layout(config.options)
    _protect_checkpoints(run, vocab, config, split_kind, layout, survey.unscored > 0)

    run.dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{run.name}.prepare-", dir=run.dir.parent))
    try:
        sizes, documents, groups, unscored = _encode(plugin, config, Encoder(vocab), survey, split_kind, split_at, staging)
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
            groups=groups,
            vocab_size=len(vocab),
            vocab_sha256=vocab.sha256,
            unk=vocab.unk_id is not None,
            dtype=vocab.dtype.name,
            seed=config.seed,
            val_fraction=config.held_out_share,
            max_vocab=config.max_vocab,
            options=dict(config.options),
            prime=plugin.prime,
            embedding=plugin.embedding,
            token_unit=plugin.token_unit,
            extension=extension,
            checks=list(plugin.checks),
            layout=layout,
            unscored=unscored,
        )
        manifest.save(staging / "manifest.json")
        run.dir.mkdir(parents=True, exist_ok=True)
        # The manifest goes last, so a run is never left claiming data it does not have.
        if profile is not None:
            write_json(staging / "profile.json", profile)
        for name in ("vocab.json", "train.bin", "val.bin", "profile.json", SCORED_NAME):
            if (staging / name).exists():
                (staging / name).replace(run.dir / name)
        if profile is None:
            run.profile_path.unlink(missing_ok=True)
        if not unscored:
            run.scored_path.unlink(missing_ok=True)
        (staging / "manifest.json").replace(run.manifest_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _training_documents(staging: Path, vocab: Vocabulary) -> Iterator[str]:
    """The texts of the training documents just written to `staging/train.bin`, read a block at a time."""
    pending: list[np.ndarray] = []  # the ids of a document whose <eod> is still to come
    with (staging / "train.bin").open("rb") as handle:
        while len(block := np.fromfile(handle, dtype=vocab.dtype, count=READ_TOKENS)):
            start = 0
            for end in np.flatnonzero(block == vocab.eod_id):
                yield vocab.decode(np.concatenate([*pending, block[start:end]]).tolist())
                pending, start = [], end + 1
            pending.append(block[start:])


def _profile(plugin: CorpusPlugin, staging: Path, vocab: Vocabulary) -> dict | None:
    """The plugin's profile of the training documents, read back from the token file; None when it keeps none."""
    if type(plugin).profile is CorpusPlugin.profile:
        return None
    with corpus_call(plugin, "to profile its documents"):
        return plugin.profile(_training_documents(staging, vocab))


def _encode(plugin, config, encoder: Encoder, survey: Survey, split_kind: str, split_at: int, staging: Path):
    """Second pass: append each part's token ids to its split's file; return tokens and documents per split,
    groups per split when whole groups were held out (else None), and the validation tokens left unscored.

    Where the corpus marked parts unscored, val.scored.bin holds a weight per validation token: 0 for those
    parts and for the <eod> of a document with one, 1 for the others; it is removed when every token is scored."""
    different = PluginError(f"corpus plugin {plugin.name!r} gave different documents when read a second time")
    eod = np.array([encoder.vocab.eod_id], dtype=encoder.vocab.dtype)
    sides = GroupSides(HeldOut(survey.units, split_at, config.seed)) if split_kind in ("groups", "documents") else None
    sizes = dict.fromkeys(SPLITS, 0)
    documents = dict.fromkeys(SPLITS, 0)
    again = Survey()
    length = 0  # tokens of the current document so far
    reads_only = False  # whether the current document has a part left unscored
    unscored = 0
    split: str | None = None  # of the current document, when split by groups, documents or the corpus
    with ExitStack() as stack:
        files = {name: stack.enter_context((staging / f"{name}.bin").open("wb")) for name in SPLITS}
        weights = stack.enter_context((staging / SCORED_NAME).open("wb")) if survey.unscored else None

        def write(ids: np.ndarray, scored: bool = True) -> None:
            """Write ids that start at corpus position sizes[train] + sizes[val], scored in validation or not."""
            nonlocal unscored
            if split is not None:  # split by documents
                pieces = [(split, ids)]
            else:
                cut = max(0, min(len(ids), split_at - sizes["train"] - sizes["val"]))
                pieces = [("train", ids[:cut]), ("val", ids[cut:])]
            for name, piece in pieces:
                if len(piece):
                    files[name].write(piece.tobytes())
                    sizes[name] += len(piece)
                    if weights is not None and name == "val":
                        weights.write(np.full(len(piece), scored, dtype=np.uint8).tobytes())
                        unscored += 0 if scored else len(piece)

        start = 0
        for part in _parts(plugin, config):
            try:
                ids = encoder.encode(part.tokens)
            except KeyError:
                raise different from None
            if len(ids) and not length:
                start = sizes["train"] + sizes["val"]
                split = part.split if split_kind == "corpus" else sides.side(part.group) if sides else None
            length += len(ids)
            reads_only = reads_only or not part.scored
            write(ids, part.scored)
            if part.ends:
                if length:
                    write(eod, not reads_only)
                    _count_document(documents, split_kind, split, start, sizes, split_at)
                again.add(length, part.source, part.split, part.group)
                length, reads_only = 0, False
    if (again.documents, again.units, again.tokens, again.lengths.digest()) != (
            survey.documents, survey.units, survey.tokens, survey.lengths.digest()):
        raise different
    groups = sides.units if sides is not None and split_kind == "groups" else None
    if unscored and unscored == sizes["val"]:
        if split_kind == "corpus":
            raise PluginError(f"corpus plugin {plugin.name!r} marked every validation token unscored; leave some scored")
        raise ConfigError(f"--val-fraction {config.held_out_share} holds out only text the corpus marks unscored; raise it")
    if weights is not None and not unscored:
        (staging / SCORED_NAME).unlink()
    return sizes, documents, groups, unscored


def _count_document(documents: dict, split_kind: str, split: str | None, start: int, sizes: dict, split_at: int) -> None:
    """Count a finished document in the split(s) it went to; with a contiguous split one may straddle the cut."""
    if split_kind != "contiguous":
        documents[split] += 1
        return
    end = sizes["train"] + sizes["val"]
    documents["train"] += start < split_at
    documents["val"] += end > split_at


def _protect_checkpoints(run: Run, vocab: Vocabulary, config: PrepareConfig, split_kind: str, layout: str | None,
                         weighted: bool) -> None:
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
    same = {"format": MANIFEST_FORMAT, "corpus": config.corpus, "seed": config.seed, "val_fraction": config.held_out_share,
            "max_vocab": config.max_vocab, "options": dict(config.options), "split": split_kind, "layout": layout}
    changed = [key for key, value in same.items() if getattr(old, key) != value]
    if bool(old.unscored) != weighted:  # what the validation loss counts: a run prepared before Document.scored
        changed.append("validation weights")
    if changed:
        raise RunError(f"run {run.name!r} has checkpoints trained on data prepared with other {', '.join(changed)}; {advice}")
