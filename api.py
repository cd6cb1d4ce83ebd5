"""The plugin author's API: everything a charmony plugin needs, from one module.

    from charmony.api import CorpusPlugin, Document, OutputPlugin, Problem, Recipe, Verdict, hookimpl

The names here are charmony's public interface for plugins, and stay where they are; the modules
under `charmony.pipeline` that define them are internals that may move. docs/plugins.md describes
each of them.
"""

from charmony.pipeline.plugin.constraint import UNREACHABLE, Constraint
from charmony.pipeline.plugin.corpus import CorpusPlugin, CorpusWarning, Document, SampleContext, SampleInfo
from charmony.pipeline.system.errors import CharmonyError, ConfigError, CorpusError
from charmony.pipeline.plugin.cards import CardPart, CardSample
from charmony.pipeline.plugin.hookspecs import hookimpl, hookspec
from charmony.pipeline.plugin.output import OutputPlugin, Rendered
from charmony.pipeline.plugin.verdict import Problem, Verdict
from charmony.pipeline.plugin.manager import PluginWarning, registered
from charmony.pipeline.plugin.recipes import Recipe

__all__ = [
    "CardPart",
    "CardSample",
    "CharmonyError",
    "ConfigError",
    "Constraint",
    "CorpusError",
    "CorpusPlugin",
    "CorpusWarning",
    "Document",
    "OutputPlugin",
    "PluginWarning",
    "Problem",
    "Recipe",
    "Rendered",
    "SampleContext",
    "SampleInfo",
    "UNREACHABLE",
    "Verdict",
    "hookimpl",
    "hookspec",
    "registered",
]
