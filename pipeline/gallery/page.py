"""The HTML of a gallery: the run's header, a section per sample set, and a card per sample."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from charmony import __version__
from charmony.pipeline.plugin.cards import PLACES, CardPart, CardSample, highlighted, lexer_for_file, marked_text
from charmony.pipeline.gallery.curve import curve_svg
from charmony.pipeline.gallery.render import GalleryRendered
from charmony.pipeline.training.log import Metrics
from charmony.pipeline.run.samples_file import SampleSet
from charmony.pipeline.evaluation.musical import musical_rows
from charmony.pipeline.plugin.output import OutputPlugin
from charmony.pipeline.plugin.verdict import Problem
from charmony.pipeline.outputs.runner import summary_line

if TYPE_CHECKING:
    from charmony.pipeline.run.config import ModelConfig
    from charmony.pipeline.run.manifest import Manifest

# Settings of samples.json shown for every sample set, in this order, with their labels.
SETTINGS = {
    "checkpoint": "checkpoint", "step": "step", "seed": "seed", "temperature": "temperature", "top_k": "top-k",
    "top_p": "top-p", "prime": "prime", "max_length": "max length", "mode": "mode", "options": "options", "outputs": "outputs",
    "melody": "melody",
}
NOT_SETTINGS = {"run", "corpus", "samples", "summary", "evaluation"}


@dataclass(frozen=True)
class RunSummary:
    """What the header says about the run: its corpus, model and training."""

    name: str
    manifest: Manifest
    model: ModelConfig | None  # the checkpoint's
    parameters: int | None
    checkpoint_note: str | None  # why the model is unknown, when it is
    metrics: Metrics


def escape(value) -> str:
    """Any value as HTML text."""
    return html.escape(str(value))


def figure(value) -> str:
    """A number as a reader wants it: integers with separators, fractions to three significant digits."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3g}" if math.isfinite(value) else str(value)
    return str(value)


def figures_html(figures: dict, css_class: str) -> str:
    """`<dl>` of named figures, such as a set's or a sample's evaluation; nested figures on one line."""
    items = []
    for name, value in figures.items():
        if isinstance(value, dict):
            shown = " · ".join(f"{escape(k)} {escape(figure(v))}" for k, v in value.items())
        elif isinstance(value, list):
            shown = ", ".join(escape(figure(v)) for v in value)
        else:
            shown = escape(figure(value))
        items.append(f"<div><dt>{escape(name)}</dt><dd>{shown}</dd></div>")
    return f'<dl class="{css_class}">' + "".join(items) + "</dl>" if items else ""


def musical_html(music: dict) -> str:
    """A table of the musical figures of a set: each figure in words, the samples' value and the held-out tunes'."""
    body = []
    for heading, rows in musical_rows(music):
        body.append(f'<tr><th scope="rowgroup" colspan="3">{escape(heading)}</th></tr>')
        body += [f"<tr><td>{escape(words)}</td><td>{escape(samples)}</td><td>{escape(held_out)}</td></tr>"
                 for words, samples, held_out in rows]
    if not body:
        return ""
    return ('<table class="music"><thead><tr><th>figure</th><th>samples</th><th>held-out</th></tr></thead>'
            "<tbody>" + "".join(body) + "</tbody></table>")


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def verdicts(outputs: dict) -> dict[str, dict]:
    """Each checking plugin's verdict on a sample, by plugin name."""
    return {name: result["verdict"] for name, result in outputs.items()
            if isinstance(result, dict) and isinstance(result.get("verdict"), dict)}


def validity(outputs: dict) -> str:
    """`valid` when every checker passed the sample, `invalid` when one did not, `unchecked` when none looked."""
    found = verdicts(outputs)
    if not found:
        return "unchecked"
    return "valid" if all(v.get("valid") is True for v in found.values()) else "invalid"


def problems_of(verdict: dict) -> list[Problem]:
    """The problems a verdict lists, leaving out any that are damaged."""
    found = []
    for problem in verdict.get("problems") or []:
        try:
            found.append(Problem(int(problem["line"]), int(problem["column"]), str(problem["message"])))
        except (KeyError, TypeError, ValueError):
            continue
    return found


def run_header(run: RunSummary) -> str:
    """The run's name, corpus, data, model and training, and its training curve."""
    manifest = run.manifest
    documents, tokens = manifest.documents, manifest.tokens
    facts = {"corpus": manifest.corpus}
    if any(documents.values()):
        facts["documents"] = f"{figure(documents.get('train', 0))} train, {figure(documents.get('val', 0))} validation"
    facts["tokens"] = f"{figure(tokens.get('train', 0))} train, {figure(tokens.get('val', 0))} validation"
    facts["vocabulary"] = f"{figure(manifest.vocab_size)} tokens"
    if run.model:
        model = run.model
        shape = f"{model.layers} × {model.hidden} {model.cell.upper()}"
        shape += f", embedding {model.embedding}" if model.embedding else ", one-hot input"
        shape += f", dropout {figure(model.dropout)}"
        if run.parameters is not None:
            shape += f", {figure(run.parameters)} parameters"
        facts["model"] = shape
    else:
        facts["model"] = run.checkpoint_note or "not trained yet"
    last = run.metrics.last_step
    if last is not None:
        facts["trained"] = f"{figure(last)} steps"
    best = run.metrics.best
    if best is not None:
        step, loss, bpc = best
        facts["best validation"] = (f"{bpc:.3f} bits per character" if bpc is not None else f"loss {loss:.4f}") + f" at step {figure(step)} (best.pt)"
    rows = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in facts.items() if v is not None)
    return (f'<header class="run"><h1>Run <span class="name">{escape(run.name)}</span></h1>'
            f'<dl class="facts">{rows}</dl>'
            f'<figure class="curve">{curve_svg(run.metrics)}<figcaption>Training and validation loss by step, '
            f'from metrics.jsonl; the marked step is the checkpoint best.pt holds.</figcaption></figure></header>')


def controls(total: int) -> str:
    """The filter and sort controls gallery.js runs."""
    return ('<nav class="controls"><label>show <select id="show"><option value="all">all samples</option>'
            '<option value="valid">valid</option><option value="invalid">invalid</option><option value="unchecked">unchecked</option>'
            '</select></label> <label>order <select id="order"><option value="number">as drawn</option>'
            '<option value="valid">valid first</option><option value="shortest">shortest first</option>'
            '<option value="longest">longest first</option></select></label> '
            f'<output id="count">{total} samples</output></nav>')


def set_section(sample_set: SampleSet, anchor: str, report_url: str | None, cards: list[str]) -> str:
    """One sample set: where it came from, how it was drawn, what the checkers found, and its cards."""
    report = sample_set.report
    settings = {}
    for key, label in SETTINGS.items():
        if key in report and report[key] is not None:
            value = report[key]
            if key == "options" and isinstance(value, dict):
                value = ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
            elif key == "outputs" and isinstance(value, list):
                value = ", ".join(map(str, value)) or "none"
            elif key == "prime":
                value = repr(value)
            settings[label] = figure(value)
    settings.update({key: figure(value) for key, value in report.items()
                     if key not in SETTINGS and key not in NOT_SETTINGS and not isinstance(value, (dict, list))})
    lines = []
    for name, counts in _dict(report.get("summary")).items():
        try:
            line = summary_line(name, counts)
        except (KeyError, TypeError):
            line = ""
        if line:
            lines.append(f"<li>{escape(line)}</li>")
    evaluation = _dict(report.get("evaluation"))
    link = f' <a class="report" href="{escape(report_url)}">samples.json</a>' if report_url else ""
    return (f'<section class="set" id="{anchor}"><h2>{escape(sample_set.folder.name)} '
            f'<small>{len(cards)} samples</small>{link}</h2>'
            f'<p class="folder">{escape(sample_set.folder)}</p>'
            + figures_html(settings, "settings")
            + (f'<ul class="summary">{"".join(lines)}</ul>' if lines else "")
            + (f'<h3 class="evaluation">Evaluation of the set</h3>'
               f'{figures_html({k: v for k, v in evaluation.items() if k != "music"}, "evaluation")}'
               f'{musical_html(_dict(evaluation.get("music")))}' if evaluation else "")
            + '<div class="cards">' + "".join(cards) + "</div></section>")


def card_html(entry: dict, position: int, anchor: str, text: str | None, folder, plugins: dict[str, OutputPlugin],
              place_file: Callable[[str], str | None], rendered: GalleryRendered | None = None,
              place_rendered: Callable[[str], str | None] = lambda name: None) -> str:
    """One sample's card: its verdicts and problems, then what each output plugin shows of it (including what the
    gallery `rendered` itself, whose files `place_rendered` places), then its text and the text the model wrote."""
    outputs = {name: result for name, result in _dict(entry.get("outputs")).items() if isinstance(result, dict)}
    own = rendered.results if rendered is not None else {}
    outputs.update(own)
    found = verdicts(outputs)
    problems = [(name, problem) for name, verdict in found.items() for problem in problems_of(verdict)]
    state = validity(outputs)
    length = entry.get("characters") if isinstance(entry.get("characters"), int) else len(text or "")
    facts = [f"{figure(length)} characters"]
    if "finished" in entry:
        facts.append("ended by itself" if entry["finished"] else "cut off at the length limit")
    head = (f'<header><h3>{escape(entry["file"])}</h3><span class="badge {state}">{state}</span>'
            f'<span class="facts">{escape(" · ".join(facts))}</span></header>')
    verdict_items = []
    for name, verdict in found.items():
        details = " · ".join(f"{escape(k.replace('_', ' '))} {escape(figure(v))}" for k, v in _dict(verdict.get("details")).items()
                             if not isinstance(v, (dict, list)))
        word = "valid" if verdict.get("valid") is True else "invalid"
        verdict_items.append(f'<li class="{word}"><b>{escape(name)}</b> {word} <span class="details">{details}</span></li>')
    problem_items = [f'<li><a href="#{anchor}-L{p.line}">{escape(name)}, line {p.line}:{p.column}</a> {escape(p.message)}</li>'
                     for name, p in problems]
    reasons: dict[str, list[str]] = {}  # the renderers of a tune that fails its check all give the same reason
    for name, result in outputs.items():
        for reason in result.get("skipped") or []:
            if isinstance(reason, str):
                reasons.setdefault(reason, []).append(name)
    left_out = [f"<li><b>{escape(', '.join(names))}</b> {escape(reason)}</li>" for reason, names in reasons.items()]
    left_out += [f'<li class="error"><b>{escape(name)}</b> failed: {escape(result["error"])}</li>'
                 for name, result in outputs.items() if isinstance(result.get("error"), str)]
    sources = {name: (rendered.folder, place_rendered) if rendered is not None and name in own else (folder, place_file)
               for name in outputs}
    parts = _plugin_parts(outputs, entry["file"], text, [p for _, p in problems], anchor, sources, plugins)
    body = [head]
    if verdict_items:
        body.append('<ul class="verdicts">' + "".join(verdict_items) + "</ul>")
    if problem_items:
        body.append('<ol class="problems">' + "".join(problem_items) + "</ol>")
    if left_out:
        body.append('<ul class="skipped">' + "".join(left_out) + "</ul>")
    evaluation = _dict(entry.get("evaluation"))
    if evaluation:
        body.append(figures_html(evaluation, "evaluation"))
    for place in PLACES:
        chosen = [part.html for part in parts if part.place == place]
        if place == "text" and not chosen:
            chosen = [_plain_text(entry["file"], text, [p for _, p in problems], anchor)]
        if chosen:
            body.append(f'<div class="{place}">' + " ".join(chosen) + "</div>")
    raw = entry.get("raw")
    if isinstance(raw, str) and text is not None and raw != text:
        body.append(raw_html(raw, f"{anchor}-raw"))
    return (f'<article class="card" id="{anchor}" data-validity="{state}" data-length="{length}" '
            f'data-number="{position}">' + "".join(body) + "</article>")


def _plain_text(file: str, text: str | None, problems: list[Problem], anchor: str) -> str:
    """The sample's text with its problems marked, highlighted when Pygments knows the file's language."""
    if text is None:
        return f'<p class="missing">{escape(file)} is missing from its folder</p>'
    language = lexer_for_file(file)
    return marked_text(text, problems, anchor, highlighted(text, language) if language else None)


def raw_html(raw: str, anchor: str) -> str:
    """The sample as the model wrote it, before charmony numbered, titled and credited it, folded away."""
    return (f'<details class="raw"><summary>as the model wrote it</summary>{marked_text(raw, [], anchor, None, "raw")}'
            "</details>")


def _plugin_parts(outputs: dict, file: str, text: str | None, problems: list[Problem], anchor: str,
                  sources: dict[str, tuple], plugins: dict[str, OutputPlugin]) -> list[CardPart]:
    """What each output plugin adds to the card: its own `card`, or else links to the files it wrote.

    `sources` gives, by plugin, the folder its files are in and what places them in the gallery.
    """
    parts: list[CardPart] = []
    for name, result in outputs.items():
        folder, place_file = sources[name]
        sample = CardSample(text or "", file, result, problems, anchor, folder, place_file)
        plugin = plugins.get(name)
        given = None
        if plugin is not None and text is not None:
            try:
                given = plugin.card(sample)
            except Exception as error:  # one plugin's broken card must not take the gallery down
                given = CardPart(f"{escape(name)} could not show its results: {escape(type(error).__name__)}: {escape(error)}", "notes")
        if isinstance(given, CardPart):
            given = [given]
        given = [part for part in given or [] if isinstance(part, CardPart)]
        if not given and sample.files:
            given = [CardPart(" ".join(sample.file_link(f) for f in sample.files), "links")]
        parts += given
    return parts


def page_html(title: str, header: str, total: int, sections: list[str], css: str = "gallery.css", script: str = "gallery.js") -> str:
    """The whole index.html: self-contained, with the stylesheet and script beside it and nothing from the network."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="charmony {escape(__version__)}">'
        # Only files beside the page (and data: URLs) may load: the page works offline and asks nothing of the network.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self' file: data:\">"
        f"<title>{escape(title)}</title><link rel=\"stylesheet\" href=\"{css}\"></head><body>"
        f"{header}{controls(total)}<main>{''.join(sections)}</main>"
        f'<footer>Made by <code>charmony gallery</code> {escape(__version__)}. It needs no network: open index.html from disk.</footer>'
        f'<script src="{script}"></script></body></html>\n'
    )

