"""The grammar compiled from a run's profile and the sample options: made once per constraint, never changed."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import lcm

from charmony.pipeline.abc.form import COMMON, SECTION_SIGNS
from charmony.pipeline.abc.fields import FREE_METER, Meter, default_unit, parse_key, parse_meter, parse_unit
from charmony.pipeline.abc.grammar.lengths import FillLengths, fewest_tokens, tuplet_notes
from charmony.pipeline.abc.grammar.symbols import BROKEN, INF, NOTE_LETTERS, STANDARD_ORDER, TEXT_MARGIN
from charmony.pipeline.abc.grammar.words import Words
from charmony.pipeline.abc.parser import DECORATIONS
from charmony.pipeline.abc.profile import slot_name, well_formed
from charmony.pipeline.abc.sample_options import AbcOptions
from charmony.pipeline.abc.tokens import length_factor


@dataclass(frozen=True)
class CompiledGrammar:
    """What a run's tunes may hold: header orders and values, note lengths, barlines, decorations, idioms."""

    options: AbcOptions
    forced: dict[str, str]  # header values the options force, by letter
    sequences: Words  # the header's field orders
    slots: dict[str, Words | int]  # per header slot: its values, or the longest free text
    accidentals: frozenset[str]
    letters: frozenset[str]  # the note letters
    low: int  # the most octave marks below (`,`) and above (`'`)
    high: int
    lengths: dict[str, Words]  # the lengths written after a note, a rest and a chord
    fill_lengths: FillLengths  # (length factor, characters) of the notes and rests that fill a bar
    rest_lengths: FillLengths  # ... of the rests alone
    barlines: Words
    short_decorations: frozenset[str]
    broken: frozenset[str]  # the broken-rhythm signs
    tuplets: Words
    slurs: bool
    graces: bool
    continuations: bool  # lines continued with `\`
    mid_bar_lines: bool  # lines broken inside a bar
    lead_spaces: bool  # lines starting with a space
    finals: frozenset[str]  # the barlines besides |] that the corpus' one-voice tunes end with
    unbarred_end: bool  # ... and whether they end with music after the last barline, at the end of a line
    decorations: Words  # `!...!` decorations the checker knows
    meter_fields: Words  # inline fields `[M:...]`
    key_fields: Words  # inline fields `[K:...]`
    fields: Words  # both
    whole: int  # ticks to a whole note
    fewest: int  # the fewest bars a tune has: the training tunes' 5th percentile (see `form.SHORT_TAIL`)
    form: Form  # the bars, endings and furniture of the corpus' tunes
    max_jump: int  # see Constraint.max_jump

    def ticks(self, value: Fraction) -> int:
        """A duration in whole notes as ticks."""
        return int(value * self.whole)

    def final_note_pad(self) -> int:
        """What the last voice's last note, on a degree it must end on, may need beyond a rest's one character (an
        accidental and octave marks); 0 where no degree is asked of it."""
        if self.form.last_voice_degrees is None:
            return 0
        return max(map(len, self.accidentals), default=0) + max(self.low, self.high)

    def last_bar_number(self) -> int | None:
        """The number of the latest bar a tune of several voices may end with, which only `|]` may close: `--option
        bars=N`'s, else the corpus' most bars; None where neither is known."""
        return self.options.bars if self.options.bars is not None else self.form.most_bars


@dataclass(frozen=True)
class Form:
    """The form the corpus' tunes keep, from the profile's `form` (see `pipeline.abc.form`); None: no limit.

    A run prepared before the profile recorded it gets no limits.
    """

    most_bars: int | None = None  # a tune ends by this bar
    final_degrees: frozenset[int] | None = None  # semitones above the tonic the first voice's last note may be on
    median_bars: int | None = None  # ... up to this bar; past it, the last note may be any
    most_double_bars: int | None = None  # `||` per tune
    most_rest_bars: int | None = None  # bars of rests only, per tune
    short_closes: frozenset[str] = frozenset(SECTION_SIGNS)  # the section signs that may close a short bar (not the first)
    last_voice_degrees: frozenset[int] | None = None  # in a tune of several voices, the degrees its last voice may end on
    last_voice_after: dict[int, frozenset[int]] | None = None  # ... by the degree the first voice ended on, where known


def tune_form(profile: dict, options: AbcOptions) -> Form:
    """The form a run's profile records, as limits; the bar range gives way to `--option bars`, and the final
    degrees apply only with `--option final=corpus` (the first voice's) and `--option harmony` (the last voice's,
    where the profile records them)."""
    form = profile.get("form") or {}
    if not form.get("tunes"):
        return Form()
    common = COMMON * form["tunes"]
    degrees = frozenset(int(degree) for degree, count in form["final_degrees"].items() if count >= common)
    return Form(
        most_bars=None if options.bars is not None else form["bars_most"],
        final_degrees=degrees if options.corpus_finals and degrees and form["unknown_finals"] < common else None,
        median_bars=form["bars_median"],
        most_double_bars=form["double_bars_most"],
        most_rest_bars=form["rest_bars_most"],
        short_closes=short_closes(form, common),
        last_voice_degrees=last_voice_degrees(form) if options.chords_on_beats else None,
        last_voice_after=last_voice_after(form) if options.chords_on_beats else None,
    )


def last_voice_degrees(form: dict) -> frozenset[int] | None:
    """The degrees at least COMMON of the training tunes of several voices end their last voice on; None where the
    profile does not record them (written before it did) or has no such tunes."""
    voiced = form.get("voiced_tunes")
    if not voiced:
        return None
    return frozenset(int(degree) for degree, count in form["last_voice_final_degrees"].items()
                     if count >= COMMON * voiced) or None


def short_closes(form: dict, common: float) -> frozenset[str]:
    """The section signs that close a short bar in at least `common` training tunes (a profile written before it
    counted them all counted only `||`)."""
    counts = form.get("short_closes") or {**dict.fromkeys(SECTION_SIGNS, common), "||": form["short_double_bars"]}
    return frozenset(sign for sign, count in counts.items() if count >= common)


def last_voice_after(form: dict) -> dict[int, frozenset[int]] | None:
    """For each degree the training tunes of several voices end their first voice on, the degrees at least COMMON of
    them end their last voice on; None where the profile does not record the pairs."""
    pairs = form.get("final_degree_pairs")
    if not pairs:
        return None
    counts: dict[int, dict[int, int]] = {}
    for pair, count in pairs.items():
        first, last = map(int, pair.split())
        counts.setdefault(first, {})[last] = count
    return {first: frozenset(last for last, count in lasts.items() if count >= COMMON * sum(lasts.values()))
            for first, lasts in counts.items()}


def fewest_bars(profile: dict) -> int:
    """The fewest bars a constrained tune has: the training tunes' 5th percentile, or in a profile written before
    it was recorded, the shortest tune's bars."""
    form = profile.get("form") or {}
    return max(1, form.get("bars_low", form.get("bars_fewest", profile.get("fewest_bars", 1))))


def compile_grammar(profile: dict, options: AbcOptions) -> CompiledGrammar:
    """The grammar of the tunes a run's training tunes are like (`profile`), under the sample `options`."""
    music = profile["music"]
    header = profile["header"]
    forced = {letter: value for letter, value in {"M": options.meter, "K": options.key, "Q": options.tempo}.items()
              if value is not None}
    sequences = Words(header_sequences(header["sequences"], forced))
    slots = {slot: slot_grammar(slot, info, forced) for slot, info in header["slots"].items()}
    for sequence in sequences.words:  # a field an option forces that the corpus never writes
        for at, letter in enumerate(sequence):
            slot = slot_name(letter, sequence[:at + 1].count(letter))
            if slot not in slots and letter in forced:
                slots[slot] = Words([forced[letter]])
    note_lengths = set(music.get("note_lengths", [""]))
    fill = note_lengths | set(music.get("rest_lengths", []))
    barlines = Words(b for b in music.get("barlines", ["|", "|]"]) if b in ("|", "||", "|]", ":|", "|:", "::"))
    if "|]" not in barlines:
        barlines = Words(barlines.words | {"|]"})
    broken = frozenset(music.get("broken_rhythms", [])) & BROKEN
    tuplets = Words(t for t in music.get("tuplets", []) if tuplet_notes(t, False) and tuplet_notes(t, True))
    kinds = profile.get("kinds", {})
    voiced = any(sequence.count("V") > 1 for sequence in header["sequences"])
    inline = [f for f in music.get("inline_fields", []) if f[1] not in forced]
    meter_fields = Words(f for f in inline if f[1] == "M" and parse_meter(f[3:-1]).length is not None)
    key_fields = Words(f for f in inline if f[1] == "K")
    meters, units = meters_and_units(header, forced, meter_fields)
    fill_lengths = tuple(sorted((length_factor(text), 1 + len(text)) for text in fill if length_factor(text)))
    rest_lengths = tuple(sorted((length_factor(text), 1 + len(text)) for text in set(music.get("rest_lengths", []))
                                if length_factor(text)))
    whole = ticks_per_whole(meters, units, music, broken, tuplets, beats=options.chords_on_beats)
    fewest = 1 if options.bars is not None else fewest_bars(profile)
    return CompiledGrammar(
        options=options,
        forced=forced,
        sequences=sequences,
        slots=slots,
        accidentals=frozenset(music.get("accidentals", ["", "^", "_", "="])) - {""},
        letters=frozenset(music.get("letters", NOTE_LETTERS)),
        low=profile["octaves"]["low"],
        high=profile["octaves"]["high"],
        lengths={"note": Words(note_lengths), "rest": Words(music.get("rest_lengths", [])),
                 "chord": Words(music.get("chord_lengths", []))},
        fill_lengths=fill_lengths,
        rest_lengths=rest_lengths,
        barlines=barlines,
        short_decorations=frozenset(music.get("short_decorations", [])) & frozenset("HTPM.~uvLOS"),
        broken=broken,
        tuplets=tuplets,
        slurs=kinds.get("slur_open", 0) > 0,
        graces=kinds.get("grace_open", 0) > 0,
        continuations=kinds.get("continuation", 0) > 0,
        mid_bar_lines=profile.get("lines_mid_bar", 0) > 0,
        lead_spaces=profile.get("lines_leading_space", 0) > 0,
        # folk tunes end `|`, `||` or `:|`; tunes with several voices end |] in every voice
        finals=frozenset() if voiced else frozenset(
            b for b in profile.get("final_barlines", []) if b in barlines.words and b not in ("|]", "|:", "::")),
        unbarred_end=not voiced and "" in profile.get("final_barlines", []),
        # only those the checker knows: a corpus' tunes may hold others, which the checker refuses
        decorations=Words(d for d in music.get("decorations", []) if d[1:-1].lower() in DECORATIONS),
        meter_fields=meter_fields,
        key_fields=key_fields,
        fields=Words(meter_fields.words | key_fields.words),
        whole=whole,
        fewest=fewest,
        form=tune_form(profile, options),
        max_jump=largest_jump(sequences, meters, units, fill_lengths, whole, options.bars or fewest,
                              rest_lengths if options.no_crossing else None),
    )


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


def header_sequences(sequences: list[str], forced: dict[str, str]) -> list[str]:
    """The corpus' header orders, each holding every field an option forces."""
    wanted = set(forced)
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


def slot_grammar(slot: str, info: dict, forced: dict[str, str]) -> Words | int:
    """How one header slot's value may be written: one of some Words, or any text up to a length."""
    letter = slot[0]
    if letter in forced:
        return Words([forced[letter]])
    values = info["values"]
    if values is None:
        standard = standard_values(letter)
        if standard:
            return Words(standard)
        return info["longest"] + TEXT_MARGIN
    return Words(v for v in values if well_formed(letter, v))


def meters_and_units(header: dict, forced: dict[str, str], meter_fields: Words) -> tuple[set[Meter], set[Fraction]]:
    """Every meter and unit note length a tune of the grammar can have."""
    slots = header["slots"]
    meters = {parse_meter(v) for v in (slots.get("M", {}).get("values") or standard_values("M")) if well_formed("M", v)}
    meters |= {parse_meter(f[3:-1]) for f in meter_fields.words} | {FREE_METER}
    if "M" in forced:
        meters.add(parse_meter(forced["M"]))
    units = {parse_unit(v) for v in (slots.get("L", {}).get("values") or standard_values("L")) if well_formed("L", v)}
    units |= {default_unit(m) for m in meters}
    return meters, units


def ticks_per_whole(meters: set[Meter], units: set[Fraction], music: dict, broken: frozenset[str], tuplets: Words,
                    beats: bool = False) -> int:
    """Durations are counted in ticks, whole numbers: this many to a whole note (exact for every length, and with
    `beats` for the quarter note, the harmony rules' beat)."""
    factors = {length_factor(text) for name in ("note_lengths", "rest_lengths", "chord_lengths")
               for text in music.get(name, [""]) if length_factor(text)}
    extra = {Fraction(1)}
    if broken:
        extra |= {Fraction(1, 2), Fraction(3, 2)}
    for text in tuplets.words:
        extra |= {Fraction(*tuplet_notes(text, compound)[1]) for compound in (False, True)}
    values = [unit * factor * more for unit in units for factor in factors | {Fraction(1)} for more in extra]
    values += [m.length for m in meters if m.length is not None]
    if beats:
        values.append(Fraction(1, 4))
    return lcm(*(value.denominator for value in values))


def largest_jump(sequences: Words, meters: set[Meter], units: set[Fraction], fill_lengths: FillLengths,
                 whole: int, bars: int, rest_lengths: FillLengths | None = None) -> int:
    """An upper bound on how much one character can lengthen the shortest completion, for tunes of `bars` bars.

    A character can commit the tune to one more bar (a barline), a longer bar (a meter change) or one
    more voice (a V: line); each costs at most a whole bar of rests and a barline per voice per bar asked for.
    `rest_lengths`: with crossing=no, the later voices' bars are counted in rests where these can fill them.
    """
    voices = max((sequence.count("V") for sequence in sequences.words), default=1) or 1
    if any(m.length is None for m in meters if m != FREE_METER) or not meters:
        return INF
    whole_bars = [(int(u * whole), int(m.length * whole)) for u in units for m in meters if m.length is not None]
    widest = max((fewest_tokens(fill_lengths, unit, bar) for unit, bar in whole_bars), default=16)
    if rest_lengths is not None:
        in_rests = (fewest_tokens(rest_lengths, unit, bar) for unit, bar in whole_bars)
        widest = max([widest, *(chars for chars in in_rests if chars < INF)])
    if widest >= INF:
        return INF
    return voices * (bars + 1) * (min(widest, 64) + 12) + 32
