"""Hook specifications: the functions a charmony plugin may implement."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from charmony.pipeline.plugin.corpus import CorpusPlugin
    from charmony.pipeline.plugin.output import OutputPlugin

hookspec = pluggy.HookspecMarker("charmony")
hookimpl = pluggy.HookimplMarker("charmony")


@hookspec
def register_corpora(register: Callable[[CorpusPlugin], None]) -> None:
    """Called when corpora are listed or looked up; call `register` once per CorpusPlugin instance.

    The return value is ignored. A corpus name may be registered only once across
    all plugins.
    """


@hookspec
def register_outputs(register: Callable[[OutputPlugin], None]) -> None:
    """Called when output plugins are listed or looked up; call `register` once per OutputPlugin.

    The return value is ignored. An output name may be registered only once across
    all plugins.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Called once, when the CLI first resolves a command; add click commands to `cli`.

    The return value is ignored.
    """
