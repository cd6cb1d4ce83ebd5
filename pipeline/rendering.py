"""Running output plugins over sample files: checks, renders, and a summary of the verdicts."""

from __future__ import annotations

from pathlib import Path

from charmony.pipeline.output import OutputPlugin, Verdict


def apply_outputs(plugins: list[OutputPlugin], path: Path, out_dir: Path) -> dict:
    """Check and render one file with each plugin that accepts it; a failing plugin is recorded, not raised."""
    results = {}
    for plugin in plugins:
        if not plugin.accepts(path):
            continue
        result: dict = {}
        try:
            verdict = plugin.check(path.read_text(encoding="utf-8"))
            if verdict is not None:
                result["verdict"] = verdict.to_json()
            written = plugin.render(path, out_dir)
            if written:
                result["files"] = [p.name if p.parent == out_dir else str(p) for p in written]
        except Exception as error:  # one bad sample or plugin must not stop the others
            result["error"] = f"{type(error).__name__}: {error}"
        results[plugin.name] = result
    return results


def summarise(per_file: list[dict], plugins: list[OutputPlugin] = ()) -> dict:
    """Per plugin: how many files it checked and found valid, and the plugin's own summary `line`."""
    summary: dict[str, dict] = {}
    verdicts: dict[str, list[Verdict]] = {}
    for results in per_file:
        for name, result in results.items():
            counts = summary.setdefault(name, {"valid": 0, "checked": 0, "errors": 0})
            if "verdict" in result:
                counts["checked"] += 1
                counts["valid"] += bool(result["verdict"]["valid"])
                verdicts.setdefault(name, []).append(Verdict.from_json(result["verdict"]))
            if "error" in result:
                counts["errors"] += 1
    for plugin in plugins:
        if plugin.name in summary:
            summary[plugin.name]["line"] = _summary_line(plugin, verdicts.get(plugin.name, []), summary[plugin.name])
    return summary


def _summary_line(plugin: OutputPlugin, verdicts: list[Verdict], counts: dict) -> str:
    """The plugin's summary of its verdicts, or the plain count when it has none or fails."""
    try:
        line = plugin.summarise(verdicts) if verdicts else ""
    except Exception:  # a summary is a courtesy; a failing one falls back to the count
        line = OutputPlugin.summarise(plugin, verdicts)
    if counts["errors"]:
        line += f"{', ' if line else ''}{counts['errors']} errors"
    return line
