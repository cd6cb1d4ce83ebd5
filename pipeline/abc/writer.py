"""Writing a music21 score as ABC 2.1 text: one voice per part, bars in blocks aligned across voices."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from fractions import Fraction

from music21 import articulations, bar, chord, clef, expressions, interval, key, meter, note, pitch, spanner, stream, tempo

from charmony.pipeline.abc import theory
from charmony.pipeline.abc.keys import abc_key, simplest_shift
from charmony.pipeline.abc.spelling import Accidentals, key_alters
from charmony.pipeline.system.errors import AbcError

# Bump when the same score would be written differently: cached conversions are keyed by it.
# 2: tuplets (5, (7, (9 take 3 in compound meter and 2 otherwise; clefs from theory.CLEFS.
# 3: a voice in an octave clef is written an octave from its pitch with octave= and middle= (theory.clef_properties).
WRITER_VERSION = 3

UNITS = (Fraction(1, 4), Fraction(1, 8), Fraction(1, 16))
EXPRESSIONS = (  # ABC 2.1's shorthand decorations
    (expressions.Fermata, "H"), (expressions.Trill, "T"), (expressions.InvertedMordent, "P"), (expressions.Mordent, "M"),
)
ARTICULATIONS = ((articulations.Staccato, "."), (articulations.Accent, "L"), (articulations.Tenuto, "!tenuto!"))


@dataclass(frozen=True)
class WriterOptions:
    """How to lay out the ABC text."""

    number: int = 1  # X:
    title: str | None = None  # T:, else the score's title or movement name
    composer: str | None = None  # C:, else the score's composer, if any
    transpose: int = 0  # semitones, spelt so that the first key signature stays simple (see keys.simplest_shift)
    key_sharps: int | None = None  # with transpose: the first key signature wanted, where a spelling gives it
    unit: Fraction | None = None  # L:, else the one giving the shortest lengths
    bars_per_line: int = 4  # bars of one voice per line, the pickup bar not counted


def score_to_abc(score: stream.Stream, options: WriterOptions = WriterOptions()) -> str:
    """The ABC text of a music21 score (or part); the same score always gives the same text."""
    parts = _parts(score)
    measures = join_split_bars(_aligned_measures(parts))
    first_meter = _first(parts[0], meter.TimeSignature)
    unit = options.unit or choose_unit(parts, first_meter)
    signature = _first(parts[0], key.KeySignature)
    later = [found.sharps for part in parts for found in part.recurse().getElementsByClass(key.KeySignature)]
    shift = simplest_shift(options.transpose, signature.sharps if signature else 0, later,
                           options.key_sharps) if options.transpose else None
    signature = transposed_key(signature, shift)
    clefs = [clef_name(_first(part, clef.Clef)) for part in parts]
    lines = _header(score, parts, clefs, options, first_meter, unit, signature)
    writers = [VoiceWriter(unit, signature, first_meter, shift, theory.clef_octave(name)) for name in clefs]
    count = len(measures[0])
    for block in _blocks(measures[0], options.bars_per_line):
        for number, (writer, bars) in enumerate(zip(writers, measures), start=1):
            following = [bars[i + 1] if i + 1 < count else None for i in block]
            line = writer.bars([bars[i] for i in block], following, last=block[-1] + 1 == count)
            lines.append(f"[V:{number}] {line}")
    return "\n".join(lines) + "\n"


def _parts(score: stream.Stream) -> list[stream.Stream]:
    """The parts of a score, each with measures; a part or a flat stream is one part."""
    if isinstance(score, stream.Score):
        parts = list(score.parts) or [score.flatten()]
    else:
        parts = [score]
    parts = [part if part.getElementsByClass(stream.Measure) else part.makeNotation() for part in parts]
    parts = [part for part in parts if part.recurse().notesAndRests]
    if not parts:
        raise AbcError("the score holds no notes or rests to write")
    return parts


def _aligned_measures(parts: list[stream.Stream]) -> list[list[stream.Measure | None]]:
    """Each part's measures, padded with None where a part has fewer bars than the longest."""
    measures = [list(part.getElementsByClass(stream.Measure)) for part in parts]
    longest = max(len(m) for m in measures)
    return [m + [None] * (longest - len(m)) for m in measures]


def join_split_bars(measures: list[list[stream.Measure | None]]) -> list[list[stream.Measure | None]]:
    """Join each pair of short bars that add up to one bar across a plain barline, in every part alike.

    Chorale editions often split a bar at a fermata (three beats, then the one-beat upbeat of the next
    phrase); ABC writes the bar whole, as a musician would. Bar 0 (a pickup) and repeats are left alone.
    """
    count = len(measures[0])
    joined: list[list[stream.Measure | None]] = [[] for _ in measures]
    index = 0
    while index < count:
        pairs = [(bars[index], bars[index + 1]) for bars in measures] if 0 < index < count - 1 else []
        if pairs and all(_split_pair(first, second) for first, second in pairs):
            for out, (first, second) in zip(joined, pairs):
                out.append(_joined(first, second))
            index += 2
            continue
        for out, bars in zip(joined, measures):
            out.append(bars[index])
        index += 1
    return joined


def _split_pair(first: stream.Measure | None, second: stream.Measure | None) -> bool:
    """Whether two bars are the halves of one bar split at a plain barline."""
    if first is None or second is None or first.voices or second.voices:
        return False
    full = _quarters(first.barDuration.quarterLength)
    one, two = _quarters(first.duration.quarterLength), _quarters(second.duration.quarterLength)
    plain = first.rightBarline is None or (type(first.rightBarline) is bar.Barline and first.rightBarline.type == "regular")
    return (
        0 < one < full and 0 < two < full and one + two == full and plain and second.leftBarline is None
        and _quarters(second.barDuration.quarterLength) == full
        and not second.getElementsByClass((meter.TimeSignature, key.KeySignature, clef.Clef))
        and not first.getSpannerSites([spanner.RepeatBracket]) and not second.getSpannerSites([spanner.RepeatBracket])
    )


def _joined(first: stream.Measure, second: stream.Measure) -> stream.Measure:
    """One bar holding copies of both halves' contents."""
    whole = stream.Measure(number=first.number)
    for half, shift in ((first, 0), (second, _quarters(first.duration.quarterLength))):
        for element in half:
            whole.insert(_quarters(element.offset) + shift, copy.deepcopy(element))
    whole.rightBarline = copy.deepcopy(second.rightBarline)
    return whole


def _blocks(measures: list, bars_per_line: int) -> list[range]:
    """Bar indexes per line: the pickup bar (if any) joins the first line."""
    start = 1 if measures and _is_pickup(measures[0]) and len(measures) > 1 else 0
    edges = list(range(start, len(measures), bars_per_line))
    edges[0] = 0
    return [range(a, b) for a, b in zip(edges, edges[1:] + [len(measures)])]


def _is_pickup(measure: stream.Measure | None) -> bool:
    return measure is not None and theory.is_pickup(_quarters(measure.duration.quarterLength),
                                                    _quarters(measure.barDuration.quarterLength))


def _first(part: stream.Stream, kind):
    return part.recurse().getElementsByClass(kind).first()


def transposed_key(signature: key.KeySignature | None, shift: interval.Interval | None) -> key.KeySignature | None:
    """A key signature moved by `shift` (None: as it is)."""
    return signature if signature is None or shift is None else signature.transpose(shift)


def _header(score, parts, clefs: list[str], options: WriterOptions, first_meter, unit: Fraction, signature) -> list[str]:
    metadata = score.metadata if isinstance(score, stream.Score) else None
    title = options.title or (metadata and (metadata.title or metadata.movementName)) or "Untitled"
    lines = [f"X:{options.number}", f"T:{_one_line(title)}"]
    composer = options.composer or (metadata and metadata.composer)
    if composer:
        lines.append(f"C:{_one_line(composer)}")
    lines.append(f"M:{meter_text(first_meter)}")
    lines.append(f"L:{unit.numerator}/{unit.denominator}")
    mark = _first(parts[0], tempo.MetronomeMark)
    if mark is not None and (mark.number or mark.numberSounding):
        beat = Fraction(mark.referent.quarterLength).limit_denominator(64) / 4
        lines.append(f"Q:{beat.numerator}/{beat.denominator}={round(mark.number or mark.numberSounding)}")
    for number, (part, clef_text) in enumerate(zip(parts, clefs), start=1):
        name = _one_line(part.partName or "")
        voice = f"V:{number}"
        if name:
            voice += f' name="{name.replace(chr(34), chr(39))}"'
        voice += " " + theory.clef_properties(clef_text)
        lines.append(voice)
    lines.append(f"K:{abc_key(signature)}")
    return lines


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def meter_text(signature: meter.TimeSignature | None) -> str:
    """M: value of a time signature; 4/4 when there is none, as music21 assumes."""
    return signature.ratioString if signature is not None else "4/4"


def clef_name(found: clef.Clef | None) -> str:
    """The ABC clef name of a music21 clef, or of the nearest kind of clef it is; treble when unknown."""
    for kind in type(found).__mro__:
        if kind.__name__ in theory.CLEF_NAMES:
            return theory.CLEF_NAMES[kind.__name__]
    return "treble"


def length_text(units: Fraction) -> str:
    """A length in units of L: as ABC writes it: "", "2", "3/2", "/", "/4"."""
    if units == 1:
        return ""
    if units.denominator == 1:
        return str(units.numerator)
    if units.denominator == 2 and units.numerator == 1:
        return "/"
    return f"{units.numerator if units.numerator != 1 else ''}/{units.denominator}"


def _quarters(value) -> Fraction:
    return Fraction(value).limit_denominator(10_000)


def written_quarters(element: note.GeneralNote) -> Fraction:
    """How long a note looks, without its tuplet's scaling (an ABC tuplet scales it back)."""
    tuplet = _tuplet(element)
    quarters = _quarters(element.duration.quarterLength)
    return quarters / _quarters(tuplet.tupletMultiplier()) if tuplet is not None else quarters


def choose_unit(parts: list[stream.Stream], signature: meter.TimeSignature | None) -> Fraction:
    """The L: among 1/4, 1/8, 1/16 that writes the fewest length characters; ABC's default wins ties."""
    lengths = [written_quarters(n) for part in parts for n in part.recurse().notesAndRests if not n.duration.isGrace]
    bar = Fraction(signature.barDuration.quarterLength) / 4 if signature is not None else Fraction(1)
    default = theory.default_unit(bar)

    def cost(unit: Fraction) -> tuple[int, bool, Fraction]:
        return sum(len(length_text(q / 4 / unit)) for q in lengths), unit != default, -unit

    return min(UNITS, key=cost)


class VoiceWriter:
    """Writes one part's bars, carrying its key and meter from one line to the next."""

    def __init__(self, unit: Fraction, signature, first_meter, shift: interval.Interval | None, octave: int = 0) -> None:
        self.unit = unit
        self.shift = shift
        self.octave = octave  # the voice's octave=: its notes are written this many octaves from their pitch
        self.moved: dict[str, pitch.Pitch] = {}  # transposed pitches by name, as transposing is slow
        self.signature = key_alters(signature)  # in force now, for the accidentals
        self.key_alters = self.signature  # as last written in K:
        self.meter_text = meter_text(first_meter)
        self.bar_length = _quarters(first_meter.barDuration.quarterLength) if first_meter else Fraction(4)
        self.beat = _quarters(first_meter.beatDuration.quarterLength) if first_meter else Fraction(1)
        self.compound = _compound(first_meter)

    def bars(self, measures: list[stream.Measure | None], following: list[stream.Measure | None], last: bool) -> str:
        """One line: `measures`, each closed by its barline; `following[i]` is the bar after `measures[i]`."""
        pieces = []
        for position, measure in enumerate(measures):
            if position == 0 and _starts_repeat(measure):
                pieces.append("|:")
            ending = _ending_number(measure)
            pieces.append((f"[{ending} " if ending else "") + self.bar(measure))
            on_line = following[position] if position + 1 < len(measures) else None
            pieces.append(_barline(measure, on_line, last=last and position + 1 == len(measures)))
        return " ".join(pieces)

    def bar(self, measure: stream.Measure | None) -> str:
        """The notes, rests and inline fields of one bar, overlay layers joined with `&`."""
        if measure is None:
            return "z" + length_text(self.bar_length / 4 / self.unit)
        changes = self._changes(measure)
        layers = list(measure.voices) or [measure]
        end = max(_quarters(layer.highestTime) for layer in [measure, *layers]) if len(layers) > 1 else None
        accidentals = Accidentals(self.signature)
        texts = []
        for number, layer in enumerate(layers):
            if number:
                accidentals.next_layer()
            texts.append(self._layer(layer, changes if number == 0 else [], accidentals, end))
        return " & ".join(texts)

    def _changes(self, measure: stream.Measure) -> list[tuple[Fraction, str, dict | None]]:
        """Key and meter changes in the bar as (offset, inline field, new key alterations).

        Changes at the start of the bar take effect at once; those later in the bar when they are written.
        A change to what is already in force (the header's key and meter, for the first bar) is not written.
        """
        changes: list[tuple[Fraction, str, dict | None]] = []
        for signature in measure.getElementsByClass(meter.TimeSignature):
            self.bar_length = _quarters(signature.barDuration.quarterLength)
            self.beat = _quarters(signature.beatDuration.quarterLength)
            self.compound = _compound(signature)
            if meter_text(signature) != self.meter_text:
                self.meter_text = meter_text(signature)
                changes.append((_quarters(signature.offset), f"[M:{self.meter_text}]", None))
        for signature in measure.getElementsByClass(key.KeySignature):
            signature = transposed_key(signature, self.shift)
            text, alters = abc_key(signature), key_alters(signature)
            if alters != self.key_alters:  # a new mode on the same signature (F to Dm) is not written
                self.key_alters = alters
                changes.append((_quarters(signature.offset), f"[K:{text}]", alters))
                if signature.offset == 0:
                    self.signature = alters
        return sorted(changes, key=lambda change: change[0])

    def _layer(self, layer: stream.Stream, changes, accidentals: Accidentals, end: Fraction | None) -> str:
        """One layer of a bar; gaps become invisible rests, and so does the rest of a short overlay layer."""
        out: list[str] = []
        position = Fraction(0)
        pending = list(changes)
        elements = [
            n for n in sorted(layer.notesAndRests, key=lambda n: (_quarters(n.offset), not n.duration.isGrace))
            if n.duration.isGrace or n.duration.quarterLength > 0
        ]
        graces: list[note.GeneralNote] = []
        tuplet_left = Fraction(0)
        for index, element in enumerate(elements):
            offset = _quarters(element.offset)
            while pending and pending[0][0] <= offset:
                _, change, alters = pending.pop(0)
                out.append(change)
                if alters is not None:
                    self.signature = alters
                    accidentals.change_key(alters)
            if element.duration.isGrace:
                graces.append(element)
                continue
            if offset < position:
                raise AbcError(f"bar {layer.number if isinstance(layer, stream.Measure) else ''} has overlapping notes in one voice")
            if offset > position:
                out.append("x" + length_text((offset - position) / 4 / self.unit))
                position = offset
            text = ""
            quarters = _quarters(element.duration.quarterLength)
            if tuplet_left <= 0 and _tuplet(element) is not None:
                marker, tuplet_left = self._tuplet_start(elements, index)
                text += marker
            if graces:
                slash = "/" if any(getattr(g.duration, "slash", False) for g in graces) else ""
                text += "{" + slash + "".join(self._grace(g, accidentals) for g in graces) + "}"
                graces = []
            written = quarters
            if tuplet_left > 0:
                tuplet_left -= quarters
                written = written_quarters(element)
            text += _decorations(element) + self._event(element, accidentals, written)
            if out and position % self.beat == 0:
                out.append(" ")
            out.append(text)
            position += quarters
        out.extend(change for _, change, _ in pending)
        if end is not None and end > position:
            out.append("x" + length_text((end - position) / 4 / self.unit))
        return "".join(out).strip()

    def _tuplet_start(self, elements: list, start: int) -> tuple[str, Fraction]:
        """`(p`, or `(p:q:r` where needed, for the tuplet group starting at `elements[start]`, and its length."""
        tuplet = _tuplet(elements[start])
        ratio = (tuplet.numberNotesActual, tuplet.numberNotesNormal)
        total = _quarters(tuplet.totalTupletLength())
        count, filled = 0, Fraction(0)
        for element in elements[start:]:
            if element.duration.isGrace:
                continue
            found = _tuplet(element)
            if found is None or (found.numberNotesActual, found.numberNotesNormal) != ratio or filled >= total:
                break
            filled += _quarters(element.duration.quarterLength)
            count += 1
        p, q = ratio
        if q == theory.tuplet_time(p, self.compound) and count == p:
            return f"({p}", filled
        return f"({p}:{q}:{count}", filled

    def _event(self, element: note.GeneralNote, accidentals: Accidentals, quarters: Fraction) -> str:
        """A note, chord or rest with its length and tie."""
        length = length_text(quarters / 4 / self.unit)
        if isinstance(element, note.Rest):
            return ("x" if element.style.hideObjectOnPrint else "z") + length
        if isinstance(element, chord.Chord):
            notes = sorted(element.notes, key=lambda n: n.pitch.ps)
            ties = [_ties_forward(n) for n in notes]  # music21 keeps a chord's ties on its notes
            inner = "".join(self._pitch(n.pitch, accidentals) + ("-" if tie and not all(ties) else "") for n, tie in zip(notes, ties))
            return f"[{inner}]{length}" + ("-" if all(ties) else "")
        return self._pitch(element.pitch, accidentals) + length + ("-" if _ties_forward(element) else "")

    def _grace(self, element: note.GeneralNote, accidentals: Accidentals) -> str:
        if isinstance(element, chord.Chord):
            return "".join(self._pitch(p, accidentals) for p in element.pitches[-1:])
        return self._pitch(element.pitch, accidentals) if isinstance(element, note.Note) else ""

    def _pitch(self, original: pitch.Pitch, accidentals: Accidentals) -> str:
        """A pitch (transposed if asked) with the accidental it needs in this bar and its octave marks."""
        written = original
        if self.shift is not None:
            name = original.nameWithOctave
            if name not in self.moved:
                self.moved[name] = self.shift.transposePitch(original)
            written = self.moved[name]
        alter = written.alter
        if alter != int(alter) or not -2 <= alter <= 2:
            raise AbcError(f"{written.nameWithOctave} has a microtone or an alteration ABC cannot write")
        octave = written.implicitOctave - self.octave
        sign = accidentals.sign(written.step, octave, int(alter))
        return sign + theory.note_letters(written.step, octave)


def _compound(signature: meter.TimeSignature | None) -> bool:
    """Whether a time signature is compound, as the reader judges it (4/4 when there is none)."""
    return signature is not None and theory.is_compound(signature.numerator, signature.denominator)


def _tuplet(element: note.GeneralNote):
    tuplets = element.duration.tuplets
    return tuplets[0] if len(tuplets) == 1 else None


def _ties_forward(element) -> bool:
    return element.tie is not None and element.tie.type in ("start", "continue")


def _decorations(element: note.GeneralNote) -> str:
    signs = [text for kind, text in EXPRESSIONS if any(isinstance(e, kind) for e in element.expressions)]
    signs += [text for kind, text in ARTICULATIONS if any(isinstance(a, kind) for a in element.articulations)]
    return "".join(signs)


def _starts_repeat(measure: stream.Measure | None) -> bool:
    return measure is not None and isinstance(measure.leftBarline, bar.Repeat) and measure.leftBarline.direction == "start"


def _ends_repeat(measure: stream.Measure | None) -> bool:
    return measure is not None and isinstance(measure.rightBarline, bar.Repeat) and measure.rightBarline.direction == "end"


def _ending_number(measure: stream.Measure | None) -> str:
    """`1`, `2` or `1,2` when an ending (a first or second time bar) starts at this bar."""
    if measure is None:
        return ""
    for bracket in measure.getSpannerSites([spanner.RepeatBracket]):
        if bracket.isFirst(measure):
            return ",".join(str(n) for n in bracket.numberRange) or "1"
    return ""


def _barline(measure, following, last: bool) -> str:
    """The barline closing `measure`; `following` is the next bar when it is on the same line."""
    ends, starts = _ends_repeat(measure), _starts_repeat(following)
    if ends and starts:
        return "::"
    if ends:
        return ":|"
    if starts:
        return "|:"
    style = measure.rightBarline.type if measure is not None and measure.rightBarline is not None else None
    if style in ("final", "light-heavy") or (last and style is None):
        return "|]"
    if style in ("double", "light-light"):
        return "||"
    if style == "heavy-light":
        return "[|"
    return "|"
