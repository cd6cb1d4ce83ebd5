"""What a run's training tunes share: header fields, their order and values, and the music they use.

The profile is made once, when a run is prepared, and kept with the run. The ABC constraint builds its
grammar from it (a sampled tune uses the fields, values, lengths, barlines and decorations the corpus
uses), and the `abc` checker uses its required fields to judge a run's samples.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from charmony.pipeline.abc.fields import FieldError, parse_key, parse_meter, parse_unit, parse_voice
from charmony.pipeline.abc.form import TuneForm, form_summary, tune_form
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.abc.tokens import tokens

PROFILE_FORMAT = 1
# A header slot whose training tunes use more values than this "varies": any well-formed value will do.
MOST_VALUES = 64
FIELD_LINE = re.compile(r"([A-Za-z]):(.*)")
VOICE_PREFIX = re.compile(r"\[V:([^\]\s]+)\] ")
# Token kinds the constraint writes; a tune using others is not fully covered by it.
COVERED = {"space", "note", "rest", "bar", "chord_open", "chord_close", "tie", "short_decoration", "decoration", "field",
           "broken", "tuplet", "slur_open", "slur_close"}


def slot_name(letter: str, occurrence: int) -> str:
    """The header slot of a field: its letter, numbered for V: lines (V1, V2...), which each hold one voice."""
    return f"V{occurrence}" if letter == "V" else letter


def split_header(text: str) -> tuple[list[tuple[str, str]], list[str]] | None:
    """A tune's header fields (letter, value) up to K:, and its body lines; None when it has no K: line."""
    lines = text.rstrip("\n").split("\n")
    fields = []
    for index, line in enumerate(lines):
        match = FIELD_LINE.fullmatch(line)
        if match is None:
            return None
        fields.append((match.group(1), match.group(2)))
        if match.group(1) == "K":
            return fields, lines[index + 1:]
    return None


class ProfileBuilder:
    """Takes training tunes one at a time and sums up what they share."""

    def __init__(self) -> None:
        self.tunes = 0
        self.sequences: Counter = Counter()
        self.values: dict[str, Counter] = {}
        self.longest: Counter = Counter()  # the longest value per slot
        self.kinds: Counter = Counter()  # token kinds over all tunes
        self.texts: dict[str, Counter] = {}  # token texts by what they are
        self.octaves = {"low": 0, "high": 0}  # most commas after a capital letter, most apostrophes after a small one
        self.voice_lines = 0  # body lines that start with [V:id] and a space
        self.body_lines = 0
        self.covered = 0  # tunes that use only what the constraint writes
        self.fewest_bars: int | None = None  # bars of the shortest tune, a pickup not counted (at least)
        self.lines_mid_bar = 0  # body lines that end inside a bar, not at a barline
        self.lines_leading_space = 0  # body lines (of tunes without voice prefixes) that start with a space
        self.final_barlines: Counter = Counter()  # the barline each tune ends with ("" for music after the last)
        self.forms: list[TuneForm] = []  # each tune's form (see `form.tune_form`)

    def add(self, text: str) -> None:
        """Take in one tune."""
        split = split_header(text)
        if split is None:
            return
        fields, body = split
        self.tunes += 1
        self.sequences["".join(letter for letter, _ in fields)] += 1
        seen: Counter = Counter()
        for letter, value in fields:
            seen[letter] += 1
            slot = slot_name(letter, seen[letter])
            self.values.setdefault(slot, Counter())[value] += 1
            self.longest[slot] = max(self.longest[slot], len(value))
        kinds = set()
        first_voice = body[0][:body[0].index("]") + 1] if body and VOICE_PREFIX.match(body[0]) else None
        barlines = 0
        last_barline = None
        ends_barred = True
        for line in body:
            self.body_lines += 1
            music = line
            prefix = VOICE_PREFIX.match(line)
            if prefix:
                self.voice_lines += 1
                music = line[prefix.end():]
            last = None
            self.lines_leading_space += line.startswith(" ")
            for match in tokens(music):
                kind = match.lastgroup
                kinds.add(kind)
                if kind == "bar" and (first_voice is None or line.startswith(first_voice)):
                    barlines += 1
                    last_barline = match.group()
                self.kinds[kind] += 1
                self._add_token(kind, match)
                last = kind if kind != "space" else last
            self.lines_mid_bar += last not in (None, "bar")
            ends_barred = last == "bar" if last is not None else ends_barred
        self.covered += kinds <= COVERED
        if last_barline is not None:
            self.final_barlines[last_barline if ends_barred else ""] += 1
        # A tune's barlines close its bars; one of them may close a pickup, which musicians do not count.
        bars = max(1, barlines - 1)
        self.fewest_bars = bars if self.fewest_bars is None else min(self.fewest_bars, bars)
        form = tune_form(parse_tune(text))
        if form is not None:
            self.forms.append(form)

    def _add_token(self, kind: str, match: re.Match) -> None:
        def note(name: str, value: str) -> None:
            self.texts.setdefault(name, Counter())[value] += 1

        if kind == "note":
            note("accidentals", match.group("accidental") or "")
            note("letters", match.group("letter"))
            note("note_lengths", match.group("length"))
            marks = match.group("octave")
            if match.group("letter").isupper() and set(marks) <= {","}:
                self.octaves["low"] = max(self.octaves["low"], len(marks))
            elif match.group("letter").islower() and set(marks) <= {"'"}:
                self.octaves["high"] = max(self.octaves["high"], len(marks))
        elif kind == "rest" and match.group("rest_letter") == "z":
            note("rest_lengths", match.group("rest_length"))
        elif kind == "chord_close":
            note("chord_lengths", match.group("chord_length"))
        elif kind in ("bar", "short_decoration", "decoration", "broken", "tuplet"):
            names = {"bar": "barlines", "short_decoration": "short_decorations", "decoration": "decorations",
                     "broken": "broken_rhythms", "tuplet": "tuplets"}
            note(names[kind], match.group())
        elif kind == "field" and match.group("field_letter") in "KM":
            note("inline_fields", match.group())

    def result(self) -> dict:
        """The profile as JSON data."""
        slots = {}
        for slot, values in sorted(self.values.items()):
            varies = len(values) > MOST_VALUES and not slot.startswith("V")
            slots[slot] = {"values": None if varies else sorted(values), "longest": self.longest[slot]}
        letters = [set(sequence) for sequence in self.sequences]
        required = sorted(set.intersection(*letters)) if letters else []
        return {
            "format": PROFILE_FORMAT,
            "tunes": self.tunes,
            "covered": self.covered,
            "header": {"sequences": sorted(self.sequences), "slots": slots, "required": required},
            "voice_prefix": self.body_lines > 0 and self.voice_lines == self.body_lines,
            "fewest_bars": self.fewest_bars or 1,
            "lines_mid_bar": self.lines_mid_bar,
            "lines_leading_space": self.lines_leading_space,
            "final_barlines": sorted(self.final_barlines),
            "octaves": self.octaves,
            "music": {name: sorted(found) for name, found in sorted(self.texts.items())},
            "kinds": dict(sorted(self.kinds.items())),
            "form": form_summary(self.forms),
        }


def required_fields(profile: dict | None) -> tuple[str, ...]:
    """The header fields every training tune of a run has, from the run's profile (its `abc` part); () without one."""
    return tuple(((profile or {}).get("abc") or {}).get("header", {}).get("required", ()))


def abc_profile(tunes: Iterable[str]) -> dict:
    """The profile of a run's training tunes."""
    builder = ProfileBuilder()
    for text in tunes:
        builder.add(text)
    return builder.result()


def well_formed(letter: str, value: str) -> bool:
    """Whether a header value reads as its field (M:, L:, K:, V:) asks; other fields take any text."""
    parsers = {"M": parse_meter, "L": parse_unit, "K": parse_key, "V": parse_voice}
    if letter not in parsers:
        return "%" not in value
    try:
        parsers[letter](value)
    except FieldError:
        return False
    return True
