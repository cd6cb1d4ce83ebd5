"""Repeats and endings of one voice: which bars an ending covers, and the order in which the bars are played."""

from __future__ import annotations

from charmony.pipeline.abc.theory import MOST_ENDINGS
from charmony.pipeline.abc.tune import Bar


def ending_spans(bars: list[Bar]) -> list[tuple[tuple[int, ...], int, int]]:
    """Each ending as (numbers, first bar index, last bar index).

    An ending runs to the bar that closes a repeat or section, stopping before the next ending or `|:`;
    one that nothing closes covers only its first bar, as abcm2ps draws it.
    """
    spans = []
    for start, bar in enumerate(bars):
        if not bar.ending:
            continue
        end = start
        while not bars[end].section_end:
            following = end + 1
            if following == len(bars):
                end = start
                break
            if bars[following].ending or bars[following].start_repeat:
                break
            end = following
        spans.append((bar.ending, start, end))
    return spans


def play_order(bars: list[Bar]) -> list[int]:
    """The indices of `bars` in the order they are played, repeats and endings unrolled.

    A `:|` goes back to the last `|:`, or to the start of the tune or the bar after the last completed
    repeat. On each pass only the endings holding that pass' number are played; the last ending of a
    section is played once, and the music goes on after it.
    """
    skipped = _skipped_on_pass(bars)
    order: list[int] = []
    start, passno, index = 0, 1, 0
    while index < len(bars):
        bar = bars[index]
        if index not in skipped and index - 1 in skipped and order and order[-1] == index - 1:
            start, passno = index, 1  # past the last ending: the section is done
        if bar.start_repeat and index != start:
            start, passno = index, 1
        if passno in skipped.get(index, ()):
            index += 1
            continue
        order.append(index)
        if bar.end_repeat and _again(bars, index, passno, skipped):
            passno += 1
            index = start
            continue
        if bar.end_repeat:
            start, passno = index + 1, 1
        index += 1
    return order


def _skipped_on_pass(bars: list[Bar]) -> dict[int, set[int]]:
    """For each bar inside an ending, the passes on which it is not played (passes 1 to MOST_ENDINGS)."""
    skipped: dict[int, set[int]] = {}
    for numbers, first, last in ending_spans(bars):
        for index in range(first, last + 1):
            skipped.setdefault(index, set()).update(n for n in range(1, MOST_ENDINGS + 1) if n not in numbers)
    return skipped


def _again(bars: list[Bar], index: int, passno: int, skipped: dict[int, set[int]]) -> bool:
    """Whether the `:|` after bar `index` sends pass `passno` back once more."""
    following = bars[index + 1] if index + 1 < len(bars) else None
    if index in skipped and following is not None and following.ending:
        return max(following.ending) > passno
    return passno < 2
