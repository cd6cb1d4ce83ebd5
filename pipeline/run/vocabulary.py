"""The token vocabulary: ids by frequency, an end-of-document token, and `<unk>` for the rare."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from charmony.pipeline.system.errors import RunError

if TYPE_CHECKING:
    import numpy as np

EOD = "<eod>"
UNK = "<unk>"
SPECIALS = (EOD, UNK)


class Vocabulary:
    """A fixed list of tokens; a token's id is its index."""

    def __init__(self, tokens: list[str], unk: bool = False):
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("vocabulary tokens must be unique")
        self.eod_id = self.index[EOD]
        self.text_index = {token: i for token, i in self.index.items() if token != EOD}  # a text's "<eod>" is no boundary
        self.unk_id = self.index[UNK] if unk else None

    @classmethod
    def from_counts(cls, counts: Counter, max_tokens: int | None = None) -> Vocabulary:
        """Most frequent first (ties by token); beyond `max_tokens` tokens the rest become `<unk>`.

        A text that holds `<unk>` or `<eod>` itself (as PTB-style files do) gets `<unk>` for them, however large
        `max_tokens` is: neither can have an id of its own beside the special tokens.
        """
        ranked = sorted(counts, key=lambda token: (-counts[token], token))
        ranked = [token for token in ranked if token not in SPECIALS]
        if max_tokens is not None and len(ranked) > max_tokens:
            return cls([EOD, UNK] + ranked[:max_tokens], unk=True)
        if any(counts.get(special) for special in SPECIALS):
            return cls([EOD, UNK] + ranked, unk=True)
        return cls([EOD] + ranked)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def dtype(self) -> np.dtype:
        """The smallest unsigned integer type that holds every id."""
        import numpy as np

        for dtype in (np.uint8, np.uint16, np.uint32):
            if len(self) - 1 <= np.iinfo(dtype).max:
                return np.dtype(dtype)
        raise ValueError("vocabulary too large")

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token ids; unknown tokens become `<unk>` when the vocabulary has it."""
        index, unk = self.text_index, self.unk_id
        if unk is None:
            return [index[token] for token in tokens]
        return [index.get(token, unk) for token in tokens]

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The distinct tokens not in the vocabulary, in order of appearance."""
        return list(dict.fromkeys(token for token in tokens if token not in self.index))

    def decode(self, ids: Iterable[int]) -> str:
        """Join the tokens for `ids` back into text."""
        return "".join(self.tokens[i] for i in ids)

    def token_lengths(self) -> np.ndarray:
        """Characters per token id; `<eod>` and `<unk>` stand for one character each."""
        import numpy as np

        return np.array([1 if t in SPECIALS else len(t) for t in self.tokens], dtype=np.int64)

    def to_json(self) -> dict:
        """The vocabulary as plain JSON data."""
        return {"format": 1, "tokens": self.tokens, "eod": EOD, "unk": UNK if self.unk_id is not None else None}

    @property
    def sha256(self) -> str:
        """A hash of the tokens and their ids, to tie checkpoints to this vocabulary."""
        data = json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True).encode()
        return hashlib.sha256(data).hexdigest()

    def save(self, path: Path) -> None:
        """Write vocab.json."""
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        """Read vocab.json."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["tokens"], unk=data.get("unk") is not None)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise RunError(f"{path}: not a readable charmony vocabulary ({error}); run `charmony prepare` again") from None
