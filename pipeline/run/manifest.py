"""The manifest of a prepared run (`manifest.json`): what was prepared, how, and from which files.

`Manifest` is the one owner of the format: `prepare` writes it, and everything else reads it
through `Manifest.load`, which refuses a damaged file with one line.

The corpus plugin's settings that shape a run's samples (its prime, sample extension, embedding
advice and checks) are frozen here at prepare time, so that a run samples the same way after the
plugin changes; only `tokenize` (for `--prime`) and `finish` come from the live plugin.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from collections.abc import Iterable
from pathlib import Path

from charmony.pipeline.plugin.corpus import CorpusPlugin
from charmony.pipeline.plugin.manager import BUILTIN_ORIGIN, LOAD_PLUGINS_ENV, corpora
from charmony.pipeline.system.atomic import write_json
from charmony.pipeline.system.errors import CorpusError, PluginError, RunError
from charmony.pipeline.system.sources import file_sha256

# 2: documents are held out by selection sampling, in one streaming pass (whole groups of them, split
#    "groups", where the corpus groups its documents; manifests from before groups have no `groups`)
MANIFEST_FORMAT = 2
SPLITS = ("train", "val")
DTYPES = ("uint8", "uint16", "uint32")


@dataclass(frozen=True)
class SourceRecord:
    """A source file as `prepare` read it, to notice later when it changes."""

    path: str
    sha256: str
    bytes: int
    mtime_ns: int | None = None

    @classmethod
    def of(cls, path: Path) -> SourceRecord:
        """The record of a file as it is now, by its absolute path, so that it is found from any folder."""
        stat = path.stat()
        return cls(str(path.absolute()), file_sha256(path), stat.st_size, stat.st_mtime_ns)

    @classmethod
    def from_json(cls, data) -> SourceRecord:
        """The record `to_json` gave, or a ValueError saying what is wrong with it."""
        if not isinstance(data, dict):
            raise ValueError("a source is not a JSON object")
        path, sha256, size, mtime = data.get("path"), data.get("sha256"), data.get("bytes"), data.get("mtime_ns")
        if not isinstance(path, str) or not path:
            raise ValueError("a source has no path")
        if not isinstance(sha256, str) or len(sha256) != 64:
            raise ValueError(f"source {path} has no SHA-256")
        if not isinstance(size, int) or not _is_count(size):
            raise ValueError(f"source {path} has no size in bytes")
        if mtime is not None and not isinstance(mtime, int):
            raise ValueError(f"source {path} has a modification time that is not a number")
        return cls(path, sha256, size, mtime)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _counts(data, name: str) -> dict[str, int]:
    if not isinstance(data, dict) or not all(_is_count(data.get(split)) for split in SPLITS):
        raise ValueError(f"{name} is not a count per split")
    return {split: data[split] for split in SPLITS}


# Every field's JSON type, for the fields whose type alone can be wrong.
_TYPES: dict[str, type | tuple[type, ...]] = {
    "corpus": str, "dtype": str, "vocab_size": int, "vocab_sha256": str, "extension": str, "format": int,
    "split": str, "plugin_version": str, "plugin_distribution": (str, type(None)), "charmony_version": str,
    "unk": bool, "seed": (int, type(None)), "val_fraction": (float, int, type(None)), "max_vocab": (int, type(None)),
    "options": dict, "prime": str, "embedding": bool, "checks": (list, type(None)), "token_unit": str,
    "layout": (str, type(None)), "unscored": int,
}
_REQUIRED = ("corpus", "dtype", "tokens", "vocab_size", "vocab_sha256", "extension")


@dataclass
class Manifest:
    """A prepared run: corpus, plugin, sources, documents and tokens per split, split, vocabulary, options."""

    corpus: str
    dtype: str  # of the token files: the smallest unsigned type that holds every id
    tokens: dict[str, int]  # per split, each document's tokens and its <eod>
    vocab_size: int
    vocab_sha256: str
    extension: str  # of sample files
    documents: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    # "documents" (whole ones held out), "groups" (whole groups of documents held out, as the corpus grouped
    # them), "contiguous" (the end of the text) or "corpus" (the corpus gave each document its split, as PTB's files do)
    split: str = "documents"
    groups: dict[str, int] | None = None  # per split, with split "groups": groups and documents without one
    format: int = MANIFEST_FORMAT
    plugin_version: str = "unknown"
    plugin_distribution: str | None = None  # that provided the corpus plugin; named when it is no longer installed
    charmony_version: str = "unknown"
    sources: list[SourceRecord] = field(default_factory=list)
    unk: bool = False  # whether the vocabulary has <unk>
    seed: int | None = None  # of the split
    val_fraction: float | None = None
    max_vocab: int | None = None
    options: dict[str, str] = field(default_factory=dict)  # the corpus plugin's --option values
    prime: str = ""  # the corpus' prime, frozen at prepare time
    embedding: bool = True  # whether the corpus recommends a learned embedding
    checks: list[str] | None = None  # output plugins that check every sample; None (older runs): the plugin's own
    token_unit: str = "character"  # what one token is; runs of any unit but "character" report perplexity, not bpc
    layout: str | None = None  # how the documents are written, as the corpus' `layout` named it; None: its one way
    unscored: int = 0  # validation tokens read but left out of the validation loss (val.scored.bin); 0: none

    @property
    def word_level(self) -> bool:
        """Whether the tokens are words (or values), measured by perplexity rather than bits per character."""
        return self.token_unit != "character"

    def to_json(self) -> dict:
        """The manifest as plain JSON data."""
        return asdict(self)

    @classmethod
    def from_json(cls, data) -> Manifest:
        """The manifest `to_json` gave, or a ValueError saying what is wrong with it."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        for key in _REQUIRED:
            if key not in data:
                raise ValueError(f"{key!r} is missing")
        for key, kind in _TYPES.items():
            if key in data and (not isinstance(data[key], kind) or (kind is int and isinstance(data[key], bool))):
                raise ValueError(f"{key!r} is not of the right type")
        if data["dtype"] not in DTYPES:
            raise ValueError(f"dtype {data['dtype']!r} is not one of {', '.join(DTYPES)}")
        for split in SPLITS:
            if not _is_count(data["tokens"].get(split) if isinstance(data["tokens"], dict) else None):
                raise ValueError(f"tokens.{split} is not a count")
        sources = data.get("sources", [])
        if not isinstance(sources, list):
            raise ValueError("'sources' is not a list")
        known = {key: data[key] for key in _TYPES if key in data}
        if "options" in known and not all(isinstance(k, str) and isinstance(v, str) for k, v in known["options"].items()):
            raise ValueError("'options' are not names and strings")
        if known.get("checks") is not None and not all(isinstance(name, str) for name in known["checks"]):
            raise ValueError("'checks' are not plugin names")
        return cls(
            tokens=_counts(data["tokens"], "tokens"),
            documents=_counts(data.get("documents", dict.fromkeys(SPLITS, 0)), "documents"),
            groups=None if data.get("groups") is None else _counts(data["groups"], "groups"),
            sources=[SourceRecord.from_json(record) for record in sources],
            **known,
        )

    def save(self, path: Path) -> None:
        """Write manifest.json atomically."""
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read manifest.json, or a RunError saying it is unreadable or damaged."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise RunError(f"{path} is not valid JSON ({error}); prepare the run again") from None
        try:
            return cls.from_json(data)
        except ValueError as error:
            raise RunError(f"{path} is damaged ({error}); prepare the run again") from None


def check_sources(records: Iterable[SourceRecord], advice: str) -> None:
    """Raise a CorpusError when a source file recorded at prepare time has changed since.

    A file whose size and modification time are as recorded is taken as unchanged; otherwise its
    hash decides. A file that is gone is not checked: the prepared token files do not need it.
    """
    for record in records:
        path = Path(record.path)
        try:
            stat = path.stat()
        except OSError:
            continue
        if stat.st_size != record.bytes:
            what = "shrank" if stat.st_size < record.bytes else "grew"
            raise CorpusError(f"{path} {what} from {record.bytes:,} to {stat.st_size:,} bytes since it was prepared; {advice}")
        if stat.st_mtime_ns != record.mtime_ns and file_sha256(path) != record.sha256:
            raise CorpusError(f"{path} changed since it was prepared (its SHA-256 differs); {advice}")


def get_run_corpus(manifest: Manifest) -> CorpusPlugin:
    """The corpus plugin a run was prepared with, or a PluginError naming the distribution that provided it."""
    known = corpora()
    if manifest.corpus in known:
        return known[manifest.corpus]
    origin = manifest.plugin_distribution
    if origin is None or origin == BUILTIN_ORIGIN:
        raise PluginError(f"the run was prepared with corpus {manifest.corpus!r}, which no installed plugin provides")
    raise PluginError(
        f"the run was prepared with corpus {manifest.corpus!r} from {origin} {manifest.plugin_version}, which is not "
        f"installed now (or not loaded: see {LOAD_PLUGINS_ENV}); install it with `python -m pip install {origin}`"
    )


def run_checks(manifest: Manifest) -> list[str]:
    """The output plugins that check every sample of a run: those frozen at prepare time, else (older runs) the corpus' own."""
    return list(get_run_corpus(manifest).checks if manifest.checks is None else manifest.checks)
