"""What `charmony plugins` shows: a table of every plugin, or one plugin's options and recipes."""

from __future__ import annotations

import dataclasses

from charmony.pipeline.plugin.manager import PluginInfo, corpora, outputs
from charmony.pipeline.plugin.recipes import Recipe
from charmony.pipeline.system.errors import PluginError


def plugin_list(infos: list[PluginInfo]) -> list[dict]:
    """Every plugin's listing as JSON data, for `charmony plugins --json`."""
    return [dataclasses.asdict(info) for info in infos]


def plugin_table(infos: list[PluginInfo]) -> list[str]:
    """One line per plugin under a heading, in columns: name, kind, version, origin, description."""
    rows = [("NAME", "KIND", "VERSION", "FROM", "DESCRIPTION")] + [
        (info.name, info.kind, info.version, info.origin, info.description) for info in infos
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4] for row in rows]


def plugin_details(name: str, infos: list[PluginInfo]) -> dict:
    """What `charmony plugins NAME` shows: the plugin's listing, and a corpus' options, sample options and recipes."""
    found = [info for info in infos if info.name == name]
    if not found:
        known = ", ".join(sorted(info.name for info in infos))
        raise PluginError(f"no plugin {name!r}; installed plugins: {known}")
    details = dataclasses.asdict(found[0])
    if found[0].kind == "corpus":
        corpus = corpora()[name]
        details.update({
            "default_source": corpus.default_source,
            "token_unit": corpus.token_unit,
            "options": dict(corpus.options),
            "sample_options": dict(getattr(corpus, "sample_options", {}) or {}),
            "recipes": {key: {"description": recipe.description, "settings": recipe.settings()}
                        for key, recipe in (corpus.recipes or {}).items()},
        })
    else:
        details["extensions"] = list(outputs()[name].extensions)
    return details


def format_details(details: dict) -> str:
    """`plugin_details` as text: a heading, then one section per kind of setting."""
    lines = [f"{details['name']}: {details['kind']} {details['version']} from {details['origin']}", details["description"]]
    if details["kind"] != "corpus":
        lines.append(f"files: {', '.join(details['extensions']) or 'any'}")
        return "\n".join(lines)
    lines += [f"default source: {details['default_source']}", f"tokens: {details['token_unit']}s"]
    sections = [
        ("prepare options (charmony prepare --option KEY=VALUE)", details["options"]),
        ("sample options (charmony sample --option KEY=VALUE)", details["sample_options"]),
        ("recipes (charmony train RUN --recipe NAME)", {
            key: f"{recipe['description']}\n{Recipe(recipe['description'], **recipe['settings']).flags()}"
            for key, recipe in details["recipes"].items()
        }),
    ]
    for heading, entries in sections:
        if not entries:
            continue
        width = max(map(len, entries))
        lines += ["", heading + ":"]
        for key, text in entries.items():
            first, *rest = text.split("\n")
            lines.append(f"  {key.ljust(width)}  {first}")
            lines += [f"  {' ' * width}  {more}" for more in rest]
    return "\n".join(lines)
