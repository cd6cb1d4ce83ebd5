"""Running output plugins over sample files: checks, renders, and a summary of the verdicts."""

from __future__ import annotations

from pathlib import Path

from charmony.pipeline.output import OutputPlugin, Rendered, Verdict


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
                if plugin.unit:
                    result["unit"] = plugin.unit
            written = plugin.render(path, out_dir)
            if isinstance(written, Rendered):
                if written.skipped:
                    result["skipped"] = written.skipped
                if written.details:
                    result["details"] = written.details
                written = written.files
            if written:
                result["files"] = [p.name if p.parent == out_dir else str(p) for p in written]
        except Exception as error:  # one bad sample or plugin must not stop the others
            result["error"] = f"{type(error).__name__}: {error}"
        results[plugin.name] = result
    return results


def summarise(per_file: list[dict], plugins: list[OutputPlugin] = ()) -> dict:
    """Per plugin: how many files (or units, such as tunes) it checked and found valid, what failed or was
    skipped, and the plugin's own summary `line` where it gives one."""
    summary: dict[str, dict] = {}
    verdicts: dict[str, list[Verdict]] = {}
    for results in per_file:
        for name, result in results.items():
            counts = summary.setdefault(name, {"valid": 0, "checked": 0, "errors": 0, "skipped": 0})
            if "verdict" in result:
                unit = result.get("unit")
                details = result["verdict"]["details"]
                if unit:
                    counts["unit"] = unit
                counts["checked"] += details.get(unit, 0) if unit else 1
                counts["valid"] += details.get(f"valid_{unit}", 0) if unit else bool(result["verdict"]["valid"])
                verdicts.setdefault(name, []).append(Verdict.from_json(result["verdict"]))
            if "error" in result:
                counts["errors"] += 1
            counts["skipped"] += len(result.get("skipped", ()))
    for plugin in plugins:
        if plugin.name in verdicts and type(plugin).summarise is not OutputPlugin.summarise:
            try:
                summary[plugin.name]["line"] = plugin.summarise(verdicts[plugin.name])
            except Exception:  # a summary is a courtesy; a failing one falls back to the count
                pass
    return summary


def summary_line(name: str, counts: dict) -> str:
    """One plugin's summary, as `abc: 17/20 tunes valid`, the plugin's own line, or `midi: 3 skipped`."""
    parts = []
    if counts.get("line"):
        parts.append(counts["line"])
    elif counts["checked"]:
        unit = f" {counts['unit']}" if counts.get("unit") else ""
        parts.append(f"{counts['valid']}/{counts['checked']}{unit} valid")
    if counts["errors"]:
        parts.append(f"{counts['errors']} errors")
    if counts["skipped"]:
        parts.append(f"{counts['skipped']} skipped")
    return f"{name}: {', '.join(parts)}" if parts else ""
