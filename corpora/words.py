"""The `words` corpus: word-level language modelling, as the PTB tutorial, on PTB, WikiText or any text.

A token is a word with the spaces before it (` the`), or a line break with the spaces before it,
which plays the part of PTB's `<eos>`: joining the tokens gives the text back, and a line of n words
is n + 1 tokens, as in PTB's and WikiText's published perplexities.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from charmony.pipeline.plugin.options import choice_option
from charmony.corpora.text import python_help_topics, separator
from charmony.pipeline.plugin.corpus import CorpusPlugin, Document
from charmony.pipeline.system.errors import CorpusError
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.recipes import Recipe
from charmony.pipeline.system.sources import expand, read_pieces, split_pieces

# A word (anything between spaces) or a line break, each with the spaces and tabs before it; then
# spaces at the very end of a text.
WORD = re.compile(r"[^\S\n]*(?:\n|[^\s]+)|[^\S\n]+")
# For `punctuation=split`: runs of letters and digits, and each other mark on its own.
WORD_OR_MARK = re.compile(r"\w+|[^\w\s]")
# PTB's ptb.train.txt / ptb.valid.txt / ptb.test.txt, WikiText's wiki.train.tokens (or .raw), and the
# bare train.txt / valid.txt / test.txt of PyTorch's word_language_model example.
LAYOUT = re.compile(r"(?:.+\.)?(?P<part>train|valid|test)\.(?:txt|tokens|raw)")
LAYOUT_SPLITS = {"train": "train", "valid": "val"}
# The longest part of a document handed on at once: its tokens are a list of Python strings, ~60 bytes each.
TOKEN_PART_CHARS = 1 << 18
# Where a token ends, as far as the text so far shows: after a line break, or after a word that a space follows.
LAST_TOKEN_END = re.compile(r".*(?:\n|\S(?=\s))", re.DOTALL)

# The PTB tutorial's configurations (Zaremba et al., 2014), on this engine: AdamW with warm-up and
# cosine decay instead of SGD at 1.0 halved each epoch, so its own learning rates; the steps are the
# tutorial's epochs of PTB's 929k training words at its batch shape.
PTB_RECIPES = {
    "small": Recipe("PTB small: 2 x 200, 20 x 20 batches, no dropout, init 0.1, clip 5, 13 epochs (PTB's goal: perplexity below 120)",
                    layers=2, hidden=200, seq_len=20, batch_size=20, lr=2e-3, warmup_steps=200, dropout=0.0,
                    grad_clip=5.0, init_scale=0.1, weight_decay=0.0, max_steps=30_000, eval_every=1000, save_every=1000),
    "medium": Recipe("PTB medium: 2 x 650, 20 x 35 batches, dropout 0.5, init 0.05, clip 5, 39 epochs",
                     layers=2, hidden=650, seq_len=35, batch_size=20, lr=1e-3, warmup_steps=500, dropout=0.5,
                     grad_clip=5.0, init_scale=0.05, weight_decay=0.0, max_steps=52_000, eval_every=1000, save_every=1000),
    "large": Recipe("PTB large: 2 x 1500, 20 x 35 batches, dropout 0.65, init 0.04, clip 10, 55 epochs (PTB's goal: below 80)",
                    layers=2, hidden=1500, seq_len=35, batch_size=20, lr=1e-3, warmup_steps=500, dropout=0.65,
                    grad_clip=10.0, init_scale=0.04, weight_decay=0.0, max_steps=73_000, eval_every=1000, save_every=1000),
    # Measured beside PyTorch's word_language_model (benchmarks/README.md): at this size plain SGD learns
    # several times faster per epoch than AdamW, and more, smaller batches faster than fewer.
    "quick": Recipe("minutes on one CPU thread: 2 x 64 tied, plain SGD at 20 (as PyTorch's word_language_model), clip 0.25, "
                    "10 x 20 batches, dropout 0.2, cosine over 3,000 steps",
                    layers=2, hidden=64, tie_weights=True, seq_len=20, batch_size=10, optimizer="sgd", lr=20.0, warmup_steps=0,
                    dropout=0.2, grad_clip=0.25, init_scale=0.1, weight_decay=0.0, max_steps=3000, eval_every=300, save_every=1000),
}


def tokenize_words(text: str) -> list[str]:
    """Words and line breaks, each with the spaces before it; joined they give `text` back."""
    return WORD.findall(text)


def split_punctuation(text: str) -> str:
    """Text laid out as PTB is: on each line, a space before every word and every punctuation mark."""
    return "\n".join("".join(" " + word for word in WORD_OR_MARK.findall(line)) for line in text.split("\n"))


def token_parts(parts: Iterable[tuple[str, bool]], size: int = TOKEN_PART_CHARS) -> Iterator[tuple[str, bool]]:
    """Parts of documents cut again where a token ends, into parts of at most about `size` characters.

    No token straddles two parts (unless one token is longer than `size`), so each part's tokens
    are those the whole document has there, and a long line never has to be held whole.
    """
    carry = ""
    for text, continues in parts:
        text, carry, start = carry + text, "", 0
        while continues or len(text) - start > size:
            end = LAST_TOKEN_END.match(text, start, min(len(text), start + size))
            if end is None and len(text) - start > size:  # a token longer than `size`: cut after the last end there is
                end = LAST_TOKEN_END.match(text, start)
            if end is None or end.end() == start:
                break
            yield text[start:end.end()], True
            start = end.end()
        if continues:
            carry = text[start:]
        else:
            yield text[start:], False


def layout_files(files: list[Path]) -> dict[str, list[Path]] | None:
    """The files by PTB/WikiText part (train, valid, test), or None when none is named so (train.txt counts too)."""
    parts: dict[str, list[Path]] = {}
    for path in files:
        match = LAYOUT.fullmatch(path.name)
        if match:
            parts.setdefault(match["part"], []).append(path)
    if not parts:
        return None
    others = [path for path in files if not LAYOUT.fullmatch(path.name)]
    if others:
        raise CorpusError(
            f"{others[0]} is not named as the PTB/WikiText layout (NAME.train.txt, NAME.valid.txt, wiki.train.tokens, train.txt…) "
            "that the other files are; give the layout's files alone"
        )
    if "train" not in parts or "valid" not in parts:
        missing = "train" if "train" not in parts else "valid"
        raise CorpusError(f"the PTB/WikiText files hold no {missing} part (such as ptb.{missing}.txt or wiki.{missing}.tokens); give it too")
    return parts


class WordsCorpus(CorpusPlugin):
    """Word-level text: PTB and WikiText with their own split, or any text, a token per word."""

    name = "words"
    description = "Word-level language modelling, as the PTB tutorial: a token per word, newlines as <eos>, perplexity."
    default_source = "Python's built-in help topics (pydoc_data), lower-cased and with punctuation split off"
    token_unit = "word"
    max_vocab = 10_000
    recipes = PTB_RECIPES
    options = {
        "lower": "no (default: keep the case, as PTB is lower-cased already) or yes: lower-case the text",
        "punctuation": "keep (default: words are what spaces separate, as in PTB and WikiText) or split: each mark a word",
        "split": "how files split into documents: none (default), blank (blank lines), re:PATTERN, or a literal string",
        "glob": "which files to read in a --source directory (default *)",
    }

    def documents(self, sources: list[Path], options: Mapping[str, str]) -> Iterator[Document]:
        """Yield each file (or piece of one) as a document; files in the PTB/WikiText layout carry their split."""
        lower = choice_option(options, "lower", ("no", "yes")) == "yes"
        punctuation = choice_option(options, "punctuation", ("keep", "split"))
        pattern = separator(options.get("split", "none"))
        if not sources:
            for document in python_help_topics():
                yield Document(split_punctuation(document.text.lower()), document.source)
            return
        files = list(expand(sources, options.get("glob", "*")))
        layout = layout_files(files)
        splits: list[tuple[Path, str | None]] = [(path, None) for path in files]
        if layout is not None:  # the test part is left for a final evaluation
            splits = [(path, split) for part, split in LAYOUT_SPLITS.items() for path in layout[part]]
        for path, split in splits:
            open_document = False
            for text, continues in token_parts(split_pieces(read_pieces(path), pattern)):
                text = text.lower() if lower else text
                text = split_punctuation(text) if punctuation == "split" else text
                if open_document or continues or text.strip():
                    yield Document(text, path, continues, split)
                open_document = continues

    def tokenize(self, text: str) -> list[str]:
        """Words and line breaks, each with the spaces before it."""
        return tokenize_words(text)


@hookimpl
def register_corpora(register):
    """Register the `words` corpus."""
    register(WordsCorpus())
