"""A finite set of strings looked up by prefix: how the grammar holds header values, lengths, barlines and fields."""

from __future__ import annotations

from collections.abc import Iterable


class Words:
    """A finite set of strings, looked up by prefix."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(words)
        self.by_prefix: dict[str, tuple[str, ...]] = {}
        for word in sorted(self.words):
            for end in range(len(word) + 1):
                self.by_prefix.setdefault(word[:end], ())
                self.by_prefix[word[:end]] += (word,)

    def starts(self, prefix: str) -> bool:
        """Whether some word starts with `prefix`."""
        return prefix in self.by_prefix

    def extending(self, prefix: str) -> tuple[str, ...]:
        """The words that start with `prefix`."""
        return self.by_prefix.get(prefix, ())

    def __contains__(self, word: str) -> bool:
        return word in self.words
