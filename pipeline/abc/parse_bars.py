"""Reading barlines, repeats and endings: closing each voice's open bar and opening the next."""

from __future__ import annotations

import re

from charmony.pipeline.abc import theory
from charmony.pipeline.abc.fields import read_number
from charmony.pipeline.abc.parse_state import MusicLine, TuneState, VoiceState
from charmony.pipeline.abc.tokens import describe_other
from charmony.pipeline.abc.tune import Bar, Change, Chord, Note, Rest
from charmony.pipeline.plugin.verdict import Problem

ENDING_SPAN = re.compile(r"(\d+)(?:-(\d+))?")  # one part of an ending's numbers: `2` or `1-3`


class BarReader(TuneState):
    """Closes bars at barlines, keeps track of open repeats and numbers endings."""

    def on_barline(self, music: MusicLine, match: re.Match) -> None:
        """Close the open bar at a barline and open the next one."""
        state, index, column = music.state, music.index, match.start()
        text = match.group("bar_text")
        if "|" not in text and text != "::":
            self.problem(index, column, describe_other(":"))
            return
        self.check_tuplet_done(state, "the bar line")
        if state.broken is not None:
            self.problem(*state.broken_at, "'>' or '<' needs a note on each side within the bar")
            state.broken = None
        end_repeat, start_repeat = text.startswith(":"), text.endswith(":")
        if start_repeat and state.repeat_open is not None and not end_repeat:
            line, col = state.repeat_open
            self.problem(index, column, f"'|:' starts a repeat while the one at line {line}:{col} is still open")
        old = state.bar
        kept = self.close_bar(state, text.strip(":") or "|", end_repeat)
        if end_repeat:
            state.repeat_open = None
        if start_repeat:
            state.repeat_open = (self.first_line + index, column + 1)
        state.bar = Bar(state.meter, self.first_line + index, match.end() + 1, start_repeat=start_repeat)
        if not kept:  # an empty bar passes its repeat sign, ending and changes on
            state.bar.start_repeat |= old.start_repeat
            state.bar.ending = old.ending
            state.bar.layers[0].extend(event for layer in old.layers for event in layer)
        if match.group("bar_ending"):
            self.start_ending(state, match.group("bar_ending"), index, column)

    def on_ending(self, music: MusicLine, match: re.Match) -> None:
        """`[1`, `[2` or `[1,3` after a barline."""
        self.start_ending(music.state, match.group("ending_numbers"), music.index, match.start())

    def start_ending(self, state: VoiceState, numbers: str, index: int, column: int) -> None:
        """Mark the open bar as the start of the endings `numbers` (as `1,3` or `1-2`)."""
        if state.bar.has_music:
            self.problem(index, column, f"ending [{numbers} must follow a bar line")
            return
        values: list[int] = []
        for part in numbers.split(","):
            span = ENDING_SPAN.fullmatch(part)
            if span is None:
                self.problem(index, column, f"ending [{numbers}: each part is one number or a range, as in [1,3 or [1-2")
                return
            low = read_number(span.group(1))
            high = read_number(span.group(2)) if span.group(2) else low
            if not 1 <= low <= high <= theory.MOST_ENDINGS:
                self.problem(index, column, f"ending [{numbers}: endings are numbered from 1 to {theory.MOST_ENDINGS}, "
                             "as in [1, [2 or [1,3")
                return
            values.extend(range(low, high + 1))
        state.bar.ending = tuple(values)

    def close_bar(self, state: VoiceState, barline: str, end_repeat: bool) -> bool:
        """End the open bar and keep it if it holds music; an empty one merges its barline into the bar before."""
        bar = state.bar
        bars = state.voice.bars
        state.bar_accidentals = {}
        state.layer = 0
        state.last = None
        if bar.has_music:
            bar.barline, bar.end_repeat = barline, end_repeat
            self.check_lengths(bar)
            if bar.whole_rest_bars:
                self.expand_whole_rests(state, bar)
            else:
                bars.append(bar)
            return True
        if bars:  # `| |:`, `:| |`
            bars[-1].end_repeat |= end_repeat
            if barline != "|":
                bars[-1].barline = barline
        return False

    def check_lengths(self, bar: Bar) -> None:
        """A problem for each note, chord, rest or grace note of the bar that is too long or too short to render.

        One too long is then cut to the longest note, so that nothing reading the tune counts out its length.
        """
        for layer in bar.layers:
            for event in layer:
                if isinstance(event, Change):
                    continue
                what = "note" if isinstance(event, Note) else "chord" if isinstance(event, Chord) else "rest"
                for item, name in ((event, what), *((grace, "grace note") for grace in getattr(event, "grace", ()))):
                    beyond = theory.note_length_problem(item.length)
                    if beyond is not None:
                        self.problems.append(Problem(item.line, item.column, f"this {name} {beyond}"))
                    item.length = min(item.length, theory.LONGEST_NOTE)
                for note in getattr(event, "notes", ()):
                    note.length = min(note.length, theory.LONGEST_NOTE)

    def expand_whole_rests(self, state: VoiceState, bar: Bar) -> None:
        """Z4 alone in its bar becomes four bars of rest; with other music in its bar it is a problem and one bar."""
        music = [event for layer in bar.layers for event in layer if not isinstance(event, Change)]
        if len(music) > 1 or len(bar.layers) > 1:
            self.problem(bar.line - self.first_line, bar.column - 1, "Z (a rest of whole bars) must stand alone in its bar")
            state.voice.bars.append(bar)
            return
        count = bar.whole_rest_bars
        for number in range(count):
            copy = Bar(bar.meter, bar.line, bar.column, [list(bar.layers[0])] if number == 0 else [[Rest(music[0].length, bar.line, bar.column)]], has_music=True)
            copy.start_repeat = bar.start_repeat and number == 0
            copy.ending = bar.ending if number == 0 else ()
            if number == count - 1:
                copy.barline, copy.end_repeat = bar.barline, bar.end_repeat
            state.voice.bars.append(copy)
