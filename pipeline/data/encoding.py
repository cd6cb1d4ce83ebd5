"""Counting and encoding tokens a part of a document at a time, characters with numpy."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from charmony.pipeline.run.vocabulary import Vocabulary

MISSING = np.iinfo(np.uint32).max
SLICE_CHARS = 1 << 20  # characters counted or encoded at a time: their code points take 4 bytes each


def code_points(text: str) -> np.ndarray:
    """The code points of `text` as a uint32 array."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


class TokenCounter:
    """Token counts over many parts; a part given as a str is counted as characters, fast."""

    def __init__(self):
        self.characters = np.zeros(0, dtype=np.int64)  # count per code point
        self.others = Counter()

    def add(self, tokens: Iterable[str]) -> int:
        """Count the tokens of one part; return how many there were."""
        if isinstance(tokens, str):
            for start in range(0, len(tokens), SLICE_CHARS):
                counts = np.bincount(code_points(tokens[start:start + SLICE_CHARS]))
                if len(counts) > len(self.characters):
                    self.characters = np.pad(self.characters, (0, len(counts) - len(self.characters)))
                self.characters[: len(counts)] += counts
            return len(tokens)
        before = self.others.total()
        self.others.update(tokens)
        return self.others.total() - before

    def counts(self) -> Counter:
        """All counts, by token."""
        counts = Counter({chr(code): int(self.characters[code]) for code in np.flatnonzero(self.characters)})
        counts.update(self.others)
        return counts


class Encoder:
    """Token ids of a vocabulary as numpy arrays of its dtype; characters through a lookup table."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        characters = {ord(token): index for token, index in vocab.index.items() if len(token) == 1}
        # Up to the largest character of the vocabulary, and one entry more for every code point above it;
        # a small table stays in the cache.
        self.table = np.full(max(characters, default=0) + 2, MISSING if vocab.unk_id is None else vocab.unk_id, dtype=np.uint32)
        self.table[list(characters)] = list(characters.values())

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """The ids of one part's tokens; a KeyError for a token outside a vocabulary without `<unk>`."""
        if isinstance(tokens, str):
            ids = np.empty(len(tokens), dtype=self.vocab.dtype)
            for start in range(0, len(tokens), SLICE_CHARS):
                piece = tokens[start:start + SLICE_CHARS]
                found = self.table[np.minimum(code_points(piece), len(self.table) - 1)]
                if self.vocab.unk_id is None and len(found) and found.max() == MISSING:
                    raise KeyError(piece[int(np.argmax(found == MISSING))])
                ids[start:start + len(piece)] = found
            return ids
        return np.asarray(self.vocab.encode(tokens), dtype=self.vocab.dtype)
