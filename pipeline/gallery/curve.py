"""The training curve: training and validation loss against step (as `training.log.read_metrics` reads them), as inline SVG."""

from __future__ import annotations

import html
import math

from charmony.pipeline.training.log import Metrics

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 40  # margins around the plot area
SETTLED_AFTER = 0.1  # the share of the steps after which the losses set the y-axis...
SQUEEZED = 3  # ...where the earlier ones would squeeze the later ones into less than a third of it


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round numbers, 1, 2 or 5 times a power of ten apart, from at most `low` to at least `high`."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(number * step, 10) for number in range(first, last + 1)]


def loss_range(points: list[tuple[int, float]]) -> tuple[float, float]:
    """The losses the y-axis spans: all of them, or, where the first steps' losses are far above the rest and
    would flatten the part of the curve that shows learning and overfitting, all but those."""
    first, last = min(s for s, _ in points), max(s for s, _ in points)
    values = [v for _, v in points]
    low, high = min(values), max(values)
    settled = max((v for s, v in points if s >= first + SETTLED_AFTER * (last - first)), default=high)
    return (low, settled) if high - low > SQUEEZED * (settled - low) else (low, high)


def curve_svg(metrics: Metrics) -> str:
    """An inline SVG plot of the losses, with the best checkpoint marked; a short note when there is nothing to plot."""
    points = [(s, v) for s, v in metrics.train] + [(s, v) for s, v, _ in metrics.val]
    if not points:
        return '<p class="no-curve">No training metrics yet: <code>charmony train</code> writes them to metrics.jsonl.</p>'
    x_ticks = nice_ticks(0, max(s for s, _ in points))
    y_ticks = nice_ticks(*loss_range(points))
    x_low, x_high, y_low, y_high = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    highest = max(v for _, v in points)

    def x(step: float) -> float:
        return LEFT + (step - x_low) / (x_high - x_low) * (WIDTH - LEFT - RIGHT)

    def y(loss: float) -> float:
        return HEIGHT - BOTTOM - (loss - y_low) / (y_high - y_low) * (HEIGHT - TOP - BOTTOM)

    parts = [f'<svg class="curve" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>training and validation loss against step</title>']
    for tick in x_ticks:
        parts.append(f'<line class="grid" x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
                     f'<text class="tick" x="{x(tick):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{tick:g}</text>')
    for tick in y_ticks:
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
                     f'<text class="tick" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
    parts.append(f'<text class="axis" x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" text-anchor="middle">step</text>'
                 f'<text class="axis" transform="translate(14 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" '
                 f'text-anchor="middle">loss (nats per token)</text>')
    # An inner <svg> over the plot area, in the outer one's units, hides what lies above the axis.
    area = f"{LEFT} {TOP} {WIDTH - LEFT - RIGHT} {HEIGHT - TOP - BOTTOM}"
    parts.append(f'<svg class="plot" x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
                 f'viewBox="{area}">')
    for name, series in (("train", metrics.train), ("val", [(s, v) for s, v, _ in metrics.val])):
        if series:
            path = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in series)
            parts.append(f'<polyline class="{name}" fill="none" points="{path}"/>')
            if name == "val" or len(series) == 1:
                parts += [f'<circle class="{name}" cx="{x(s):.1f}" cy="{y(v):.1f}" r="2.5"/>' for s, v in series]
    parts.append("</svg>")
    if highest > y_high:
        parts.append(f'<text class="clipped" x="{LEFT + 6}" y="{TOP + 14}">↑ the first steps\' losses, up to {highest:.2f}, '
                     "are above the plot</text>")
    best = metrics.best
    if best is not None:
        step, loss, bpc = best
        label = f"best: step {step}, {loss:.3f}" + (f" ({bpc:.3f} bits per character)" if bpc is not None else "")
        anchor = "end" if x(step) > WIDTH / 2 else "start"
        shift = -8 if anchor == "end" else 8
        parts.append(f'<g class="best"><line x1="{x(step):.1f}" x2="{x(step):.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
                     f'<circle cx="{x(step):.1f}" cy="{y(loss):.1f}" r="5"/>'
                     f'<text x="{x(step) + shift:.1f}" y="{TOP - 8}" text-anchor="{anchor}">{html.escape(label)}</text></g>')
    legend_x = WIDTH - RIGHT - 150
    parts.append(f'<g class="legend"><line class="train" x1="{legend_x}" x2="{legend_x + 20}" y1="{TOP + 10}" y2="{TOP + 10}"/>'
                 f'<text x="{legend_x + 26}" y="{TOP + 14}">training</text>'
                 f'<line class="val" x1="{legend_x + 80}" x2="{legend_x + 100}" y1="{TOP + 10}" y2="{TOP + 10}"/>'
                 f'<text x="{legend_x + 106}" y="{TOP + 14}">validation</text></g>')
    parts.append("</svg>")
    return "".join(parts)
