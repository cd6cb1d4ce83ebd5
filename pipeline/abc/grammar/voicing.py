"""The rules of `--option harmony=chords|strict` for the voices after the first: where the quarter-note beats fall,
what the voices written before sound on them, whether a note may sound there, and the last voice's final degree.

Beats are counted as `pipeline.abc.harmony` counts them: from the end of the first voice's first bar, so that a
pickup's beats fall on the bars' beats. Times are ticks from the tune's start (see `AbcState.clock`, `heard`).
"""

from __future__ import annotations

from collections.abc import Hashable

from charmony.pipeline.abc.grammar.compiled import CompiledGrammar
from charmony.pipeline.abc.grammar.state import AbcState, Heard, bar_start, sounds_at
from charmony.pipeline.abc.grammar.symbols import LEN
from charmony.pipeline.abc.harmony import FITTING, is_parallel

ALL_CLASSES = frozenset(range(12))
MOST_VIEWS = 100_000  # memoised beat views kept before the memo starts again


def last_degrees(grammar: CompiledGrammar, s: AbcState) -> frozenset[int]:
    """The degrees the last voice may end on: those the corpus' last voices end on after a first voice ending as this
    one did, else those they end on at all."""
    form = grammar.form
    after = form.last_voice_after or {}
    return after.get(s.first_degree, form.last_voice_degrees)


def ending_degrees(grammar: CompiledGrammar, s: AbcState) -> frozenset[int] | None:
    """The degrees the note being written counts towards ending on: the first voice's where `--option final=corpus`
    asks for them, the last voice's in its last line (`last_degrees`); None elsewhere."""
    if s.voice == 0:
        return grammar.form.final_degrees
    return last_degrees(grammar, s) if last_voice_ending(grammar, s) else None


def last_voice_ending(grammar: CompiledGrammar, s: AbcState) -> bool:
    """Whether `s` writes the last voice's last line, whose last note must be on a degree the corpus' last voices
    end on (`last_degrees`)."""
    return (grammar.form.last_voice_degrees is not None and s.voice > 0 and s.voice + 1 == s.frame.voices
            and s.block is not None and s.block.final)


def applies(s: AbcState) -> bool:
    """Whether, the option given, the voice being written keeps the rules: a voice after the first, once the beats
    are known."""
    return s.voice > 0 and s.frame.voices > 1 and s.beat_offset is not None


def voicing_key(grammar: CompiledGrammar, s: AbcState) -> Hashable:
    """What of the harmony rules the next characters depend on: the voices' notes from the beat before now to the end
    of the next bar (times from now), where the beats fall, and what gives the pitch of the note being written."""
    if not grammar.options.chords_on_beats or not applies(s):
        return None
    quarter = grammar.whole // 4
    start = bar_start(s)
    now = start + s.elapsed
    horizon = start + sum(target.duration for target in s.block.targets[s.j:s.j + 2])
    view = tuple(tuple((a - now, b - now, midi) for a, b, midi in notes if b > now - quarter and a < horizon)
                 for notes in s.heard[:s.voice + 1])
    pitch = (s.pitch, s.continues) if s.pos == LEN else None
    return view, (s.beat_offset - now) % quarter, pitch, s.keysig, s.bar_accidentals, s.frame.octaves[s.voice]


class Voicing:
    """The harmony rules of one grammar, reading the beats and the voices' notes from the state (what it reads is
    memoised, keyed by the notes heard)."""

    def __init__(self, grammar: CompiledGrammar) -> None:
        self.on = grammar.options.chords_on_beats
        self.keeps = self.on or grammar.options.no_crossing  # crossing=no reads the voices' notes too (`ceiling`)
        self.parallels = grammar.options.no_parallels
        self.quarter = grammar.whole // 4
        self._views: dict[tuple, tuple] = {}  # see `_view`

    def records(self, s: AbcState) -> bool:
        """Whether the voices' notes are kept: with --option harmony or crossing=no, in a tune of several voices."""
        return self.keeps and s.frame.voices > 1

    def applies(self, s: AbcState) -> bool:
        """Whether the voice being written keeps the rules (see `applies`)."""
        return self.on and applies(s)

    def strict(self, s: AbcState) -> bool:
        """Whether the voice being written keeps the parallels rule too, for which a note's octave counts."""
        return self.parallels and applies(s)

    def heard_with(self, s: AbcState, start: int, end: int, midi: int | None) -> tuple[Heard, ...]:
        """`s.heard` with a note (or rest, or chord: None) of the voice being written added."""
        heard = list(s.heard or ((),) * s.frame.voices)
        heard[s.voice] = heard[s.voice] + ((start, end, midi),)
        return tuple(heard)

    def trimmed(self, s: AbcState) -> tuple[Heard, ...]:
        """`s.heard` without the notes ended before the beat before the first voice's open bar (a new block's)."""
        since = s.clock - self.quarter
        return tuple(tuple(note for note in notes if note[1] > since) for notes in s.heard)

    def allows(self, s: AbcState, start: int, end: int, parallels: bool = True) -> bool:
        """Whether a note of the voice being written sounding `s.pitch` from `start` to `end` keeps the rules (see
        `latest_end`)."""
        latest = self.latest_end(s, start, parallels)
        return latest is None or end <= latest

    def latest_end(self, s: AbcState, start: int, parallels: bool = True) -> int | None:
        """The latest a note of the voice being written sounding `s.pitch` from `start` may end (None: any time in the
        bar): on each beat it sounds, the pitch classes of the voices before it and its own fit a chord (unless theirs
        fit none already, which no note could mend); with `strict` (and `parallels`), on the first, no parallel fifth
        or octave with any of them (the beat before to this one, both moving). A note ending on a beat does not sound
        on it."""
        beats, own, pairs = self._view(s, start)
        pitch = s.pitch
        if self.parallels and parallels and own is not None and any(is_parallel((then, now), (own, pitch)) for then, now in pairs):
            return beats[0][0]
        return next((beat for beat, classes in beats if pitch % 12 not in classes), None)

    def _view(self, s: AbcState, start: int) -> tuple:
        """From `start` to the open bar's end: each beat and the pitch classes a note may add there, and for the first,
        this voice's pitch on the beat before and each voice before it's (then, now); memoised by `s.heard`."""
        end = bar_start(s) + s.block.targets[s.j].duration if s.j < len(s.block.targets) else start
        key = (id(s.heard), s.voice, start, end)
        found = self._views.get(key)
        if found is not None and found[0] is s.heard:
            return found[1]
        if len(self._views) > MOST_VIEWS:
            self._views.clear()
        quarter = self.quarter
        before = s.heard[:s.voice]
        beats = []
        beat = start + (s.beat_offset - start) % quarter
        while beat < end:
            others = frozenset(midi % 12 for midi in (sounds_at(notes, beat) for notes in before) if midi is not None)
            free = others and others not in FITTING  # no note could mend it
            beats.append((beat, ALL_CLASSES if free else frozenset(c for c in ALL_CLASSES if others | {c} in FITTING)))
            beat += quarter
        own: int | None = None
        pairs: tuple[tuple[int, int], ...] = ()
        if beats:
            first = beats[0][0]
            own = sounds_at(s.heard[s.voice], first - quarter)
            found_pairs = ((sounds_at(notes, first - quarter), sounds_at(notes, first)) for notes in before)
            pairs = tuple((then, now) for then, now in found_pairs if then is not None and now is not None)
        view = (tuple(beats), own, pairs)
        self._views[key] = (s.heard, view)
        return view
