"""The ABC constraint: a character grammar under which every sampled tune is complete and passes the checker.

It reads ABC as the checker does (the token kinds of `tokens.py`, the field values of `fields.py`, the
bar rules of `bars.py`) and writes only what a run's training tunes use (`profile.py`): their header
fields in their order and with their values, their note and rest lengths, barlines, decorations and
inline fields, one voice per `[V:id] ` line in blocks of bars aligned across the voices.

Time is exact: a note whose length would overrun the bar is refused, a barline comes only where the bar's
duration is one the checker accepts (a whole bar, a pickup, the short bar that completes a pickup at a
repeat, a short last bar), and every voice after the first writes, bar for bar, the durations, barlines
and meter changes the first voice wrote in the block. `cost` is the length of the shortest completion
(rests to fill the bar, the barlines, the other voices' bars, `|]`), which is how the sampler makes a
tune finish before `--max-length`; where a later bar could be cut short to complete a pickup at a
section's end, it counts that bar whole, so it may be a few characters more than the shortest, never
less than one the constraint can write.

The folk idioms (tuplets, broken rhythm, slurs, grace notes, lines broken inside a bar or continued with
a backslash, tunes ending `|` or `:|`) come in only where the run's profile shows the corpus uses them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from math import gcd, lcm

from charmony.pipeline.abc import theory
from charmony.pipeline.abc.bars import closes_section, completes
from charmony.pipeline.abc.fields import FREE_METER, Meter, default_unit, parse_key, parse_meter, parse_unit, parse_voice
from charmony.pipeline.abc.parser import DECORATIONS
from charmony.pipeline.abc.profile import slot_name, well_formed
from charmony.pipeline.abc.sample_options import AbcOptions
from charmony.pipeline.abc.tokens import length_factor
from charmony.pipeline.plugin.constraint import UNREACHABLE, Constraint

INF = UNREACHABLE
LENGTH_CHARS = frozenset("0123456789/")
# Characters the tokenizer would take into a barline just written (`|:`, `|]`, `|1`...): none may start the next token.
AFTER_BARLINE = frozenset(":|]0123456789")
NOTE_LETTERS = frozenset("ABCDEFGabcdefg")
ACCIDENTAL_STARTS = frozenset("^_=")
STANDARD_ORDER = "XTCRMLQVK"
MOST_DECORATIONS = 2
MOST_CHORD_NOTES = 4
TEXT_MARGIN = 16  # free-text header values may be this much longer than the corpus' longest

TUPLET = re.compile(r"\((\d)(?::(\d?)(?::(\d?))?)?")  # the tuplets the constraint writes: (3, (3:2, (3:2:3...
BROKEN = frozenset("<>")  # broken rhythms it writes: one sign, between two notes or chords

# Header phases, then the positions of the body's lexer.
H_LETTER, H_COLON, H_VALUE, BODY, END = range(5)
ITEM, ACC, OCT, LEN, BAR, BRACKET, FIELD, CHORD, C_ACC, C_OCT, DECO, DONE, PAREN, TUPLE, CONT, GRACE, G_ACC, G_OCT = range(18)
EMPTY_BARLINES = frozenset(["|:", "||", "|"])  # may open a line with no music before them (after a line that ended `:|`)
MOST_GRACE_NOTES = 4
EVENT_TAIL = LENGTH_CHARS | frozenset(",'") | BROKEN  # characters that may still belong to a note being written
ONE = (1, 1)  # a length factor as (numerator, denominator): plain ints hash fast, and keys are hashed a lot


def tuplet_notes(text: str, compound: bool) -> tuple[int, tuple[int, int]] | None:
    """How many notes a tuplet sign such as `(3` or `(3:2:3` spans and the factor of their lengths, read as
    the checker reads it (in compound meter or not); None for a sign the constraint does not write."""
    match = TUPLET.fullmatch(text)
    if match is None:
        return None
    p = int(match.group(1))
    q = int(match.group(2)) if match.group(2) else theory.tuplet_time(p, compound)
    r = int(match.group(3)) if match.group(3) else p
    if p < 2 or q < 1 or r < 1:
        return None
    factor = Fraction(q, p)
    return r, (factor.numerator, factor.denominator)


class Words:
    """A finite set of strings, looked up by prefix."""

    def __init__(self, words) -> None:
        self.words = frozenset(words)
        self.by_prefix: dict[str, tuple[str, ...]] = {}
        for word in sorted(self.words):
            for end in range(len(word) + 1):
                self.by_prefix.setdefault(word[:end], ())
                self.by_prefix[word[:end]] += (word,)

    def starts(self, prefix: str) -> bool:
        """Whether some word starts with `prefix`."""
        return prefix in self.by_prefix

    def extending(self, prefix: str) -> tuple[str, ...]:
        """The words that start with `prefix`."""
        return self.by_prefix.get(prefix, ())

    def __contains__(self, word: str) -> bool:
        return word in self.words


@dataclass(frozen=True, eq=False)
class Frame:
    """What the header decided for the body: meter, unit length and the voices' line prefixes.

    Frames are made once per distinct header (see AbcConstraint._frame), so each is its own key.
    """

    meter: Meter
    unit: int  # in ticks
    prefixes: tuple[str, ...]  # "[V:1] ", "[V:2] "... or ("",) for a tune without V: lines

    @property
    def voices(self) -> int:
        """How many voices each block holds."""
        return len(self.prefixes)

    def after(self, voice: int) -> int:
        """The characters of the line prefixes of the voices after `voice`."""
        return sum(len(prefix) for prefix in self.prefixes[voice + 1:])


@dataclass(frozen=True)
class Target:
    """One bar the first voice wrote in a block, which every other voice writes alike."""

    duration: int  # in ticks
    barline: str
    field: str | None  # an inline meter change at its start, as `[M:3/4]`
    meter: Meter  # in force for the bar
    cost: int  # the fewest characters another voice needs for it

    @property
    def key(self) -> tuple:
        """What tells two targets apart, cheap to hash."""
        return (self.duration, self.barline, self.field, self.meter.text)


@dataclass(frozen=True, eq=False)
class Block:
    """A block as the first voice wrote it, and where the first voice stands after it (its own key: made once)."""

    targets: tuple[Target, ...]
    suffix: tuple[int, ...]  # suffix[j]: the characters of targets j and after
    final: bool  # it ends with |]
    meter: Meter  # in force at its start
    resume: tuple  # the first voice's state after the block (see AbcState.voice_zero)

    @property
    def total(self) -> int:
        """The fewest characters another voice needs for the whole block."""
        return self.suffix[0]


class AbcState:
    """Where a tune stands; a value the constraint copies, never changes in place.

    The header fields are set while the header is written, the body fields from K: on.
    """

    # the header
    phase: int  # H_LETTER, H_COLON, H_VALUE, BODY or END
    letters: str  # the header's field letters so far
    slot: str  # the header slot being written (see profile.slot_name)
    value: str  # its value so far
    values: tuple[tuple[str, str], ...]  # the header fields written, (letter, value)
    # the tune and the first voice's progress through it
    frame: Frame
    voice: int  # which voice's line is being written, from 0
    block: Block | None  # for the later voices, the block the first voice wrote
    built: tuple[Target, ...]  # the first voice's bars of this block so far
    block_cost: int  # what the later voices need for them
    bar_index: int  # the first voice's bars closed so far
    pickup: int | None  # the first bar's duration in ticks, when it was short
    first_meter: Meter | None  # the first bar's meter
    short_close: tuple[int, Meter] | None  # the last bar, when it was short and closed a section
    repeat: bool  # a |: is open
    line_meter: Meter  # in force at the start of the first voice's line
    unit: int  # the unit note length, in ticks
    # the open line and bar
    pending: str  # the line prefix still to write
    j: int  # for a later voice, the index of the bar being written among the block's
    meter: Meter  # in force now
    bar_meter: Meter  # the open bar's
    bar_field: str | None  # the inline meter change at its start
    elapsed: int  # how long its music lasts so far, in ticks
    music: bool  # whether it holds a note or rest
    deco: int  # decorations waiting for their note
    owed: int  # notes still to come of an open tuplet, or the one after a broken rhythm
    factor: tuple[int, int]  # what their lengths are multiplied by, as (numerator, denominator)
    slur: int  # 0: no slur open; 1: one opened, without a note yet; 2: one open over a note
    line_start: bool  # nothing written yet on this line of a one-voice tune
    opening: bool  # the barline being written comes first on its line, with no music before it
    can_end: bool  # the tune may end here: a one-voice line just ended after a barline the corpus ends tunes with
    tie_ok: bool  # a tie may follow
    space: bool  # the last character was a space
    after_bar: bool  # the last token was a barline
    # the token being written
    pos: int  # ITEM, ACC, OCT, LEN... (see above)
    buf: str  # its text so far, where that matters
    kind: str  # of a length being written: note, rest or chord
    note_letter: str
    marks: int  # octave marks after the letter
    chord_notes: int
    chord_tie: bool

    def __init__(self, **fields) -> None:
        self.__dict__.update(fields)

    def but(self, **changes) -> AbcState:
        """A copy with some fields changed."""
        new = object.__new__(AbcState)
        new.__dict__ = {**self.__dict__, **changes}
        return new


def standard_values(letter: str) -> list[str]:
    """Well-formed values of a field whose training tunes vary too much to list: keys, meters, units."""
    if letter == "K":
        modes = ("", "m", "dor", "mix", "lyd", "phr", "loc")
        found = []
        for tonic in "CDEFGAB":
            for sign in ("", "#", "b"):
                for mode in modes:
                    try:
                        parse_key(tonic + sign + mode)
                    except ValueError:
                        continue
                    found.append(tonic + sign + mode)
        return found
    if letter == "M":
        return [f"{n}/{d}" for d in (2, 4, 8, 16) for n in range(1, 13)] + ["C", "C|"]
    if letter == "L":
        return ["1/1", "1/2", "1/4", "1/8", "1/16", "1/32"]
    return []


class AbcConstraint(Constraint[AbcState]):
    """The grammar of the tunes a run's training tunes are like; see the module docstring."""

    def __init__(self, profile: dict, options: AbcOptions = AbcOptions(), alphabet: frozenset[str] | None = None):
        self.options = options
        self.alphabet = alphabet
        music = profile["music"]
        header = profile["header"]
        forced = {"M": options.meter, "K": options.key, "Q": options.tempo}
        self.forced = {letter: value for letter, value in forced.items() if value is not None}
        self.sequences = Words(self._sequences(header["sequences"]))
        self.slots: dict[str, Words | int] = {}
        for slot, info in header["slots"].items():
            self.slots[slot] = self._slot_grammar(slot, info)
        self.accidentals = frozenset(music.get("accidentals", ["", "^", "_", "="])) - {""}
        self.letters = frozenset(music.get("letters", NOTE_LETTERS))
        self.low, self.high = profile["octaves"]["low"], profile["octaves"]["high"]
        note_lengths = set(music.get("note_lengths", [""]))
        self.lengths = {
            "note": Words(note_lengths),
            "rest": Words(music.get("rest_lengths", [])),
            "chord": Words(music.get("chord_lengths", [])),
        }
        fill = note_lengths | set(music.get("rest_lengths", []))
        self.fill_lengths = tuple(sorted((length_factor(text), 1 + len(text)) for text in fill if length_factor(text)))
        self.barlines = Words(b for b in music.get("barlines", ["|", "|]"]) if b in ("|", "||", "|]", ":|", "|:", "::"))
        if "|]" not in self.barlines:
            self.barlines = Words(self.barlines.words | {"|]"})
        self.short_decorations = frozenset(music.get("short_decorations", [])) & frozenset("HTPM.~uvLOS")
        self.broken = frozenset(music.get("broken_rhythms", [])) & BROKEN
        self.tuplets = Words(t for t in music.get("tuplets", []) if tuplet_notes(t, False) and tuplet_notes(t, True))
        kinds = profile.get("kinds", {})
        self.slurs = kinds.get("slur_open", 0) > 0
        self.graces = kinds.get("grace_open", 0) > 0
        self.continuations = kinds.get("continuation", 0) > 0
        self.mid_bar_lines = profile.get("lines_mid_bar", 0) > 0
        self.lead_spaces = profile.get("lines_leading_space", 0) > 0
        voiced = any(sequence.count("V") > 1 for sequence in header["sequences"])
        # The barlines besides |] that the corpus' one-voice tunes end with (folk tunes end `|`, `||` or `:|`).
        self.finals = frozenset() if voiced else frozenset(
            b for b in profile.get("final_barlines", []) if b in self.barlines.words and b not in ("|]", "|:", "::"))
        # ... and whether they end with music after the last barline, at the end of a line (as the Essen songs do)
        self.unbarred_end = not voiced and "" in profile.get("final_barlines", [])
        # only those the checker knows: a corpus' tunes may hold others, which the checker refuses
        self.decorations = Words(d for d in music.get("decorations", []) if d[1:-1].lower() in DECORATIONS)
        fields = [f for f in music.get("inline_fields", []) if f[1] not in self.forced]
        self.meter_fields = Words(f for f in fields if f[1] == "M" and parse_meter(f[3:-1]).length is not None)
        self.key_fields = Words(f for f in fields if f[1] == "K")
        self.fields = Words(self.meter_fields.words | self.key_fields.words)
        self.whole = self._ticks_per_whole(header, music)
        self.frames: dict[tuple, Frame] = {}
        self._fills: dict[tuple[int, int], int] = {}
        self._bars_of: dict[str, int | None] = {}
        self._length_ticks: dict[tuple[int, str, tuple[int, int]], int] = {}
        self._owed: dict = {}
        self._owed_lengths: dict[tuple[int, tuple[int, int]], tuple[tuple[int, int], ...]] = {}
        self._completing: dict = {}
        self._rows: dict = {}  # allowed tokens after a finished note, by key (see _after_event)
        self._rows_for = None  # the token list they are for
        self._locals: dict = {}
        self._tokens: dict = {}
        self._bars: dict = {}
        self._boundaries: dict = {}
        self._block_tails: dict = {}
        self.header_costs: dict[tuple, int] = {}
        # A tune ends no sooner than the shortest training tune (unless --option bars= says how long).
        self.fewest = 1 if options.bars is not None else max(1, profile.get("fewest_bars", 1))
        self.max_jump = self._largest_jump(header)

    def _meters_and_units(self, header: dict) -> tuple[set[Meter], set[Fraction]]:
        """Every meter and unit note length a tune of this constraint can have."""
        slots = header["slots"]
        meters = {parse_meter(v) for v in (slots.get("M", {}).get("values") or standard_values("M")) if well_formed("M", v)}
        meters |= {parse_meter(f[3:-1]) for f in self.meter_fields.words} | {FREE_METER}
        if "M" in self.forced:
            meters.add(parse_meter(self.forced["M"]))
        units = {parse_unit(v) for v in (slots.get("L", {}).get("values") or standard_values("L")) if well_formed("L", v)}
        units |= {default_unit(m) for m in meters}
        return meters, units

    def _ticks_per_whole(self, header: dict, music: dict) -> int:
        """Durations are counted in ticks, whole numbers: this many to a whole note (exact for every length)."""
        meters, units = self._meters_and_units(header)
        factors = {length_factor(text) for name in ("note_lengths", "rest_lengths", "chord_lengths")
                   for text in music.get(name, [""]) if length_factor(text)}
        extra = {Fraction(1)}
        if self.broken:
            extra |= {Fraction(1, 2), Fraction(3, 2)}
        for text in self.tuplets.words:
            extra |= {Fraction(*tuplet_notes(text, compound)[1]) for compound in (False, True)}
        values = [unit * factor * more for unit in units for factor in factors | {Fraction(1)} for more in extra]
        values += [m.length for m in meters if m.length is not None]
        return lcm(*(value.denominator for value in values))

    def _ticks(self, value: Fraction) -> int:
        return int(value * self.whole)

    def _bar(self, meter: Meter) -> int | None:
        """A meter's bar in ticks; None for free meter."""
        found = self._bars_of.get(meter.text, -1)
        if found == -1:
            found = self._bars_of[meter.text] = None if meter.length is None else self._ticks(meter.length)
        return found

    def _length_of(self, unit: int, text: str, factor: tuple[int, int] = ONE) -> int:
        """The ticks of a note length as written (`3/2`, `/`...) against a unit of `unit` ticks, times `factor`
        (a tuplet's or a broken rhythm's)."""
        key = (unit, text, factor)
        found = self._length_ticks.get(key)
        if found is None:
            found = self._length_ticks[key] = int(unit * length_factor(text) * Fraction(*factor))
        return found

    @staticmethod
    def _factor(s: AbcState) -> tuple[int, int]:
        """What the length of the next note, rest or chord is multiplied by."""
        return s.factor if s.owed else ONE

    def _largest_jump(self, header: dict) -> int:
        """An upper bound on how much one character can lengthen the shortest completion.

        A character can commit the tune to one more bar (a barline), a longer bar (a meter change) or one
        more voice (a V: line); each costs at most a whole bar of rests and a barline per voice per bar asked for.
        """
        voices = max((sequence.count("V") for sequence in self.sequences.words), default=1) or 1
        meters, units = self._meters_and_units(header)
        if any(m.length is None for m in meters if m != FREE_METER) or not meters:
            return INF
        widest = max((self._fill(self._ticks(u), self._ticks(m.length)) for u in units for m in meters
                      if m.length is not None), default=16)
        if widest >= INF:
            return INF
        bars = (self.options.bars or self.fewest) + 1
        return voices * bars * (min(widest, 64) + 12) + 32

    # ----- the header
    def _sequences(self, sequences: list[str]) -> list[str]:
        """The corpus' header orders, each holding every field an option forces."""
        wanted = set(self.forced)
        kept = [s for s in sequences if wanted <= set(s)]
        if kept:
            return kept
        result = []
        for sequence in sequences:
            for letter in sorted(wanted - set(sequence), key=STANDARD_ORDER.index):
                rank = STANDARD_ORDER.index(letter)
                later = [i for i, field in enumerate(sequence) if field in STANDARD_ORDER and STANDARD_ORDER.index(field) > rank]
                at = later[0] if later else len(sequence) - 1
                sequence = sequence[:at] + letter + sequence[at:]
            result.append(sequence)
        return result

    def _slot_grammar(self, slot: str, info: dict) -> Words | int:
        """How one header slot's value may be written: one of some Words, or any text up to a length."""
        letter = slot[0]
        if letter in self.forced:
            return Words([self.forced[letter]])
        values = info["values"]
        if values is None:
            standard = standard_values(letter)
            if standard:
                return Words(standard)
            return info["longest"] + TEXT_MARGIN
        return Words(v for v in values if well_formed(letter, v))

    def _grammar(self, slot: str) -> Words | int:
        if slot not in self.slots:  # a field an option forces that the corpus never writes
            self.slots[slot] = Words([self.forced[slot[0]]])
        return self.slots[slot]

    def start(self) -> AbcState:
        """The state before the first character of a tune."""
        return AbcState(phase=H_LETTER, letters="", slot="", value="", values=())

    def feed(self, state: AbcState, token: str) -> AbcState | None:
        """The state after `token`, refused when no valid tune continues with it."""
        state = self.follow(state, token)
        if state is None or self.cost(state) >= INF:
            return None
        return state

    def follow(self, state: AbcState, token: str) -> AbcState | None:
        """The state after `token`, checking only the characters' grammar, not that the tune can be finished."""
        for char in token:
            if state is None:
                return None
            state = self._step(state, char)
        return state

    def allowed(self, state: AbcState, tokens, budget: int | None = None) -> list[bool]:
        """As `Constraint.allowed`; where a letter starts or continues a note, the capital note letters go the
        same way, and the small ones (not in an inline field or a decoration, which spell words).

        After a note, rest or chord, a character that ends it and starts the next token is allowed where it
        would be allowed after the finished note: that row is worked out once and shared.
        """
        if state.phase != BODY or state.pos in (FIELD, DECO):
            return super().allowed(state, tokens, budget)
        ends = self._after_event(state, tokens) if budget is None and state.pos in (OCT, LEN) else None
        result: list[bool] = []
        seen: dict[bool, bool] = {}
        for index, token in enumerate(tokens):
            if ends is not None and len(token) == 1 and token not in EVENT_TAIL:
                result.append(ends[index])
                continue
            alike = token.isupper() if len(token) == 1 and token in NOTE_LETTERS and token in self.letters else None
            if alike is not None and alike in seen:
                result.append(seen[alike])
                continue
            after = self.feed(state, token)
            verdict = after is not None and (budget is None or self.cost(after) <= budget)
            if alike is not None:
                seen[alike] = verdict
            result.append(verdict)
        return result

    def _after_event(self, s: AbcState, tokens) -> list[bool]:
        """What may follow a note, rest or chord being written (`s` at OCT or LEN) once it is finished."""
        if s.pos == OCT:
            s = s.but(pos=LEN, kind="note", buf="")
        placed = None
        if s.buf in self.lengths[s.kind]:
            placed = self._place(s, self._length_of(s.unit, s.buf, self._factor(s)))
        if placed is None:
            return [False] * len(tokens)
        if tokens is not self._rows_for:
            self._rows, self._rows_for = {}, tokens
        key = self.key(placed)
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = self.allowed(placed, tokens)
        return row

    def complete(self, state: AbcState) -> bool:
        """Whether every voice has ended its last bar with |] and its line (or, in a one-voice tune, its line
        after a barline the corpus ends tunes with)."""
        return state.phase == END or (state.phase == BODY and state.can_end)

    def _step(self, s: AbcState, c: str) -> AbcState | None:
        if s.phase == BODY:
            return self._body(s, c)
        if s.phase == H_LETTER:
            letters = s.letters + c
            if not self.sequences.starts(letters):
                return None
            count = letters.count(c)
            return s.but(phase=H_COLON, letters=letters, slot=slot_name(c, count))
        if s.phase == H_COLON:
            return s.but(phase=H_VALUE, value="") if c == ":" else None
        if s.phase == H_VALUE:
            grammar = self._grammar(s.slot)
            if c == "\n":
                if not (s.value in grammar if isinstance(grammar, Words) else 0 < len(s.value.strip())):
                    return None
                values = s.values + ((s.letters[-1], s.value),)
                if s.letters[-1] == "K":
                    return self._begin_body(s, values)
                return s.but(phase=H_LETTER, values=values)
            value = s.value + c
            if isinstance(grammar, Words):
                return s.but(value=value) if grammar.starts(value) else None
            # A value may not start with a space, or with ':' or '|', which would make the line read as music.
            if len(value) > grammar or not c.isprintable() or c in "%\\" or (not s.value and c in " :|"):
                return None
            return s.but(value=value)
        return None

    def _frame(self, values: tuple) -> Frame:
        fields = dict(values)
        meter = parse_meter(fields["M"]) if "M" in fields else FREE_METER
        unit = self._ticks(parse_unit(fields["L"]) if "L" in fields else default_unit(meter))
        voices = [parse_voice(value).id for letter, value in values if letter == "V"]
        prefixes = tuple(f"[V:{voice}] " for voice in voices) or ("",)
        key = (meter, unit, prefixes)
        if key not in self.frames:
            self.frames[key] = Frame(meter, unit, prefixes)
        return self.frames[key]

    def _begin_body(self, s: AbcState, values: tuple) -> AbcState:
        frame = self._frame(values)
        return self._new_line(AbcState(
            phase=BODY, frame=frame, voice=0, block=None, built=(), block_cost=0,
            bar_index=0, pickup=None, first_meter=None, short_close=None, repeat=False, meter=frame.meter,
            unit=frame.unit, line_meter=frame.meter,
        ), voice=0)

    def _new_line(self, s: AbcState, voice: int) -> AbcState:
        """The state at the start of a voice's line: its prefix to write, then a fresh bar."""
        frame = s.frame
        meter = s.meter if voice == 0 else s.block.meter
        return s.but(voice=voice, pending=frame.prefixes[voice], pos=ITEM, buf="", meter=meter, j=0,
                     **self._fresh_bar(meter), space=True, after_bar=False, line_start=frame.voices == 1, opening=False)

    @staticmethod
    def _fresh_bar(meter: Meter) -> dict:
        return {"elapsed": 0, "music": False, "bar_meter": meter, "bar_field": None, "deco": 0, "tie_ok": False,
                "owed": 0, "factor": ONE, "slur": 0, "can_end": False}

    # ----- the body
    def _body(self, s: AbcState, c: str) -> AbcState | None:
        after = self._lex(s, c)
        if after is not None and (after.line_start or after.can_end) and c != "\n":
            after = after.but(line_start=False, can_end=False)
        return after

    def _lex(self, s: AbcState, c: str) -> AbcState | None:
        if s.pending:
            return s.but(pending=s.pending[1:]) if c == s.pending[0] else None
        pos = s.pos
        if pos == ITEM:
            return self._item(s, c)
        if pos == OCT:
            if c == "," and s.note_letter.isupper() and s.marks < self.low:
                return s.but(marks=s.marks + 1, buf=s.buf + c)
            if c == "'" and s.note_letter.islower() and s.marks < self.high:
                return s.but(marks=s.marks + 1, buf=s.buf + c)
            return self._length(s.but(pos=LEN, kind="note", buf=""), c)
        if pos == LEN:
            return self._length(s, c)
        if pos == ACC:
            if c in ACCIDENTAL_STARTS and s.buf + c in self.accidentals:
                return s.but(buf=s.buf + c)
            if c in NOTE_LETTERS and c in self.letters:
                return s.but(pos=OCT, note_letter=c, marks=0, buf=s.buf + c)
            return None
        if pos == BAR:
            if self.barlines.starts(s.buf + c):
                return s.but(buf=s.buf + c)
            if s.buf not in self.barlines or c in AFTER_BARLINE:
                return None
            closed = self._close_bar(s, s.buf)
            return None if closed is None else self._body(closed, c)
        if pos == BRACKET:
            if (c in NOTE_LETTERS or c in ACCIDENTAL_STARTS) and not self._needs_field(s):
                return self._chord(s.but(pos=CHORD, chord_notes=0, chord_tie=False), c)
            return self._field(s.but(pos=FIELD, buf="["), c)
        if pos == FIELD:
            return self._field(s, c)
        if pos in (CHORD, C_ACC, C_OCT):
            return self._chord(s, c)
        if pos == DECO:
            text = s.buf + c
            if not self.decorations.starts(text):
                return None
            if text in self.decorations and text.endswith("!") and len(text) > 1:
                return s.but(pos=ITEM, buf="", deco=s.deco + 1) if s.deco < MOST_DECORATIONS else None
            return s.but(buf=text)
        if pos == DONE:
            return self._line_end(s) if c == "\n" else None
        if pos == PAREN:
            if c.isdigit() and self.tuplets.starts("(" + c):
                return s.but(pos=TUPLE, buf="(" + c)
            if not self.slurs or s.slur:
                return None
            return self._item(s.but(pos=ITEM, buf="", slur=1), c)
        if pos == CONT:
            return s.but(pos=ITEM, space=True, after_bar=False, tie_ok=False, line_start=True) if c == "\n" else None
        if pos in (GRACE, G_ACC, G_OCT):
            return self._grace(s, c)
        if pos == TUPLE:
            text = s.buf + c
            if self.tuplets.starts(text):
                return s.but(buf=text)
            if s.buf not in self.tuplets:
                return None
            owed, factor = tuplet_notes(s.buf, s.meter.compound)
            return self._item(s.but(pos=ITEM, buf="", owed=owed, factor=factor), c)
        return None

    def _item(self, s: AbcState, c: str) -> AbcState | None:
        """A character between tokens: it starts the next one, or is a space or the end of the line."""
        if s.voice > 0 and s.j >= len(s.block.targets):
            return self._line_end(s) if c == "\n" and not s.space else None
        if self._needs_field(s) and c not in "[ ":
            return None
        if s.owed and c not in NOTE_LETTERS and c not in ACCIDENTAL_STARTS and c not in "z[":
            return None  # a tuplet's notes, and the note after a broken rhythm, follow without a break
        if c == " ":
            if (s.space and not (s.line_start and self.lead_spaces)) or s.deco:
                return None
            return s.but(space=True, tie_ok=False, after_bar=False)
        if c == "\n":
            if s.after_bar:
                return self._line_end(s) if not s.space else None
            if self.mid_bar_lines and s.frame.voices == 1 and not s.space and not s.deco:
                # the line breaks inside a bar, as the corpus' do; it may end the tune there
                return s.but(space=True, tie_ok=False, line_start=True, can_end=self._may_end_unbarred(s))
            return None
        if c == "\\":
            if not self.continuations or s.frame.voices > 1 or s.line_start or s.deco:
                return None
            return s.but(pos=CONT, space=False)  # a line continued: `\` ends it, and the music goes on
        if c == "{":
            if not self.graces or s.deco >= MOST_DECORATIONS:
                return None
            return s.but(pos=GRACE, buf="", chord_notes=0, space=False, after_bar=False, tie_ok=False)
        if c in NOTE_LETTERS:
            if c not in self.letters:
                return None
            return s.but(pos=OCT, note_letter=c, marks=0, buf=c, space=False, after_bar=False)
        if c in ACCIDENTAL_STARTS:
            return s.but(pos=ACC, buf=c, space=False, after_bar=False) if c in self.accidentals else None
        if c == "z":
            return s.but(pos=LEN, kind="rest", buf="", space=False, after_bar=False) if self.lengths["rest"].words else None
        if c == "[":
            if s.deco:
                return s.but(pos=CHORD, chord_notes=0, chord_tie=False, buf="", space=False, after_bar=False)
            return s.but(pos=BRACKET, buf="", space=False, after_bar=False)
        if s.deco and c not in self.short_decorations and c not in "!(":
            return None
        if c in "|:":
            if s.slur:
                return None
            opening = s.line_start and not s.music and s.bar_field is None and not s.deco
            return s.but(pos=BAR, buf=c, space=False, after_bar=False, opening=opening)
        if c == "(" and (self.slurs or self.tuplets.words):
            return s.but(pos=PAREN, buf="(", space=False, after_bar=False, tie_ok=False)
        if c == ")":
            return s.but(slur=0, space=False, after_bar=False) if s.slur == 2 else None
        if c == "-":
            return s.but(tie_ok=False, space=False, after_bar=False) if s.tie_ok else None
        if c in self.short_decorations:
            return s.but(deco=s.deco + 1, space=False, after_bar=False, tie_ok=False) if s.deco < MOST_DECORATIONS else None
        if c == "!" and s.deco < MOST_DECORATIONS and self.decorations.starts("!"):
            return s.but(pos=DECO, buf="!", space=False, after_bar=False, tie_ok=False)
        return None

    def _length(self, s: AbcState, c: str) -> AbcState | None:
        """A character after a note, rest or chord: more of its length, or the next token."""
        lengths = self.lengths[s.kind]
        if c in LENGTH_CHARS:
            return s.but(buf=s.buf + c) if lengths.starts(s.buf + c) else None
        if s.buf not in lengths:
            return None
        duration = self._length_of(s.unit, s.buf, self._factor(s))
        if c in BROKEN:
            return self._broken(s, duration, c)
        placed = self._place(s, duration)
        return None if placed is None else self._item(placed, c)

    def _place(self, s: AbcState, duration: int) -> AbcState | None:
        """A note, rest or chord of `duration` added to the bar; refused when it would overrun it."""
        elapsed = s.elapsed + duration
        most = self._most(s)
        if most is not None and elapsed > most:
            return None
        return s.but(pos=ITEM, buf="", elapsed=elapsed, music=True, deco=0, tie_ok=s.kind != "rest",
                     space=False, after_bar=False, owed=max(0, s.owed - 1), slur=2 if s.slur else 0)

    def _broken(self, s: AbcState, duration: int, sign: str) -> AbcState | None:
        """A note or chord of `duration` followed by `>` (it lasts half as long again, the next note half as long) or `<`."""
        if sign not in self.broken or s.owed or s.kind == "rest":
            return None
        first, second = theory.BROKEN_RHYTHM[1] if sign == ">" else theory.BROKEN_RHYTHM[1][::-1]
        placed = self._place(s, duration * first.numerator // first.denominator)
        return None if placed is None else placed.but(owed=1, factor=(second.numerator, second.denominator), tie_ok=False)

    def _most(self, s: AbcState) -> int | None:
        """The longest the open bar may last: its meter's bar, or for later voices the first voice's bar."""
        target = self._target(s)
        if target is not None:
            return target.duration
        return self._bar(s.bar_meter)

    def _target(self, s: AbcState) -> Target | None:
        if s.voice == 0 or s.block is None or s.j >= len(s.block.targets):
            return None
        return s.block.targets[s.j]

    def _chord(self, s: AbcState, c: str) -> AbcState | None:
        pos = s.pos
        if pos == C_ACC:
            return self._group_letter(s, c, C_OCT)
        if pos == C_OCT:
            marked = self._octave_mark(s, c)
            if marked is not None:
                return marked
            s = s.but(pos=CHORD, chord_notes=s.chord_notes + 1, chord_tie=False)
            if c == "-":
                return s.but(chord_tie=True)
        if c == "]" and s.chord_notes:
            return s.but(pos=LEN, kind="chord", buf="") if self.lengths["chord"].words else None
        return self._group_note(s, c, MOST_CHORD_NOTES, C_ACC, C_OCT)

    def _grace(self, s: AbcState, c: str) -> AbcState | None:
        """A character of grace notes `{gf}`: notes without lengths, then `}`, after which a note must come."""
        pos = s.pos
        if pos == G_ACC:
            return self._group_letter(s, c, G_OCT)
        if pos == G_OCT:
            marked = self._octave_mark(s, c)
            if marked is not None:
                return marked
            s = s.but(pos=GRACE, chord_notes=s.chord_notes + 1)
        if c == "}" and s.chord_notes:
            return s.but(pos=ITEM, buf="", deco=s.deco + 1)  # like a decoration, the grace notes wait for their note
        return self._group_note(s, c, MOST_GRACE_NOTES, G_ACC, G_OCT)

    def _group_letter(self, s: AbcState, c: str, octave_pos: int) -> AbcState | None:
        """In a chord or grace notes, after an accidental: more of it, or the note's letter."""
        if c in ACCIDENTAL_STARTS and s.buf + c in self.accidentals:
            return s.but(buf=s.buf + c)
        return s.but(pos=octave_pos, note_letter=c, marks=0) if c in NOTE_LETTERS and c in self.letters else None

    def _octave_mark(self, s: AbcState, c: str) -> AbcState | None:
        """In a chord or grace notes, the state after an octave mark the note may take; None when `c` is none."""
        if c == "," and s.note_letter.isupper() and s.marks < self.low:
            return s.but(marks=s.marks + 1)
        if c == "'" and s.note_letter.islower() and s.marks < self.high:
            return s.but(marks=s.marks + 1)
        return None

    def _group_note(self, s: AbcState, c: str, most: int, accidental_pos: int, octave_pos: int) -> AbcState | None:
        """In a chord or grace notes, the start of another note: its letter or accidental, up to `most` notes."""
        if s.chord_notes >= most:
            return None
        if c in NOTE_LETTERS and c in self.letters:
            return s.but(pos=octave_pos, note_letter=c, marks=0)
        if c in ACCIDENTAL_STARTS and c in self.accidentals:
            return s.but(pos=accidental_pos, buf=c)
        return None

    def _field(self, s: AbcState, c: str) -> AbcState | None:
        """A character of an inline field `[M:3/4]` or `[K:D]`, which comes only at the start of a bar."""
        text = s.buf + c
        if s.music or s.owed:
            return None
        target = self._target(s)
        if target is not None and target.field is not None and s.bar_field is None:
            allowed = Words([target.field])
        elif s.voice == 0 and s.bar_field is None and not s.deco:
            allowed = self.fields
        else:
            allowed = self.key_fields
        if not allowed.starts(text):
            return None
        if text not in allowed:
            return s.but(buf=text)
        if text[1] == "K":
            return s.but(pos=ITEM, buf="", space=False)
        meter = parse_meter(text[3:-1])
        return s.but(pos=ITEM, buf="", space=False, meter=meter, bar_meter=meter, bar_field=text)

    # ----- bars, lines and blocks
    def _number(self, s: AbcState, duration: int) -> int:
        """The number of the open bar as musicians count, were it to last `duration`: a pickup is bar 0."""
        pickup = s.pickup is not None or (s.bar_index == 0 and self._short(s.bar_meter, duration))
        return s.bar_index if pickup else s.bar_index + 1

    def _short(self, meter: Meter, duration: int) -> bool:
        bar = self._bar(meter)
        return bar is not None and 0 < duration < bar

    def _completes(self, first: int, first_meter: Meter, second: int, second_meter: Meter | None) -> bool:
        """bars.completes, for durations in ticks."""
        if second_meter is None:
            return False
        key = (first, first_meter.text, second, second_meter.text)
        found = self._completing.get(key)
        if found is None:
            found = self._completing[key] = completes(Fraction(first, self.whole), first_meter,
                                                      Fraction(second, self.whole), second_meter)
        return found

    def _accepts(self, s: AbcState, duration: int, barline: str) -> bool:
        """Whether the first voice may close its open bar, lasting `duration`, with `barline`."""
        if duration <= 0:
            return False
        if barline == "|]" and s.repeat:
            return False
        if barline in ("|:", "::") and s.repeat and barline != "::":
            return False
        if self.options.bars is not None:
            number = self._number(s, duration)
            if (barline == "|]") != (number == self.options.bars) or number > self.options.bars:
                return False
        elif barline == "|]" and self._number(s, duration) < self.fewest:
            return False
        meter = s.bar_meter
        bar = self._bar(meter)
        if bar is None or duration == bar or s.bar_index == 0 or barline == "|]":
            return bar is None or duration <= bar
        if duration > bar:
            return False
        if closes_section(barline) and s.pickup is not None and self._completes(duration, meter, s.pickup, s.first_meter):
            return True
        return s.short_close is not None and self._completes(duration, meter, *s.short_close)

    def _close_bar(self, s: AbcState, barline: str) -> AbcState | None:
        """The state after the open bar's barline, if the bar may end there."""
        if not s.music and s.opening:
            return self._empty_bar(s, barline)
        if not s.music or s.deco or s.owed or s.slur:
            return None
        duration = s.elapsed
        target = self._target(s)
        fresh = self._fresh_bar(s.meter)
        if s.voice > 0:
            if target is None or duration != target.duration or barline != target.barline:
                return None
            return s.but(pos=DONE if barline == "|]" else ITEM, buf="", j=s.j + 1, **fresh, space=False, after_bar=True)
        if not self._accepts(s, duration, barline):
            return None
        short = self._short(s.bar_meter, duration)
        pickup = duration if s.bar_index == 0 and short else s.pickup
        first_meter = s.bar_meter if s.bar_index == 0 else s.first_meter
        short_close = (duration, s.bar_meter) if short and closes_section(barline) else None
        repeat = barline in ("|:", "::") or (s.repeat and not barline.startswith(":"))
        cost = self._mirror_cost(s.unit, duration, barline, s.bar_field)
        built = s.built + (Target(duration, barline, s.bar_field, s.bar_meter, cost),)
        return s.but(pos=DONE if barline == "|]" else ITEM, buf="", bar_index=s.bar_index + 1, pickup=pickup,
                     first_meter=first_meter, short_close=short_close, repeat=repeat, built=built,
                     block_cost=s.block_cost + cost, **{**fresh, "can_end": self._may_end(s, duration, barline)},
                     space=False, after_bar=True)

    def _may_end_unbarred(self, s: AbcState) -> bool:
        """Whether a one-voice tune may end at the end of this line, inside its open bar (the bar a last bar)."""
        if not self.unbarred_end or s.frame.voices > 1 or self.options.bars is not None:
            return False
        if not s.music or s.owed or s.slur or s.deco or s.repeat:
            return False
        return self._number(s, s.elapsed) >= self.fewest

    def _may_end(self, s: AbcState, duration: int, barline: str) -> bool:
        """Whether the first voice's open bar, closed at `duration` by `barline`, may end a one-voice tune there
        (`|]` aside): a barline the corpus ends tunes with, no repeat left open, and enough bars."""
        if barline not in self.finals or s.frame.voices > 1 or self.options.bars is not None:
            return False
        if barline in ("|:", "::") or (s.repeat and not barline.startswith(":")):
            return False
        return self._number(s, duration) >= self.fewest

    def _empty_bar(self, s: AbcState, barline: str) -> AbcState | None:
        """The state after a barline that opens a line with no music before it: it ends no bar (the checker passes
        an empty bar's repeat sign on), so a line may start `|:` after one that ended `:|`."""
        if barline not in EMPTY_BARLINES or (barline == "|:" and s.repeat):
            return None
        return s.but(pos=ITEM, buf="", repeat=s.repeat or barline == "|:", space=False, after_bar=False, opening=False)

    def _mirror_cost(self, unit: int, duration: int, barline: str, field: str | None) -> int:
        return len(field or "") + self._fill(unit, duration) + len(barline)

    def voice_zero(self, s: AbcState) -> tuple:
        """What the first voice carries from one block to the next."""
        return (s.bar_index, s.pickup, s.first_meter, s.short_close, s.repeat, s.meter)

    def _line_end(self, s: AbcState) -> AbcState | None:
        frame = s.frame
        if s.voice == 0:
            suffix, total = [0], 0
            for target in reversed(s.built):
                total += target.cost
                suffix.append(total)
            block = Block(s.built, tuple(reversed(suffix)), s.pos == DONE, s.line_meter, self.voice_zero(s))
            if frame.voices == 1:
                return s.but(phase=END) if block.final else self._next_block(s, block).but(can_end=s.can_end)
            return self._new_line(s.but(block=block), 1)
        if s.j != len(s.block.targets):
            return None
        if s.voice + 1 < frame.voices:
            return self._new_line(s, s.voice + 1)
        return s.but(phase=END) if s.block.final else self._next_block(s, s.block)

    def _next_block(self, s: AbcState, block: Block) -> AbcState:
        bar_index, pickup, first_meter, short_close, repeat, meter = block.resume
        s = s.but(block=None, built=(), block_cost=0, bar_index=bar_index, pickup=pickup, first_meter=first_meter,
                  short_close=short_close, repeat=repeat, meter=meter, line_meter=meter)
        return self._new_line(s, 0)

    # ----- the shortest completion
    def _fill(self, unit: int, duration: int) -> int:
        """The fewest characters of notes and rests that last exactly `duration`."""
        key = (unit, duration)
        found = self._fills.get(key)
        if found is None:
            found = self._fills[key] = self._fewest_tokens(unit, duration)
        return found

    def _fewest_tokens(self, unit: int, duration: int) -> int:
        """`_fill` worked out: the fewest characters for each multiple of the lengths' common step up to `duration`."""
        if duration <= 0:
            return 0 if duration == 0 else INF
        lengths = [(ticks, chars) for ticks, chars in self._one_token(unit, duration) if ticks > 0]
        step = gcd(*(ticks for ticks, _ in lengths)) if lengths else 0
        if not step or duration % step:
            return INF
        steps = [(ticks // step, chars) for ticks, chars in lengths]
        best = [0] + [INF] * (duration // step)
        for total in range(1, len(best)):
            best[total] = min((best[total - k] + chars for k, chars in steps if k <= total), default=INF)
        return best[-1]

    def _one_token(self, unit: int, most: int | None) -> tuple[tuple[int, int], ...]:
        """The single notes or rests (ticks, characters) that last at most `most` ticks."""
        key = (unit, most)
        found = self._tokens.get(key)
        if found is None:
            found = self._tokens[key] = tuple((int(unit * factor), chars) for factor, chars in self.fill_lengths
                                              if most is None or unit * factor <= most)
        return found

    def _more_bars(self, count: int, repeat: bool, meter: Meter, unit: int) -> int:
        """One voice's fewest characters for `count` more bars (at least one), the last closed by |]."""
        key = (count, repeat, meter, unit)
        found = self._bars.get(key)
        if found is None:
            found = self._bars[key] = self._count_bars(count, repeat, meter, unit)
        return found

    def _count_bars(self, count: int, repeat: bool, meter: Meter, unit: int) -> int:
        if count < 1:
            return INF
        bar = self._bar(meter)
        final = min((chars for _, chars in self._one_token(unit, bar)), default=INF) + 2
        full = (self._fill(unit, bar) if bar is not None else final - 2) + 1
        if not repeat:
            return (count - 1) * full + final
        if ":|" not in self.barlines or (self.options.bars is not None and count < 2):
            return INF
        return (max(count, 2) - 1) * full + 1 + final

    def cost(self, s: AbcState) -> int:
        """The length of the shortest completion of the tune, in characters (at most a few more; see the module docstring).

        In the body it is a part that depends only on the state's key, cached, and the bars behind that
        the other voices still have to write.
        """
        if s.phase == END or (s.phase == BODY and s.can_end):
            return 0
        if s.phase != BODY:
            found = self._header_cost(s)
            return found if found < INF // 2 else INF
        key = self.key(s)
        local = self._locals.get(key)
        if local is None:
            local = self._locals[key] = self._local(s)
        total = local + self._tail(s)
        return total if total < INF // 2 else INF  # sums and differences of INF stay far above INF // 2

    def _tail(self, s: AbcState) -> int:
        frame = s.frame
        if s.voice == 0:
            return (frame.voices - 1) * s.block_cost
        block = s.block
        tail = self._block_tails.get((block, s.voice))
        if tail is None:
            later = frame.voices - 1 - s.voice
            tail = 1 + frame.after(s.voice) + later * (block.total + 1)
            if not block.final:
                tail += self._next_block_least(s, block)
            self._block_tails[(block, s.voice)] = tail
        return tail + (block.suffix[s.j + 1] if s.j < len(block.targets) else 0)

    def _local(self, s: AbcState) -> int:
        pending = len(s.pending)
        pos = s.pos
        if pos == ITEM:
            return pending + self._boundary(s, s.elapsed, s.music)
        if pos == DONE:
            return 1 + s.frame.after(0) + (s.frame.voices - 1) if s.voice == 0 else 0
        if pos in (OCT, LEN, ACC):
            kind, prefix = (s.kind, s.buf) if pos == LEN else ("note", "")
            return (pos == ACC) + self._event_cost(s, kind, prefix)
        if pos in (CHORD, C_ACC, C_OCT):
            return (pos == C_ACC) + (pos == CHORD and s.chord_notes == 0) + 1 + self._event_cost(s, "chord", "")
        if pos == BRACKET:
            chord = 2 + self._event_cost(s, "chord", "") if not self._needs_field(s) else INF
            return min(chord, self._field_cost(s, "["))
        if pos == FIELD:
            return self._field_cost(s, s.buf)
        if pos == BAR:
            if s.voice > 0:
                target = self._target(s)
                fits = target is not None and target.barline.startswith(s.buf) and s.elapsed == target.duration and s.music
                return len(target.barline) - len(s.buf) if fits else INF
            closing = min((self._closing(s, s.elapsed, b) - len(s.buf) for b in self.barlines.extending(s.buf)),
                          default=INF) + self._first_line_end(s)
            if s.opening:
                for barline in self.barlines.extending(s.buf):
                    after = self._empty_bar(s, barline)
                    if after is not None:
                        closing = min(closing, len(barline) - len(s.buf) + self._boundary(after, 0, False))
            return closing
        if pos == DECO:
            return min((len(d) - len(s.buf) + self._boundary(s, s.elapsed, s.music, deco=True)
                        for d in self.decorations.extending(s.buf) if d.endswith("!") and len(d) > 1), default=INF)
        if pos == PAREN:
            slur = self._boundary(s.but(slur=1), s.elapsed, s.music) if self.slurs and not s.slur else INF
            return min(slur, self._tuplet_cost(s, "("))
        if pos == TUPLE:
            return self._tuplet_cost(s, s.buf)
        if pos == CONT:
            return 1 + self._boundary(s, s.elapsed, s.music)
        if pos in (GRACE, G_ACC, G_OCT):
            notes_wanted = pos == G_ACC or (pos == GRACE and not s.chord_notes)
            return (pos == G_ACC) + notes_wanted + 1 + self._boundary(s, s.elapsed, s.music, deco=True)
        return INF

    def _tuplet_cost(self, s: AbcState, prefix: str) -> int:
        """The fewest characters to end the tune from a tuplet sign that starts with `prefix`."""
        best = INF
        for text in self.tuplets.extending(prefix):
            owed, factor = tuplet_notes(text, s.meter.compound)
            best = min(best, len(text) - len(prefix) + self._boundary(s.but(owed=owed, factor=factor), s.elapsed, s.music))
        return best

    def _event_cost(self, s: AbcState, kind: str, prefix: str) -> int:
        """The fewest characters to end a note, rest or chord whose length starts with `prefix`, and the tune."""
        best = INF
        most = self._most(s)
        factor, owed = self._factor(s), max(0, s.owed - 1)
        for text in self.lengths[kind].extending(prefix):
            elapsed = s.elapsed + self._length_of(s.unit, text, factor)
            if most is None or elapsed <= most:
                best = min(best, len(text) - len(prefix) + self._boundary(s, elapsed, True, deco=False, owed=owed))
        return best

    def _needs_field(self, s: AbcState) -> bool:
        target = self._target(s)
        return target is not None and target.field is not None and s.bar_field is None and not s.music

    def _field_cost(self, s: AbcState, prefix: str) -> int:
        best = INF
        for text in self.fields.extending(prefix):
            after = self._field(s.but(buf=text[:-1]), "]")
            if after is not None:
                best = min(best, len(text) - len(prefix) + self._boundary(after, after.elapsed, after.music))
        return best

    def _boundary(self, s: AbcState, elapsed: int, music: bool, deco: bool | None = None, owed: int | None = None) -> int:
        """The fewest characters to end the tune from between two tokens, the open bar lasting `elapsed`
        (leaving out what the tail counts).

        `deco`: whether a note must come next (for decorations, or a slur just opened); `owed`: how many
        notes of an open tuplet or broken rhythm must come first (by default, as in `s`).
        """
        deco = (s.deco > 0 or s.slur == 1) if deco is None else deco
        owed = s.owed if owed is None else owed
        if owed:
            return self._owed_boundary(s, elapsed, owed)
        return self._plain_boundary(s, elapsed, music, deco) + (s.slur > 0)  # the slur's `)`

    def _owed_boundary(self, s: AbcState, elapsed: int, owed: int) -> int:
        """`_boundary` with `owed` notes still to write, each its length times `s.factor`: the cheapest ones that fit."""
        key = (self.key(s), elapsed, owed)
        found = self._owed.get(key)
        if found is None:
            found = INF
            most = self._most(s)
            for ticks, chars in self._owed_tokens(s.unit, s.factor):
                after = elapsed + ticks
                if most is None or after <= most:
                    found = min(found, chars + self._boundary(s, after, True, deco=False, owed=owed - 1))
            self._owed[key] = found
        return found

    def _owed_tokens(self, unit: int, factor: tuple[int, int]) -> tuple[tuple[int, int], ...]:
        """The single notes and rests (ticks, characters) of a tuplet or broken rhythm, their lengths times `factor`."""
        key = (unit, factor)
        found = self._owed_lengths.get(key)
        if found is None:
            found = self._owed_lengths[key] = tuple((int(unit * length * Fraction(*factor)), chars) for length, chars in self.fill_lengths)
        return found

    def _plain_boundary(self, s: AbcState, elapsed: int, music: bool, deco: bool) -> int:
        if s.voice > 0:
            if s.j >= len(s.block.targets):
                return 0
            target = s.block.targets[s.j]
            field = len(target.field) if self._needs_field(s) else 0
            rest = target.duration - elapsed
            fill = self._fill(s.unit, rest) if rest > 0 else (0 if music and not deco else INF)
            return field + fill + len(target.barline)
        key = (s.frame, elapsed, music, deco, s.bar_meter.text, s.meter.text, s.bar_field, s.pickup,
               s.first_meter.text if s.first_meter else None, (s.short_close[0], s.short_close[1].text) if s.short_close else None,
               s.repeat, self._bars_key(s))
        best = self._boundaries.get(key)
        if best is None:
            best = INF
            for duration, chars in self._ends(s, elapsed, music, deco, s.bar_meter):
                for barline in self.barlines.words:
                    if chars < best:
                        best = min(best, chars + self._closing(s, duration, barline))
            self._boundaries[key] = best
        return best + self._first_line_end(s)

    @staticmethod
    def _first_line_end(s: AbcState) -> int:
        """The first voice's newline, the other voices' prefixes and newlines."""
        return 1 + s.frame.after(0) + (s.frame.voices - 1)

    def _ends(self, s: AbcState, elapsed: int, music: bool, deco: bool, meter: Meter) -> list[tuple[int, int]]:
        """Durations the open bar could end with, and the fewest characters of music that get it there."""
        ends = []
        bar = self._bar(meter)
        if music and not deco:
            ends.append((elapsed, 0))
        else:  # the bar still needs music: one note or rest may end it
            room = None if bar is None else bar - elapsed
            ends += [(elapsed + d, chars) for d, chars in self._one_token(s.unit, room)]
        if bar is not None:
            wanted = {bar}
            if s.pickup is not None:
                wanted.add(bar - s.pickup)
            if s.short_close is not None:
                wanted.add(bar - s.short_close[0])
            for duration in wanted:
                if duration > elapsed:
                    ends.append((duration, self._fill(s.unit, duration - elapsed)))
        return ends

    def _closing(self, s: AbcState, duration: int, barline: str) -> int:
        """The fewest characters after the first voice's open bar ends at `duration` with `barline`: its
        barline, the other voices' copies of it and the bars still to come (not the line ends)."""
        if not self._accepts(s, duration, barline):
            return INF
        n = s.frame.voices
        mirrored = (n - 1) * self._mirror_cost(s.unit, duration, barline, s.bar_field)
        more = 0
        if barline != "|]" and not self._may_end(s, duration, barline):
            count = self._bars_after(self._number(s, duration))
            repeat = barline in ("|:", "::") or (s.repeat and not barline.startswith(":"))
            more = n * self._more_bars(count, repeat, s.meter, s.unit)
        return len(barline) + mirrored + more

    def _bars_after(self, number: int) -> int:
        """How many bars must still follow bar `number` (as musicians count): to bar N, or to the fewest a tune has."""
        if self.options.bars is not None:
            return self.options.bars - number
        return max(1, self.fewest - number)

    def _bars_key(self, s: AbcState) -> int:
        """What of the first voice's bar count the next characters depend on: all of it while it falls short."""
        if self.options.bars is not None:
            return s.bar_index
        return min(s.bar_index, self.fewest + 1)

    def _next_block_least(self, s: AbcState, block: Block) -> int:
        bar_index, pickup, _, _, repeat, meter = block.resume
        frame = s.frame
        n = frame.voices
        last = bar_index - 1 if pickup is not None else bar_index  # the number of the block's last bar
        count = self._bars_after(last)
        return len(frame.prefixes[0]) + n * self._more_bars(count, repeat, meter, s.unit) + 1 + frame.after(0) + (n - 1)

    # ----- the header's shortest completion
    def _value_least(self, slot: str, prefix: str) -> list[tuple[int, str | None]]:
        """(characters still to write, value) for the ways to finish a header value; value None for free text."""
        grammar = self._grammar(slot)
        if isinstance(grammar, Words):
            return [(len(value) - len(prefix), value) for value in grammar.extending(prefix)]
        return [(0 if prefix else 1, None)]

    def _header_cost(self, s: AbcState) -> int:
        words = s.phase == H_VALUE and isinstance(self._grammar(s.slot), Words)
        key = (s.phase, s.letters, s.slot, s.value if words else bool(s.value),
               tuple(pair for pair in s.values if pair[0] in "MLV"))
        found = self.header_costs.get(key)
        if found is None:
            found = self._header_least(s)
            self.header_costs[key] = found
        return found

    def _header_least(self, s: AbcState) -> int:
        best = INF
        for sequence in self.sequences.extending(s.letters):
            choices: list[list[tuple[int, str | None]]] = []  # per field still to finish: the ways to do it
            letters = s.letters
            written = list(s.values)
            if s.phase == H_COLON:
                choices.append([(chars + 2, value) for chars, value in self._value_least(s.slot, "")])
            elif s.phase == H_VALUE:
                choices.append([(chars + 1, value) for chars, value in self._value_least(s.slot, s.value)])
            names = [s.letters[-1]] if s.phase in (H_COLON, H_VALUE) else []
            for letter in sequence[len(letters):]:
                letters += letter
                slot = slot_name(letter, letters.count(letter))
                choices.append([(chars + 3, value) for chars, value in self._value_least(slot, "")])
                names.append(letter)
            best = min(best, self._header_choice(names, choices, written))
        return best

    def _header_choice(self, names: list[str], choices: list[list[tuple[int, str | None]]], written: list) -> int:
        """The fewest characters over the ways to finish the header's fields and then write the smallest body."""
        fixed = dict(written)
        chars = 0
        free: dict[str, list[tuple[int, str | None]]] = {}
        voices = [value for letter, value in written if letter == "V"]
        voice_chars = 0
        for letter, ways in zip(names, choices):
            if not ways:
                return INF
            if letter in "ML":
                free[letter] = ways
            elif letter == "V":
                cheapest = min(ways, key=lambda way: way[0] + len(self._prefix(way[1])))
                chars += cheapest[0]
                voices.append(cheapest[1])
            else:
                chars += min(way[0] for way in ways)
        for value in voices:
            voice_chars += len(self._prefix(value))
        n = max(1, len(voices))
        best = INF
        for meter_way in free.get("M", [(0, fixed.get("M"))]):
            for unit_way in free.get("L", [(0, fixed.get("L"))]):
                meter = parse_meter(meter_way[1]) if meter_way[1] is not None else FREE_METER
                unit = self._ticks(parse_unit(unit_way[1]) if unit_way[1] is not None else default_unit(meter))
                count = self.options.bars or self.fewest
                body = voice_chars + n * self._more_bars(count, False, meter, unit) + n
                best = min(best, meter_way[0] + unit_way[0] + body)
        return chars + best

    @staticmethod
    def _prefix(value: str | None) -> str:
        return f"[V:{parse_voice(value).id}] " if value is not None else ""

    # ----- caching
    def key(self, s: AbcState):
        """Everything the next characters allowed depend on (not the bars behind, which only add to the cost)."""
        if s.phase == END:
            return (END,)
        if s.phase != BODY:
            if s.phase == H_VALUE and not isinstance(self._grammar(s.slot), Words):
                return (s.phase, s.letters, s.slot, len(s.value))
            return (s.phase, s.letters, s.slot, s.value)
        target = self._target(s)
        later = None
        if s.voice > 0:
            # whether this bar is the block's last (a newline follows it) or the block is done
            following = s.block.targets[s.j + 1].field if s.j + 1 < len(s.block.targets) else None  # after a barline
            later = (target.key if target else None, following, min(len(s.block.targets) - s.j, 2), s.block.final,
                     s.voice + 1 == s.frame.voices)
        first = None
        if s.voice == 0:
            first = (self._bars_key(s), s.pickup,
                     s.first_meter.text if s.first_meter else None,
                     (s.short_close[0], s.short_close[1].text) if s.short_close else None, s.repeat)
        return (BODY, s.frame, later, first, s.pending, s.pos, s.buf, getattr(s, "kind", None),
                getattr(s, "note_letter", "a").isupper(), getattr(s, "marks", 0), getattr(s, "chord_notes", 0),
                s.elapsed, s.music, s.bar_meter.text, s.bar_field is not None, s.meter.text, s.deco, s.tie_ok, s.space,
                s.after_bar, s.owed, s.factor, s.slur, s.line_start, s.opening, s.can_end)
