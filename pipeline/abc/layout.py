"""Layouts of a tune of several voices: how its voices' bars are laid out in `[V:id] ` lines.

- `blocks`, the writer's own: each voice writes a line of four bars (a pickup joins the first line), then
  the next voice writes the same bars, and so on; the bass of a bar comes about 150 characters after its soprano.
- `bars`: each voice writes a line of one bar (a pickup is a bar), then the next voice: the voices take turns
  bar by bar, so the notes of one chord lie within a few dozen characters.

Both are ABC 2.1 and read as the same music; `relayout` turns either into the other exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.abc.profile import VOICE_PREFIX, split_header
from charmony.pipeline.abc.theory import is_pickup
from charmony.pipeline.abc.tokens import tokens

LAYOUTS = ("blocks", "bars")
WRITER_LAYOUT = "blocks"  # the layout the writer writes, and a run prepared before layouts were recorded
BLOCK_BARS = 4  # bars of one voice per line in the blocks layout, a pickup not counted
MUSIC_KINDS = frozenset(["note", "rest", "bar_rest", "chord_open"])  # the tokens that make a bar of its text


@dataclass(frozen=True)
class VoicedTune:
    """A tune split into its header lines and each voice's bars, each bar's text ending with its barline."""

    header: list[str]  # X: to K:
    voices: dict[str, list[str]]  # voice id -> its bars in order; the voices in the order their lines come
    pickup: bool  # whether the first bar is a pickup (shorter than the meter's bar)


def split_voices(text: str) -> VoicedTune | None:
    """The tune's voices, bar by bar, from either layout; None when its body has a line that is no `[V:id] ` line."""
    split = split_header(text)
    if split is None:
        return None
    fields, body = split
    voices: dict[str, list[str]] = {}
    for line in body:
        prefix = VOICE_PREFIX.match(line)
        if prefix is None:
            return None
        voices.setdefault(prefix.group(1), []).extend(music_bars(line[prefix.end():]))
    if not voices:
        return None
    header = [f"{letter}:{value}" for letter, value in fields]
    return VoicedTune(header, voices, _starts_with_pickup(text))


def music_bars(music: str) -> list[str]:
    """The bars of a voice's music, as written, each closed by its barline: a barline closes a bar once a note,
    rest or chord has come since the last; one before any (`|:` opening a line) starts the bar after it, and
    text after the last barline (an unfinished sample's) is a bar of its own."""
    bars: list[str] = []
    start, music_seen = 0, False
    for match in tokens(music):
        if match.lastgroup == "bar" and music_seen:
            bars.append(music[start:match.end()].strip())
            start, music_seen = match.end(), False
        elif match.lastgroup in MUSIC_KINDS:
            music_seen = True
    if music[start:].strip():
        bars.append(music[start:].strip())
    return bars


def _starts_with_pickup(text: str) -> bool:
    """Whether the first voice's first bar is shorter than its meter's bar, as the parser reads it."""
    tune = parse_tune(text)
    first = next(iter(tune.voices.values()), None)
    if first is None or len(first.bars) < 2:
        return False
    bar = first.bars[0]
    return is_pickup(bar.duration(), bar.meter.length)


def line_spans(bars: int, pickup: bool, layout: str) -> list[range]:
    """The bar indexes of each line of one voice in `layout`: one bar a line, or four (a pickup joining the first)."""
    if layout == "bars":
        return [range(index, index + 1) for index in range(bars)]
    start = 1 if pickup else 0
    edges = [0, *range(start + BLOCK_BARS, bars, BLOCK_BARS), bars]
    return [range(first, last) for first, last in zip(edges, edges[1:])]


def layout_lines(tune: VoicedTune, layout: str) -> list[str]:
    """The body lines of `tune` in `layout` ("blocks" or "bars")."""
    most = max(len(bars) for bars in tune.voices.values())
    lines = []
    for span in line_spans(most, tune.pickup, layout):
        for voice, bars in tune.voices.items():
            music = bars[span.start:span.stop]
            if music:
                lines.append(f"[V:{voice}] " + " ".join(music))
    return lines


def write_layout(tune: VoicedTune, layout: str) -> str:
    """The whole tune's text in `layout`."""
    return "\n".join([*tune.header, *layout_lines(tune, layout)]) + "\n"


def relayout(text: str, layout: str) -> str:
    """A tune of `[V:id] ` lines written in `layout`; any other text as it is."""
    tune = split_voices(text)
    return text if tune is None else write_layout(tune, layout)
