"""The output plugin interface: checking and rendering what a model wrote."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from charmony.pipeline.plugin.cards import CardPart, CardSample
from charmony.pipeline.plugin.verdict import Verdict


@dataclass
class Rendered:
    """What `render` wrote, and what it left out with the reason for each (e.g. a tune that fails its check)."""

    files: list[Path]
    skipped: list[str] = field(default_factory=list)
    # Facts about how the files were made, e.g. {"synthesizer": "FluidSynth"}; JSON-serialisable, kept in samples.json.
    details: dict = field(default_factory=dict)


class OutputPlugin:
    """Base class for output plugins; subclass it and hand an instance to `register`.

    An output plugin checks samples (override `check`), renders sample files into
    other files (override `render`), or both.
    """

    name: str = ""
    description: str = ""
    # None means "the version of the distribution that registered the plugin".
    version: str | None = None
    # Sample file extensions this plugin understands, e.g. (".abc",); empty means any.
    extensions: tuple[str, ...] = ()
    # What a verdict counts when a file holds several items, e.g. "tunes": the verdict's details then hold
    # the counts under this name and "valid_" + this name. Empty: each file counts once.
    unit: str = ""

    def check(self, text: str) -> Verdict | None:
        """Check one sample's text; None means this plugin does not check."""
        return None

    def render(self, path: Path, out_dir: Path) -> list[Path] | Rendered:
        """Render the sample file at `path` into `out_dir`; return the files written (and what was skipped)."""
        return []

    def render_checked(self, path: Path, out_dir: Path, verdicts: Mapping[str, Verdict]) -> list[Path] | Rendered:
        """Render as `render` does, given the verdicts of the plugins that checked this file before, by name.

        charmony calls this one; by default it calls `render`. A renderer whose own checker ran first
        may override it to reuse that checker's `Verdict.parsed` instead of parsing the file again.
        """
        return self.render(path, out_dir)

    def summarise(self, verdicts: list[Verdict]) -> str:
        """One short line about the verdicts on many samples, for samples.json and the screen."""
        return f"{sum(v.valid for v in verdicts)}/{len(verdicts)} valid"

    def for_run(self, profile: dict | None) -> OutputPlugin:
        """The plugin to judge one run's samples with, given the run's profile (see `CorpusPlugin.profile`).

        A checker can hold samples to what the run's training documents all do; by default it is itself.
        """
        return self

    def card(self, sample: CardSample) -> CardPart | list[CardPart] | None:
        """What this plugin shows of its results on one sample in `charmony gallery`; None shows its files as links."""
        return None

    def accepts(self, path: Path) -> bool:
        """Whether this plugin understands files like `path`."""
        return not self.extensions or path.suffix in self.extensions
