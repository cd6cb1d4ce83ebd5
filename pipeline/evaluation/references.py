"""What samples are evaluated against: a run's held-out documents (style) and its training documents (copying).

Read from the run's token files. For ABC runs the tunes are parsed once and kept in `evaluation-cache.json`
in the run folder, keyed by a hash of the token files, since parsing thousands of tunes takes seconds.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from charmony.pipeline.abc.collection import split_tunes
from charmony.pipeline.abc.features import TuneFeatures, copy_events, tune_features
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.system.atomic import write_json
from charmony.pipeline.data.encoding import code_points
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.vocabulary import Vocabulary

CACHE_NAME = "evaluation-cache.json"
CACHE_FORMAT = 2  # raise when the events change, so older caches are rebuilt (features carry their own version)
DECODE_TOKENS = 1 << 22  # token ids decoded at a time


def document_spans(ids: np.ndarray, eod_id: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each non-empty document of a split (documents end with `<eod>`; tokens after the last
    one are a document too)."""
    ends = np.flatnonzero(np.asarray(ids) == eod_id)
    start = 0
    for end in [*ends.tolist(), len(ids)]:
        if end > start:
            yield start, end
        start = end + 1


def documents(ids: np.ndarray, vocab: Vocabulary) -> Iterator[str]:
    """The text of each document of a split."""
    for start, end in document_spans(ids, vocab.eod_id):
        yield vocab.decode(np.asarray(ids[start:end]).tolist())


def parsed_tunes(text: str) -> Iterator:
    """Each tune of an ABC text, parsed."""
    for piece in split_tunes(text):
        yield parse_tune(piece.text, piece.line)


class EventCodes:
    """Integer codes for copying events: equal events get equal codes, new events the next free code."""

    def __init__(self, keys: Sequence[str] = ()):
        self.keys = list(keys)
        self.index = {key: code for code, key in enumerate(self.keys)}

    def codes(self, melody) -> np.ndarray:
        """The codes of a melody's copying events."""
        out = []
        for interval, length in copy_events(melody):
            key = f"{interval} {length}"
            code = self.index.get(key)
            if code is None:
                code = self.index[key] = len(self.keys)
                self.keys.append(key)
            out.append(code)
        return np.array(out, dtype=np.int64)


@dataclass
class MusicReference:
    """The held-out tunes' features, and the training tunes' melodies as event codes, each followed by -1."""

    features: TuneFeatures
    tunes: int
    training: np.ndarray
    codes: EventCodes = field(default_factory=EventCodes)


def music_reference(run: Run, training: bool = True) -> MusicReference:
    """The reference of an ABC run, from its cache when the token files are unchanged.

    With `training` False and no cache, only the held-out tunes are read, and nothing is cached.
    """
    key = _token_files_hash(run)
    cached = _read_cache(run, key)
    if cached is not None:
        return cached
    vocab = run.vocabulary()
    features, tunes = TuneFeatures(), 0
    for text in documents(run.tokens("val"), vocab):
        for tune in parsed_tunes(text):
            tunes += 1
            features.add(tune_features(tune))
    features.melodies = []  # the held-out melodies are not needed, only their histograms
    if not training:
        return MusicReference(features, tunes, np.zeros(0, dtype=np.int64))
    codes = EventCodes()
    melodies = [np.array([-1])]
    for text in documents(run.tokens("train"), vocab):
        for tune in parsed_tunes(text):
            for melody in tune_features(tune).melodies:
                melodies += [codes.codes(melody), np.array([-1])]
    reference = MusicReference(features, tunes, np.concatenate(melodies), codes)
    _write_cache(run, key, reference)
    return reference


def _token_files_hash(run: Run) -> str:
    digest = hashlib.sha256(f"charmony evaluation {CACHE_FORMAT}\n".encode())
    for split in ("train", "val"):
        with run.split_path(split).open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def _write_cache(run: Run, key: str, reference: MusicReference) -> None:
    features = reference.features
    data = {
        "format": CACHE_FORMAT,
        "key": key,
        "tunes": reference.tunes,
        "features": features.to_json(),
        "events": reference.codes.keys,
        "training": reference.training.tolist(),
    }
    try:
        write_json(run.dir / CACHE_NAME, data)
    except OSError:
        pass  # a read-only run is evaluated all the same, only not faster next time


def _read_cache(run: Run, key: str) -> MusicReference | None:
    """The cached reference, or None when there is none, it is damaged, or it is for other token files."""
    try:
        data = json.loads((run.dir / CACHE_NAME).read_text(encoding="utf-8"))
        if data.get("format") != CACHE_FORMAT or data.get("key") != key:
            return None
        features = TuneFeatures.from_json(data["features"])
        training = np.array(data["training"], dtype=np.int64)
        return MusicReference(features, int(data["tunes"]), training, EventCodes(list(data["events"])))
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return None


@dataclass
class TextReference:
    """The held-out documents' character and line-length histograms, and the training token ids."""

    characters: Counter  # code point -> count
    line_lengths: Counter  # line_length_bin -> count
    documents: int
    training: np.ndarray  # may be a memmap; documents end with the vocabulary's <eod> id
    vocab: Vocabulary


def line_length_bin(length: int) -> int:
    """The first length of a line-length bin: exact up to 15, then 16-63 in fours, 64-255 in sixteens, then 256 and over."""
    if length < 16:
        return length
    if length < 64:
        return length - length % 4
    if length < 256:
        return length - length % 16
    return 256


def line_length_bins(lengths) -> Counter:
    """The line-length histogram of some line lengths."""
    return Counter(line_length_bin(int(length)) for length in lengths)


def text_lines(text: str) -> list[int]:
    """The lengths of a text's lines in characters; a final newline ends the last line, it starts no new one."""
    if not text:
        return []
    return [len(line) for line in text.removesuffix("\n").split("\n")]


def text_reference(run: Run) -> TextReference:
    """The reference of a text run, read a few million tokens at a time."""
    vocab = run.vocabulary()
    ids = run.tokens("val")
    newline = vocab.index.get("\n")
    tokens = list(vocab.tokens)
    tokens[vocab.eod_id] = "\n"  # a document's end ends its last line
    if vocab.unk_id is not None:
        tokens[vocab.unk_id] = "\ufffd"
    characters = np.zeros(0, dtype=np.int64)
    lengths: list[np.ndarray] = []
    line_start = 0  # characters of the open line before this block
    previous = None
    for start in range(0, len(ids), DECODE_TOKENS):
        block = np.asarray(ids[start:start + DECODE_TOKENS])
        before = np.concatenate([[-1 if previous is None else previous], block[:-1]])
        previous = block[-1]
        eods = block == vocab.eod_id
        # A document that ends with a newline already ended its last line; its <eod> adds none.
        keep = ~(eods & (before == newline)) if newline is not None else np.ones(len(block), dtype=bool)
        points = code_points("".join(tokens[i] for i in block[keep].tolist()))
        counts = np.bincount(points)
        if len(counts) > 10:
            counts[10] -= int((eods & keep).sum())
        characters = _add_counts(characters, counts)
        breaks = np.flatnonzero(points == 10)
        if len(breaks):
            lengths.append(np.diff(np.concatenate([[-1 - line_start], breaks])) - 1)
            line_start = len(points) - breaks[-1] - 1
        else:
            line_start += len(points)
    if line_start:
        lengths.append(np.array([line_start]))
    histogram = Counter({int(point): int(characters[point]) for point in np.flatnonzero(characters)})
    line_lengths = line_length_bins(np.concatenate(lengths)) if lengths else Counter()
    documents = run.manifest().documents["val"]
    return TextReference(histogram, line_lengths, documents, run.tokens("train"), vocab)


def _add_counts(total: np.ndarray, counts: np.ndarray) -> np.ndarray:
    if len(counts) > len(total):
        total = np.pad(total, (0, len(counts) - len(total)))
    total[: len(counts)] += counts
    return total
