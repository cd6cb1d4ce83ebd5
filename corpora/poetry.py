"""The `poetry` corpus: classical Chinese poems (or English ones), one poem per document."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from charmony.pipeline.plugin.options import choice_option, int_option
from charmony.corpora.poetry_sources import FORMATS, FORMATS_IN_WORDS, Poem, read_poems
from charmony.pipeline.plugin.corpus import CorpusPlugin, Document, SampleContext
from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.poetry.verse import has_form, parse_forms, shape, verse_lines
from charmony.pipeline.system.errors import CorpusError
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.recipes import Recipe
from charmony.pipeline.system.sources import expand

# Debian's fortunes-zh package: the 300 Tang Poems and 100 Song Poems (its third file, `chinese`, is not verse).
FORTUNES_DIR = Path("/usr/share/games/fortunes")
FORTUNE_FILES = ("tang300", "song100")


def default_sources() -> list[Path]:
    """fortunes-zh's poem files, or a CorpusError listing the ways to give a corpus."""
    found = [FORTUNES_DIR / name for name in FORTUNE_FILES if (FORTUNES_DIR / name).is_file()]
    if not found:
        raise CorpusError(
            f"no poetry to read: Debian's fortunes-zh is not installed ({FORTUNES_DIR}/tang300 is missing); "
            f"install it (apt install fortunes-zh) or give --source with {FORMATS_IN_WORDS}"
        )
    return found


def layout(poem: Poem, titles: bool) -> str:
    """A poem's document: `《title》` and author lines (when kept and known), then one line per couplet."""
    heading = [f"《{poem.title}》"] * bool(titles and poem.title) + [poem.author] * bool(titles and poem.author)
    return "\n".join([*heading, *poem.lines]) + "\n"


class PoetryCorpus(CorpusPlugin):
    """Poems from plain text, chinese-poetry JSON or fortune files, filtered by form and length."""

    name = "poetry"
    description = "Classical Chinese poems (or English ones), one poem per document, as the Tang-poetry char-RNN recipe."
    default_source = "Debian's fortunes-zh: the 300 Tang Poems and 100 Song Poems (/usr/share/games/fortunes)"
    max_vocab = 3500
    checks = ("poem",)
    recipes = {
        "tang": Recipe("the Tang-poetry char-RNN: 2 x 256 LSTM, dropout 0.2, 3,000 steps", layers=2, hidden=256,
                       dropout=0.2, max_steps=3000),
    }
    options = {
        "format": "auto (default), lines (one poem per line, as poetry.txt), json (chinese-poetry), "
                  "fortune (entries between % lines) or blank (poems between blank lines)",
        "form": "keep only poems of this form: five, seven, quatrain, regulated or regular, combined with commas",
        "titles": "keep (default) or drop the title and author lines",
        "min_length": "leave out poems of fewer characters, punctuation and spaces not counted",
        "max_length": "leave out poems of more characters",
        "glob": "which files to read in a --source directory (default *)",
    }

    sample_options = {
        "form": "the form of every poem: five, seven, quatrain, regulated or regular, combined with commas "
                "(five,quatrain); default: regular verse of any form the corpus has",
    }

    def profile(self, documents: Iterator[str]) -> dict:
        """Whether the poems have title and author lines, and how many couplets they have."""
        from charmony.corpora.poetry_constraint import poetry_profile

        return {"poetry": poetry_profile(documents)}

    def constraint(self, context: SampleContext):
        """Regular verse of the form asked for, in the run's layout."""
        from charmony.corpora.poetry_constraint import PoemConstraint, PoemForm

        form = PoemForm()
        if "form" in context.options:
            try:
                names = parse_forms(context.options["form"])
            except ValueError as error:
                raise ConfigError(
                    f"--option form={context.options['form']}: {str(error)!r} is not a form; "
                    "name five, seven, quatrain, regulated or regular, combined with commas (five,quatrain)"
                ) from None
            if {"five", "seven"} <= set(names) or {"quatrain", "regulated"} <= set(names):
                raise ConfigError(f"--option form={context.options['form']}: a poem cannot be both; choose one of each pair")
            form = PoemForm(5 if "five" in names else 7 if "seven" in names else None,
                            2 if "quatrain" in names else 4 if "regulated" in names else None)
        profile = (context.profile or {}).get("poetry")
        if not profile or not profile["poems"]:
            return None
        constraint = PoemConstraint(profile, context.tokens, form)
        return constraint if constraint.usable else None

    def documents(self, sources: list[Path], options: Mapping[str, str]) -> Iterator[Document]:
        """Yield each poem that passes the form and length filters."""
        format = choice_option(options, "format", FORMATS)
        titles = choice_option(options, "titles", ("keep", "drop")) == "keep"
        min_length = int_option(options, "min_length", 0)
        max_length = int_option(options, "max_length", None)
        forms = _forms(options)
        read = kept = 0
        for path in expand(sources, options.get("glob", "*")) if sources else default_sources():
            for poem in read_poems(path, format):
                read += 1
                lines = verse_lines("\n".join(poem.lines))
                length = sum(line.length for line in lines)
                if length < min_length or (max_length is not None and length > max_length):
                    continue
                if forms and not has_form(shape(lines), forms):
                    continue
                kept += 1
                yield Document(layout(poem, titles), path)
        if read and not kept:
            wanted = ", ".join(f"{key}={options[key]}" for key in ("form", "min_length", "max_length") if key in options)
            raise CorpusError(f"none of the {read} poems read has {wanted}; loosen these options")


def _forms(options: Mapping[str, str]) -> tuple[str, ...]:
    if "form" not in options:
        return ()
    try:
        return parse_forms(options["form"])
    except ValueError as error:
        raise CorpusError(
            f"--option form={options['form']}: {str(error)!r} is not a form; "
            "name five, seven, quatrain, regulated or regular, combined with commas (five,quatrain)"
        ) from None


@hookimpl
def register_corpora(register):
    """Register the `poetry` corpus."""
    register(PoetryCorpus())
