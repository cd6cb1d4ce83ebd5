"""forecast.svg: the recent history, the median forecast and its 80% band (and the truth, where known), drawn as plain
SVG with round ticks on both axes and a legend."""

from __future__ import annotations

from html import escape

import numpy as np

from charmony.pipeline.series.ticks import round_ticks

WIDTH, HEIGHT = 800, 340
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 32, 58
HISTORY_PER_STEP = 4  # show up to this many steps of history per forecast step
MIN_HISTORY = 96
HISTORY, MEDIAN, BAND, TRUTH = "#555", "#08519c", "#9ecae1", "#d95f02"


def _points(xs, ys) -> str:
    return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys) if np.isfinite(b))


def _legend(truth_drawn: bool) -> list[str]:
    """A row of swatches and names under the chart."""
    entries = [("history", f'stroke="{HISTORY}" stroke-width="1.2"'), ("median forecast", f'stroke="{MEDIAN}" stroke-width="1.8"'),
               ("80% band (10th to 90th percentile)", f'stroke="{BAND}" stroke-width="8" stroke-opacity="0.6"')]
    if truth_drawn:
        entries.append(("truth", f'stroke="{TRUTH}" stroke-width="1.4" stroke-dasharray="3 2"'))
    row, x, parts = HEIGHT - 12, LEFT, ['<g class="legend">']
    for name, stroke in entries:
        parts.append(f'<g class="legend-entry"><line x1="{x}" x2="{x + 18}" y1="{row - 4}" y2="{row - 4}" {stroke}/>'
                     f'<text x="{x + 24}" y="{row}">{escape(name)}</text></g>')
        x += 40 + 6 * len(name)
    return parts + ["</g>"]


def forecast_svg(history: np.ndarray, median: np.ndarray, p10: np.ndarray, p90: np.ndarray, title: str = "",
                 truth: np.ndarray | None = None) -> str:
    """An SVG chart: history in grey, the band in light blue, the median in blue, the truth (if given, NaN where
    missing) in orange, a line where the forecast starts; round ticks and a legend."""
    horizon = len(median)
    shown = np.asarray(history[-max(MIN_HISTORY, HISTORY_PER_STEP * horizon):], dtype=np.float64)
    steps = np.arange(-len(shown) + 1, horizon + 1)  # 0 is the last value of the history
    drawn = [shown, np.asarray(p10, dtype=np.float64), np.asarray(p90, dtype=np.float64), np.asarray(median, dtype=np.float64)]
    if truth is not None:
        drawn.append(np.asarray(truth, dtype=np.float64))
    everything = np.concatenate(drawn)
    everything = everything[np.isfinite(everything)]
    y_ticks = round_ticks(float(everything.min()), float(everything.max()))
    low, high = y_ticks.values()[0], y_ticks.values()[-1]
    x_ticks = round_ticks(float(steps[0]), float(steps[-1]), target=8, cover=False)

    def x(step) -> np.ndarray:
        return LEFT + (np.asarray(step) - steps[0]) / (steps[-1] - steps[0]) * (WIDTH - LEFT - RIGHT)

    def y(value) -> np.ndarray:
        return TOP + (high - np.asarray(value)) / (high - low) * (HEIGHT - TOP - BOTTOM)

    future = np.arange(1, horizon + 1)
    band = _points(np.concatenate([x(future), x(future[::-1])]), np.concatenate([y(p90), y(p10[::-1])]))
    ticks = ['<g class="y-ticks">']
    for value, label in zip(y_ticks.values(), y_ticks.labels()):
        ticks.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#eee"/>'
                     f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{label}</text>')
    ticks += ['</g>', '<g class="x-ticks">']
    for value, label in zip(x_ticks.values(), x_ticks.labels()):
        ticks.append(f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM + 4}" '
                     f'stroke="#999"/><text x="{x(value):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{label}</text>')
    ticks.append('</g>')
    truth_line = []
    if truth is not None:
        truth_line = [f'<polyline class="truth" points="{_points(x(np.arange(1, len(truth) + 1)), y(truth))}" fill="none" '
                      f'stroke="{TRUTH}" stroke-width="1.4" stroke-dasharray="3 2"/>']
    start = x(0.5)
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="sans-serif" font-size="11">',
        f'<title>forecast: {escape(title)}</title>',
        '<rect width="100%" height="100%" fill="white"/>',
        *ticks,
        f'<polygon class="band" points="{band}" fill="{BAND}" fill-opacity="0.6" stroke="none"/>',
        f'<polyline class="history" points="{_points(x(steps[:len(shown)]), y(shown))}" fill="none" stroke="{HISTORY}" '
        'stroke-width="1.2"/>',
        f'<polyline class="median" points="{_points(x(np.concatenate([[0], future])), y(np.concatenate([[shown[-1]], median])))}" '
        f'fill="none" stroke="{MEDIAN}" stroke-width="1.8"/>',
        *truth_line,
        f'<line x1="{start:.1f}" x2="{start:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#999" stroke-dasharray="4 3"/>',
        f'<text x="{LEFT}" y="{TOP - 12}">{escape(title)}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - BOTTOM + 30}" text-anchor="end">steps (0: the last value of the history)</text>',
        *_legend(truth is not None),
        "</svg>",
        "",
    ])
