"""forecast.svg: the recent history, the median forecast and its 10-90% band, drawn as plain SVG."""

from __future__ import annotations

from html import escape

import numpy as np

WIDTH, HEIGHT = 800, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 32, 36
HISTORY_PER_STEP = 4  # show up to this many steps of history per forecast step
MIN_HISTORY = 96


def forecast_svg(history: np.ndarray, median: np.ndarray, p10: np.ndarray, p90: np.ndarray, title: str = "") -> str:
    """An SVG chart: history in grey, the band in light blue, the median in blue, a line where the forecast starts."""
    horizon = len(median)
    shown = np.asarray(history[-max(MIN_HISTORY, HISTORY_PER_STEP * horizon):], dtype=np.float64)
    steps = np.arange(-len(shown) + 1, horizon + 1)  # 0 is the last value of the history
    low = float(min(shown.min(), np.min(p10)))
    high = float(max(shown.max(), np.max(p90)))
    if high == low:
        high, low = high + 1, low - 1
    pad = 0.05 * (high - low)
    low, high = low - pad, high + pad

    def x(step) -> np.ndarray:
        return LEFT + (np.asarray(step) - steps[0]) / (steps[-1] - steps[0]) * (WIDTH - LEFT - RIGHT)

    def y(value) -> np.ndarray:
        return TOP + (high - np.asarray(value)) / (high - low) * (HEIGHT - TOP - BOTTOM)

    def points(xs, ys) -> str:
        return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys))

    future = np.arange(1, horizon + 1)
    band = points(np.concatenate([x(future), x(future[::-1])]), np.concatenate([y(p90), y(p10[::-1])]))
    ticks = []
    for value in np.linspace(low + pad, high - pad, 5):
        ticks.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#eee"/>'
                     f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.4g}</text>')
    for step in (steps[0], 0, horizon):
        ticks.append(f'<text x="{x(step):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{step:+d}</text>')
    start = x(0.5)
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="sans-serif" font-size="11">',
        f'<title>forecast: {escape(title)}</title>',
        '<rect width="100%" height="100%" fill="white"/>',
        *ticks,
        f'<polygon class="band" points="{band}" fill="#9ecae1" fill-opacity="0.6" stroke="none"/>',
        f'<polyline class="history" points="{points(x(steps[:len(shown)]), y(shown))}" fill="none" stroke="#555" stroke-width="1.2"/>',
        f'<polyline class="median" points="{points(x(np.concatenate([[0], future])), y(np.concatenate([[shown[-1]], median])))}" '
        'fill="none" stroke="#08519c" stroke-width="1.8"/>',
        f'<line x1="{start:.1f}" x2="{start:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#999" stroke-dasharray="4 3"/>',
        f'<text x="{LEFT}" y="{TOP - 12}">{escape(title)}: history, median forecast, 10-90% band (steps)</text>',
        "</svg>",
        "",
    ])
