"""The `code` corpus: source files, one per document, in a seeded shuffle; by default Python's standard library."""

from __future__ import annotations

import random
import re
import sysconfig
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from charmony.corpora.code_filters import is_generated, is_minified, source_text, strip_licence
from charmony.pipeline.plugin.options import choice_option, int_option, list_option
from charmony.pipeline.plugin.corpus import CorpusPlugin, Document
from charmony.pipeline.system.errors import CorpusError
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.recipes import Recipe
from charmony.pipeline.system.sources import expand

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Third-party packages are not the standard library, and CPython's own test suite holds files
# that are broken on purpose (bad syntax, bad encodings).
STDLIB_EXCLUDED = ("site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__")
DEFAULT_GLOB = "*.py"
DEFAULT_MAX_BYTES = 500_000
DEFAULT_SHUFFLE_SEED = 1337


@dataclass(frozen=True)
class CodeSettings:
    """The code corpus' options, read and checked."""

    glob: str = DEFAULT_GLOB
    excluded: tuple[str, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    strip_licence: bool = True
    tab_width: int = 0  # 0 keeps tabs
    keep_generated: bool = False
    keep_minified: bool = False
    shuffle_seed: int | None = DEFAULT_SHUFFLE_SEED  # None keeps path order

    @classmethod
    def from_options(cls, options: Mapping[str, str], default_excluded: tuple[str, ...]) -> CodeSettings:
        """Settings from `--option KEY=VALUE` strings, with a one-line error for a bad value."""
        shuffle = options.get("shuffle", str(DEFAULT_SHUFFLE_SEED))
        return cls(
            glob=options.get("glob", DEFAULT_GLOB) or DEFAULT_GLOB,
            excluded=list_option(options, "exclude", default_excluded),
            max_bytes=int_option(options, "max_bytes", DEFAULT_MAX_BYTES, minimum=1),
            strip_licence=choice_option(options, "licence", ("strip", "keep")) == "strip",
            tab_width=int_option(options, "tabs", 0),
            keep_generated=choice_option(options, "generated", ("skip", "keep")) == "keep",
            keep_minified=choice_option(options, "minified", ("skip", "keep")) == "keep",
            shuffle_seed=None if shuffle == "off" else int_option(options, "shuffle", DEFAULT_SHUFFLE_SEED),
        )


def source_files(sources: list[Path], settings: CodeSettings) -> list[Path]:
    """The files to read, in path order: `--source` files as given, folders searched for the glob."""
    files = []
    for source in sources:
        found = [
            path for path in expand([source], settings.glob)
            if source.is_file() or not set(path.relative_to(source).parts[:-1]) & set(settings.excluded)
        ]
        if not found:
            raise CorpusError(
                f"directory {source} holds no files matching {settings.glob!r} outside the excluded folders "
                f"{', '.join(settings.excluded)}; change --option glob or --option exclude"
            )
        files += found
    return files


def cleaned(path: Path, settings: CodeSettings) -> tuple[str | None, str]:
    """A file's training text, or None and the reason it is skipped."""
    if path.stat().st_size > settings.max_bytes:
        return None, f"over {settings.max_bytes} bytes (raise --option max_bytes)"
    text = source_text(path.read_bytes())
    if text is None:
        return None, "binary (a NUL byte, or not UTF-8)"
    if not settings.keep_generated and is_generated(text):
        return None, "generated (keep with --option generated=keep)"
    if not settings.keep_minified and is_minified(text):
        return None, "minified (keep with --option minified=keep)"
    if settings.strip_licence:
        text = strip_licence(text)
    if settings.tab_width:
        text = "\n".join(line.expandtabs(settings.tab_width) for line in text.split("\n"))
    if not text.strip():
        return None, "empty"
    return text, ""


class CodeCorpus(CorpusPlugin):
    """Source files under one or more folders, filtered and cleaned, one document per file."""

    name = "code"
    description = "Source code, one file per document, shuffled by seed; by default the Python standard library."
    default_source = f"the .py files of this Python's standard library ({STDLIB}), without site-packages and test suites"
    extension = ".py"
    checks = ("python",)
    recipes = {
        "linux": Recipe("char-rnn's Linux-source model: 3 x 512 LSTM, dropout 0.2, 10,000 steps", layers=3, hidden=512,
                        dropout=0.2, max_steps=10_000),
    }
    options = {
        "glob": f"which files to read (default {DEFAULT_GLOB}); e.g. '*.c' for a kernel tree",
        "exclude": "folder names to leave out, comma-separated (default: none; for the standard library "
                   + ", ".join(STDLIB_EXCLUDED) + ")",
        "max_bytes": f"skip files larger than this (default {DEFAULT_MAX_BYTES})",
        "licence": "strip (default) or keep the licence and copyright comments at the top of each file",
        "tabs": "expand tabs to this many spaces (default 0: keep tabs)",
        "generated": "skip (default) or keep files whose first lines say they are generated",
        "minified": "skip (default) or keep minified files (lines over 1000 characters, or averaging over 100)",
        "shuffle": f"seed of the file order (default {DEFAULT_SHUFFLE_SEED}), or off for path order",
    }

    def sample_extension(self, options: Mapping[str, str]) -> str:
        """The glob's extension, such as `.c` for `*.c`; `.txt` when the glob names none."""
        suffix = re.search(r"\.\w+$", options.get("glob", DEFAULT_GLOB))
        return suffix.group() if suffix else ".txt"

    def documents(self, sources: list[Path], options: Mapping[str, str]) -> Iterator[Document]:
        """Yield each usable file's text, the files in the order the shuffle seed gives."""
        settings = CodeSettings.from_options(options, () if sources else STDLIB_EXCLUDED)
        files = source_files(sources or [STDLIB], settings)
        if settings.shuffle_seed is not None:
            random.Random(settings.shuffle_seed).shuffle(files)
        skipped: Counter = Counter()
        for path in files:
            text, reason = cleaned(path, settings)
            if text is None:
                skipped[reason] += 1
            else:
                yield Document(text, path)
        if skipped.total() == len(files):
            where = ", ".join(map(str, sources or [STDLIB]))
            if list(skipped) == ["binary (a NUL byte, or not UTF-8)"]:
                raise CorpusError(
                    f"all {len(files)} files matching {settings.glob!r} in {where} are binary (a NUL byte, or not UTF-8); "
                    "choose text files with --option glob=PATTERN"
                )
            reasons = ", ".join(f"{count} {reason}" for reason, count in skipped.most_common())
            raise CorpusError(f"none of the {len(files)} files matching {settings.glob!r} in {where} is usable: {reasons}")


@hookimpl
def register_corpora(register):
    """Register the `code` corpus."""
    register(CodeCorpus())
