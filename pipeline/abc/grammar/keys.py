"""The cache key of a state: everything the next characters allowed, and the cost ahead, depend on."""

from __future__ import annotations

from collections.abc import Hashable
from functools import lru_cache

from charmony.pipeline.abc.grammar.compiled import CompiledGrammar
from charmony.pipeline.abc.grammar.pitch import Accidentals, heard_alike, note_pitch
from charmony.pipeline.abc.grammar.state import AbcState, bar_start, first_voice_bar, target_of
from charmony.pipeline.abc.grammar.symbols import BAR, BODY, END, H_VALUE, LEN, OCT
from charmony.pipeline.abc.grammar.voicing import ending_degrees, voicing_key
from charmony.pipeline.abc.grammar.words import Words


def bars_key(grammar: CompiledGrammar, s: AbcState) -> int:
    """What of the first voice's bar count the next characters depend on: all of it while it falls short of
    the fewest bars or comes near the most."""
    form = grammar.form
    if grammar.options.bars is not None or (form.most_bars is not None and s.bar_index >= form.most_bars - 3):
        return s.bar_index
    if form.final_degrees is not None and form.median_bars is not None:
        return min(s.bar_index, max(grammar.fewest, form.median_bars) + 2)  # where any last note may end the tune
    return min(s.bar_index, grammar.fewest + 1)


def form_key(grammar: CompiledGrammar, s: AbcState) -> tuple:
    """What of the first voice's form so far the next characters depend on (see `compiled.Form`)."""
    form = grammar.form
    doubles_left = form.most_double_bars is None or s.doubles < form.most_double_bars
    rests_left = form.most_rest_bars is None or s.rest_bars < form.most_rest_bars
    view = None
    degrees = ending_degrees(grammar, s)
    if degrees is not None and s.tonic is not None:
        ties = s.voice > 0 and s.last_pitch is not None and (s.last_pitch - s.tonic) % 12 in degrees  # see Lexer._may_tie_at_end
        view = (s.tonic, degrees, final_spellings(grammar.letters, grammar.low, grammar.high, degrees, s.keysig,
                                                  s.tonic, s.bar_accidentals), ties)
    return doubles_left, rests_left, s.last_ok, s.rests_only, view


@lru_cache(maxsize=4096)
def final_spellings(letters: frozenset[str], low: int, high: int, degrees: frozenset[int], keysig: tuple[int, ...],
                    tonic: int, written: Accidentals) -> frozenset[str]:
    """The notes written without an accidental (letter and octave marks) that sound a degree a tune may end on."""
    found = set()
    for letter in letters:
        for marks in range(1 + (low if letter.isupper() else high)):
            text = letter + ("," if letter.isupper() else "'") * marks
            if (note_pitch(text, keysig, written)[0] - tonic) % 12 in degrees:
                found.add(text)
    return frozenset(found)


def state_key(grammar: CompiledGrammar, s: AbcState) -> Hashable:
    """Everything the next characters allowed depend on (not the bars behind, which only add to the cost)."""
    if s.phase == END:
        return (END,)
    if s.phase != BODY:
        if s.phase == H_VALUE and not isinstance(grammar.slots[s.slot], Words):
            return (s.phase, s.letters, s.slot, len(s.value))
        return (s.phase, s.letters, s.slot, s.value)
    target = target_of(s)
    later = None
    if s.voice > 0:
        # whether this bar is the block's last (a newline follows it) or the block is done
        following = s.block.targets[s.j + 1].field if s.j + 1 < len(s.block.targets) else None  # after a barline
        later = (target.key if target else None, following, min(len(s.block.targets) - s.j, 2), s.block.final,
                 s.voice + 1 == s.frame.voices)
    first = None
    if s.voice == 0:
        first = (bars_key(grammar, s), s.pickup,
                 s.first_meter.text if s.first_meter else None,
                 (s.short_close[0], s.short_close[1].text) if s.short_close else None, s.count, s.repeat, s.repeated,
                 s.section_meter.text if s.section_meter else None)
    return (BODY, s.frame, later, first, s.pending, s.pos, s.buf, s.kind, s.note_letter.isupper(), s.marks,
            s.chord_notes, s.elapsed, s.music, s.bar_meter.text, s.bar_field is not None, s.meter.text, s.deco,
            s.tie_ok, s.space, s.after_bar, s.owed, s.factor, s.slur, s.line_start, s.blank_line, s.opening, s.can_end,
            s.bare_deco, s.ornament, s.played, s.staccato, s.grace, s.paired, s.last_pitch is None,
            heard_alike(s.buf, s.keysig, s.bar_accidentals) if s.pos == OCT else None,
            form_key(grammar, s), (s.tied, s.keysig, s.bar_accidentals) if s.tied is not None else None,
            crossing_key(grammar, s), voicing_key(grammar, s), last_bar_key(grammar, s))


def crossing_key(grammar: CompiledGrammar, s: AbcState) -> tuple | None:
    """With --option crossing=no, the voice before's notes that the next character may start a note under: the rest of
    this bar (a note may end and the next begin) and the next bar's (a barline may end this one), times from now, and
    what gives a note's pitch: the voice's octave=, the key and the bar's accidentals."""
    if not grammar.options.no_crossing or s.voice == 0 or not s.heard:
        return None
    start = bar_start(s)
    now = start + s.elapsed
    horizon = start + sum(target.duration for target in s.block.targets[s.j:s.j + 2])
    ahead = tuple((a - now, b - now, midi) for a, b, midi in s.heard[s.voice - 1] if b > now and a < horizon)
    return ahead, s.frame.octaves[s.voice], s.keysig, s.bar_accidentals


def _ends_under(grammar: CompiledGrammar, s: AbcState) -> bool:
    """With --option crossing=no and harmony=, in a tune of several voices: whether `s` is in the first voice, whose
    end decides whether the last voice's last note has room under it."""
    return (s.voice == 0 and s.frame.voices > 1 and grammar.options.no_crossing
            and grammar.form.last_voice_degrees is not None)


def in_last_bar(grammar: CompiledGrammar, s: AbcState) -> bool:
    """With --option crossing=no and harmony=, in a tune of several voices: whether the first voice may be in the latest
    bar its tune may end with (`CompiledGrammar.last_bar_number`), where only `|]` may close it, so that its `|` is
    checked as its `|]` is (see `Cost._last_bar_extra`)."""
    last = grammar.last_bar_number()
    return _ends_under(grammar, s) and last is not None and s.bar_index + 1 >= last


def writes_last_bar(grammar: CompiledGrammar, s: AbcState) -> bool:
    """`in_last_bar`, in a tune of two voices: there the first voice's notes in that bar also decide whether the last
    voice's last bar has room for its last note, from the note being written on."""
    return s.frame.voices == 2 and in_last_bar(grammar, s)


def last_bar_key(grammar: CompiledGrammar, s: AbcState) -> tuple | None:
    """With --option crossing=no and harmony=, in the first voice's barline or the bar its tune may end with
    (`in_last_bar`): what decides whether the last voice's last bar keeps room for its last note (see
    `Cost._last_bar_extra`): the degrees and key it ends in, the ties held into a one-bar line and, in a tune of two
    voices, the first voice's notes in the bar, with what gives the pitch of the note being written."""
    if not _ends_under(grammar, s) or (s.pos != BAR and not in_last_bar(grammar, s)):
        return None
    held = s.held[-2:] if s.held and not s.built else None
    sounds = first_voice_bar(s) if s.frame.voices == 2 else None
    pitch = (s.keysig, s.bar_accidentals, s.pitch if s.pos == LEN else None) if writes_last_bar(grammar, s) else None
    return s.tonic, s.first_degree, s.unit, s.keys[-1] if s.keys else s.keysig, held, sounds, pitch
