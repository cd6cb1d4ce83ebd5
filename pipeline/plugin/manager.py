"""The plugin manager: built-in and third-party plugins, and the corpora and outputs they register."""

from __future__ import annotations

import importlib
import os
import re
import warnings
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from charmony import __version__
from charmony.pipeline.plugin import hookspecs
from charmony.pipeline.plugin.corpus import CorpusPlugin, CorpusWarning
from charmony.pipeline.system.errors import CharmonyError, PluginError
from charmony.pipeline.plugin.output import OutputPlugin

ENTRY_POINT_GROUP = "charmony"
LOAD_PLUGINS_ENV = "CHARMONY_LOAD_PLUGINS"
BUILTIN_PLUGINS = (
    "charmony.corpora.text",
    "charmony.corpora.bach",
    "charmony.corpora.folk",
    "charmony.plugins.abc",
    "charmony.plugins.midi",
    "charmony.plugins.score",
    "charmony.plugins.audio",
    "charmony.corpora.poetry",
    "charmony.corpora.code",
    "charmony.plugins.poem",
    "charmony.plugins.python",
    "charmony.corpora.words",
    "charmony.corpora.series",
)


BUILTIN_ORIGIN = "charmony (built-in)"


class PluginWarning(UserWarning):
    """A third-party plugin could not be loaded or raised; the others still work."""


@dataclass(frozen=True)
class PluginInfo:
    """One registered corpus or output plugin, as `charmony plugins` lists it."""

    name: str
    kind: str
    version: str
    origin: str  # the distribution that provides it, or the plugin name when it has none
    description: str


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _allowed_distributions() -> set[str] | None:
    """Distributions named in CHARMONY_LOAD_PLUGINS, or None when it is unset."""
    value = os.environ.get(LOAD_PLUGINS_ENV)
    if value is None:
        return None
    return {_normalise(part) for part in value.split(",") if part.strip()}


def _load_entry_points(pm: PluginManager) -> None:
    allowed = _allowed_distributions()
    found = set()
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        dist_name = dist.metadata["Name"] if dist else entry_point.name
        found.add(_normalise(dist_name))
        if allowed is not None and _normalise(dist_name) not in allowed:
            continue
        if pm.has_plugin(entry_point.name):
            other = pm.origins.get(entry_point.name, ("?",))[0]
            _warn(f"plugin {entry_point.name!r} from {dist_name!r} is skipped: {other!r} already provides a plugin of that name")
            continue
        try:
            plugin = entry_point.load()
            pm.register(plugin, name=entry_point.name)
        except (Exception, SystemExit) as error:  # a broken plugin must not take the others down
            reason = describe_error(error, with_type=False)
            _warn(f"plugin {entry_point.name!r} from {dist_name!r} failed to load and is skipped: {reason}")
            continue
        pm.origins[entry_point.name] = (dist_name, dist.version if dist else "unknown")
    for missing in sorted((allowed or set()) - found):
        installed = ", ".join(sorted(found)) or "none"
        _warn(f"{LOAD_PLUGINS_ENV} names {missing!r}, which is not an installed plugin distribution; installed: {installed}")


def _check_pending(pm: PluginManager, builtin: set[str]) -> None:
    """Reject misspelt hook implementations: loudly for built-ins, by skipping third parties."""
    while True:
        try:
            pm.check_pending()
            return
        except pluggy.PluginValidationError as error:
            name = pm.get_name(error.plugin)
            if name in builtin:
                raise
            pm.unregister(error.plugin)
            _warn(f"plugin {name!r} is skipped: {error}")


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering the distribution and version behind each plugin."""

    def __init__(self) -> None:
        super().__init__("charmony")
        self.add_hookspecs(hookspecs)
        self.origins: dict[str, tuple[str, str]] = {}


def make_plugin_manager(entry_points: bool = True) -> PluginManager:
    """A plugin manager holding the built-in plugins and, unless disabled, the installed ones."""
    pm = PluginManager()
    for module_name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
        pm.origins[module_name] = (BUILTIN_ORIGIN, __version__)
    if entry_points:
        _load_entry_points(pm)
    _check_pending(pm, set(BUILTIN_PLUGINS))
    return pm


_plugin_manager: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, loaded on first use."""
    global _plugin_manager
    if _plugin_manager is None:
        _plugin_manager = make_plugin_manager()
    return _plugin_manager


@contextmanager
def registered(plugin: object, name: str | None = None) -> Iterator[object]:
    """Register a plugin object on charmony's plugin manager for the length of a `with` block, as tests do.

    A plugin that is registered already (an installed plugin, loaded through its entry point) is
    used as it is and stays registered afterwards.
    """
    pm = get_plugin_manager()
    if pm.is_registered(plugin):
        yield plugin
        return
    pm.register(plugin, name=name)
    try:
        yield plugin
    finally:
        pm.unregister(plugin)


def describe_error(error: BaseException | str, with_type: bool = True) -> str:
    """What a plugin's exception says: `Type: message` (or the message alone), or that it called sys.exit()."""
    if isinstance(error, SystemExit):
        return f"it called sys.exit({error.code!r})"
    if isinstance(error, str) or not with_type:
        return str(error)
    return f"{type(error).__name__}: {error}"


def plugin_failure(kind: str, name: str, doing: str, error: BaseException | str, origin: str | None = None) -> str:
    """The message for a plugin that raised: `corpus plugin 'x' failed to tokenize --prime: ValueError: ...`.

    `doing` follows "failed" ("in check", "to profile its documents", or "" for nothing); `origin`, the
    distribution that registered the plugin, is named when given.
    """
    source = f" from {origin}" if origin is not None else ""
    return f"{kind} plugin {name!r}{source} failed{' ' + doing if doing else ''}: {describe_error(error)}"


@contextmanager
def corpus_call(corpus: CorpusPlugin, doing: str) -> Iterator[None]:
    """Run a corpus plugin's code: what it raises, sys.exit() included, becomes a PluginError naming it and `doing`.

    Its own CharmonyErrors (a ConfigError for a wrong option) pass as they are, and Ctrl-C still interrupts.
    """
    try:
        yield
    except CharmonyError:
        raise
    except (Exception, SystemExit) as error:
        raise PluginError(plugin_failure("corpus", corpus.name, doing, error)) from error


def plugin_commands(taken: Collection[str]) -> dict[str, Any]:
    """The click commands plugins add through `register_commands`, by name; one named like a command in `taken`
    (charmony's own) is skipped with a warning."""
    import click

    group = click.Group()
    call_each(get_plugin_manager(), "register_commands", lambda plugin: {"cli": group})
    commands = {}
    for name, command in group.commands.items():
        if name in taken:
            _warn(f"a plugin's command {name!r} is skipped: charmony already has a command of that name")
        else:
            commands[name] = command
    return commands


_python_format_warning = warnings.formatwarning


def _format_warning(message, category, filename, lineno, line=None) -> str:
    if issubclass(category, (PluginWarning, CorpusWarning)):
        return f"Warning: {message}\n"
    return _python_format_warning(message, category, filename, lineno, line)


def one_line_warnings() -> None:
    """Have Python print plugin and corpus warnings as `Warning: message`, without the source line; others as before."""
    warnings.formatwarning = _format_warning


def _warn(message: str) -> None:
    # One source line for every plugin warning, so Python shows each distinct message once.
    warnings.warn(message, PluginWarning, stacklevel=1)


def call_each(pm: PluginManager, hook_name: str, arguments: Callable[[str], dict]) -> None:
    """Call a hook plugin by plugin with `arguments(plugin_name)`, so one plugin raising skips only that one.

    Each call goes through pluggy (a hook caller holding that one plugin and every hook wrapper), so
    its argument checks, wrappers and tracing apply. Calling the whole hook at once cannot do here:
    pluggy stops at the first implementation that raises, and hands every implementation the same
    arguments, while each plugin needs a `register` of its own so that what it registers is known to
    be its. A wrapper therefore wraps each plugin's call, once per plugin.
    """
    hook = getattr(pm.hook, hook_name)
    impls = hook.get_hookimpls()
    wrappers = [impl for impl in impls if impl.wrapper or impl.hookwrapper]
    for impl in impls:
        if impl in wrappers:
            continue
        others = [other.plugin for other in impls if other is not impl and other not in wrappers]
        try:
            pm.subset_hook_caller(hook_name, remove_plugins=others)(**arguments(impl.plugin_name))
        except PluginError:
            raise
        except (Exception, SystemExit) as error:  # a broken plugin must not take the others down
            _warn(f"plugin {impl.plugin_name!r} raised in {hook_name} and is skipped: {describe_error(error)}")


def _collect(pm: PluginManager, hook_name: str, base: type[Any], kind: str) -> dict[str, tuple[Any, str]]:
    """Every object registered through one hook, with the name of the plugin that registered it."""
    found: dict[str, tuple[Any, str]] = {}

    def arguments(plugin: str) -> dict:
        def register(obj: Any) -> None:
            if not isinstance(obj, base) or not obj.name:
                _warn(f"plugin {plugin!r} registered {obj!r}, which is not a named {base.__name__}; it is skipped")
                return
            if obj.name in found:
                raise PluginError(
                    f"{kind} {obj.name!r} is registered by both {found[obj.name][1]!r} and {plugin!r}; "
                    f"uninstall one, or choose with {LOAD_PLUGINS_ENV}"
                )
            found[obj.name] = (obj, plugin)
            _registered_by[(kind, obj.name)] = pm.origins.get(plugin, (plugin,))[0]

        return {"register": register}

    call_each(pm, hook_name, arguments)
    return found


# The distribution behind each registered corpus and output plugin, by (kind, name), for warnings.
_registered_by: dict[tuple[str, str], str] = {}


def plugin_origin(kind: str, name: str) -> str:
    """The distribution that registered the `kind` ("corpus" or "output") plugin called `name`."""
    return _registered_by.get((kind, name), "an unknown distribution")


def _version(pm: PluginManager, obj, plugin: str) -> str:
    """A plugin object's own version, or else that of the distribution that registered it."""
    return obj.version or pm.origins.get(plugin, (plugin, "unknown"))[1]


def corpora(pm: PluginManager | None = None) -> dict[str, CorpusPlugin]:
    """Every registered corpus plugin, by name."""
    found = _collect(pm or get_plugin_manager(), "register_corpora", CorpusPlugin, "corpus")
    return {name: obj for name, (obj, _) in found.items()}


def outputs(pm: PluginManager | None = None) -> dict[str, OutputPlugin]:
    """Every registered output plugin, by name."""
    found = _collect(pm or get_plugin_manager(), "register_outputs", OutputPlugin, "output")
    return {name: obj for name, (obj, _) in found.items()}


def get_corpus(name: str) -> CorpusPlugin:
    """The corpus plugin called `name`, or a PluginError listing the known ones."""
    known = corpora()
    if name not in known:
        raise PluginError(f"unknown corpus {name!r}; known corpora: {', '.join(sorted(known)) or 'none'}")
    return known[name]


def corpus_origin(name: str) -> tuple[str, str]:
    """The distribution that provides the corpus plugin called `name`, and the plugin's version, as `charmony plugins` shows them."""
    pm = get_plugin_manager()
    obj, plugin = _collect(pm, "register_corpora", CorpusPlugin, "corpus")[name]
    return pm.origins.get(plugin, (plugin,))[0], _version(pm, obj, plugin)


def get_outputs(names: list[str]) -> list[OutputPlugin]:
    """The output plugins called `names`, in order, or a PluginError naming the unknown one."""
    known = outputs()
    for name in names:
        if name not in known:
            raise PluginError(f"unknown output plugin {name!r}; known outputs: {', '.join(sorted(known)) or 'none'}")
    return [known[name] for name in names]


def plugin_infos(pm: PluginManager | None = None) -> list[PluginInfo]:
    """Every corpus and output plugin with its kind, version and origin."""
    pm = pm or get_plugin_manager()
    infos = []
    for hook_name, base, kind in (
        ("register_corpora", CorpusPlugin, "corpus"),
        ("register_outputs", OutputPlugin, "output"),
    ):
        for name, (obj, plugin) in sorted(_collect(pm, hook_name, base, kind).items()):
            origin = pm.origins.get(plugin, (plugin,))[0]
            infos.append(PluginInfo(name, kind, _version(pm, obj, plugin), origin, obj.description))
    return infos
