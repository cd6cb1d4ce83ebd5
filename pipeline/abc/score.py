"""ABC to a music21 Score, built from charmony's own tune model (music21's ABC reader loses voices and ties)."""

from __future__ import annotations

import copy
from fractions import Fraction

from music21 import articulations, chord, clef, duration, expressions, metadata, meter, note, pitch, spanner, stream, tempo, tie
from music21 import bar as barline
from music21 import key as m21key

from charmony.pipeline.abc import theory
from charmony.pipeline.abc.collection import split_tunes
from charmony.pipeline.abc.fields import Key, Meter
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.abc.repeats import ending_spans, play_order
from charmony.pipeline.abc.spelling import Accidentals, key_alters
from charmony.pipeline.abc.theory import CLEFS, MODES
from charmony.pipeline.abc.tune import Bar, Change, Chord, Note, Rest, Tune, Voice
from charmony.pipeline.system.errors import AbcError

ARTICULATIONS = {"staccato": articulations.Staccato, "accent": articulations.Accent, ">": articulations.Accent,
                 "emphasis": articulations.Accent, "tenuto": articulations.Tenuto, "upbow": articulations.UpBow,
                 "downbow": articulations.DownBow, "marcato": articulations.StrongAccent,
                 "^": articulations.StrongAccent, "wedge": articulations.Spiccato, "breath": articulations.BreathMark}
EXPRESSIONS = {"fermata": expressions.Fermata, "trill": expressions.Trill, "lowermordent": expressions.Mordent,
               "mordent": expressions.Mordent, "uppermordent": expressions.InvertedMordent,
               "pralltriller": expressions.InvertedMordent, "turn": expressions.Turn, "roll": expressions.Turn,
               "invertedturn": expressions.InvertedTurn}


def abc_to_score(text: str, expand_repeats: bool = False) -> stream.Score:
    """The music21 Score of one ABC tune: one Part per voice, Measures numbered as musicians count.

    With `expand_repeats` the measures are unrolled as played. Raises AbcError for text that cannot be
    read as a tune (no X: or K:, no music, or several tunes).
    """
    tunes = split_tunes(text)
    if not tunes:
        raise AbcError("no tune: the text holds no X: line and no music")
    if len(tunes) > 1:
        raise AbcError(f"{len(tunes)} tunes in one text; abc_to_score reads one (see pipeline.abc.collection.split_tunes)")
    return tune_to_score(parse_tune(tunes[0].text, tunes[0].line), expand_repeats)


def tune_to_score(tune: Tune, expand_repeats: bool = False) -> stream.Score:
    """The music21 Score of a parsed tune; see abc_to_score."""
    if not tune.readable:
        first = next((p for p in tune.problems if "X:" in p.message or "K:" in p.message), tune.problems[0])
        raise AbcError(f"line {first.line}:{first.column}: {first.message}")
    if not tune.voices:
        raise AbcError(f"line {tune.line}: the tune holds no music")
    score = stream.Score()
    score.metadata = metadata.Metadata()
    score.metadata.title = tune.title or ""
    composer = next((value for letter, value in tune.fields if letter == "C"), None)
    if composer:
        score.metadata.composer = composer
    for order, voice in enumerate(tune.voices.values()):
        part = voice_to_part(voice, tune, expand_repeats)
        if order == 0 and tune.tempo is not None:
            part.getElementsByClass(stream.Measure).first().insert(0, metronome_mark(tune.tempo))
        score.insert(0, part)
    return score


def voice_to_part(voice: Voice, tune: Tune, expand_repeats: bool) -> stream.Part:
    """One Part of Measures for one voice."""
    part = stream.Part(id=voice.id)
    if voice.name:
        part.partName = voice.name
    pickup = is_pickup(voice.bars[0])
    accidentals = Accidentals(key_alters(key_signature(voice.key)))
    measures = [bar_to_measure(bar, number, accidentals) for number, bar in enumerate(voice.bars, start=0 if pickup else 1)]
    first = measures[0]
    if voice.clef is not None:
        first.insert(0, make_clef(voice.clef))
    if not first.getElementsByClass(m21key.KeySignature):
        first.insert(0, key_signature(voice.key))
    if voice.bars[0].meter.length is not None and not first.getElementsByClass(meter.TimeSignature):
        first.insert(0, time_signature(voice.bars[0].meter))
    if expand_repeats:
        order = play_order(voice.bars)
        measures = [copy.deepcopy(measures[index]) for index in order]
        for number, measure in enumerate(measures, start=0 if pickup and order and order[0] == 0 else 1):
            measure.number = number
            if isinstance(measure.leftBarline, barline.Repeat):
                measure.leftBarline = None
            if isinstance(measure.rightBarline, barline.Repeat):
                measure.rightBarline = None
        part.append(measures)
    else:
        part.append(measures)
        for numbers, start, end in ending_spans(voice.bars):
            part.insert(0, spanner.RepeatBracket(measures[start:end + 1], number=",".join(map(str, numbers))))
    if voice.clef is None:
        first.insert(0, clef.bestClef(part, recurse=True))
    return part


def is_pickup(bar: Bar) -> bool:
    """Whether a voice's first bar is an anacrusis: shorter than its meter."""
    return theory.is_pickup(bar.duration(), bar.meter.length)


def make_clef(name: str) -> clef.Clef:
    """The music21 clef an ABC clef name stands for (treble for a name the reader does not know)."""
    return getattr(clef, CLEFS.get(name, "TrebleClef"))()


def bar_to_measure(bar: Bar, number: int, accidentals: Accidentals) -> stream.Measure:
    """One Measure: its events (a Voice per `&` layer), barlines and repeat signs; `accidentals` says which show."""
    measure = stream.Measure(number=number)
    accidentals.next_bar()
    if len(bar.layers) == 1:
        fill(measure, bar.layers[0], accidentals)
    else:
        for index, layer in enumerate(bar.layers):
            if index:
                accidentals.next_layer()
            voice = stream.Voice(id=str(index + 1))
            fill(voice, layer, accidentals)
            measure.insert(0, voice)
    if bar.meter.length is not None and bar.duration() < bar.meter.length:
        padding = float((bar.meter.length - bar.duration()) * 4)
        if number == 0:
            measure.paddingLeft = padding
        else:
            measure.paddingRight = padding
    if bar.start_repeat:
        measure.leftBarline = barline.Repeat(direction="start")
    if bar.end_repeat:
        measure.rightBarline = barline.Repeat(direction="end")
    elif bar.barline in ("||", "|]", "[|"):
        measure.rightBarline = barline.Barline({"||": "double", "|]": "final", "[|": "heavy-light"}[bar.barline])
    return measure


def fill(container: stream.Stream, events: list, accidentals: Accidentals) -> None:
    """Append a layer's notes, chords and rests, inserting key, meter and tempo changes where they fall."""
    offset = Fraction(0)
    for event in events:
        if isinstance(event, Change):
            element = change_element(event)
            if isinstance(element, m21key.KeySignature):
                accidentals.change_key(key_alters(element))
            if element is not None:
                container.insert(offset, element)
            continue
        for grace in getattr(event, "grace", ()):
            container.insert(offset, make_note(grace, accidentals).getGrace())
        element = make_event(event, accidentals)
        container.insert(offset, element)
        offset += event.length * 4


def make_event(event: Note | Chord | Rest, accidentals: Accidentals):
    """The music21 note, chord or rest of one event, with its ties, accidentals and decorations."""
    if isinstance(event, Rest):
        element = note.Rest(quarterLength=event.length * 4)
        if event.invisible:
            element.style.hideObjectOnPrint = True
    elif isinstance(event, Note):
        element = make_note(event, accidentals)
    else:
        element = chord.Chord([make_note(n, accidentals) for n in event.notes], quarterLength=event.length * 4)
        ties = [tie_type(n) for n in event.notes]
        if len(set(ties)) == 1:
            element.tie = tie.Tie(ties[0]) if ties[0] else None
        else:
            for n, kind in zip(element.notes, ties):
                n.tie = tie.Tie(kind) if kind else None
    for name in event.decorations:
        if name in ARTICULATIONS:
            element.articulations.append(ARTICULATIONS[name]())
        elif name in EXPRESSIONS:
            element.expressions.append(make_expression(name))
    return element


def make_expression(name: str) -> expressions.Expression:
    """The music21 expression of an ABC decoration; a fermata upright, above the staff, as musicians draw it."""
    expression = EXPRESSIONS[name]()
    if isinstance(expression, expressions.Fermata):
        expression.type = "upright"
    return expression


def make_note(event: Note, accidentals: Accidentals) -> note.Note:
    """A music21 Note of the step written, altered as the key and bar say, its accidental drawn only where needed.

    Every accidental gets an explicit display status: music21's writer then keeps them as they are
    (with none set it would draw one on every altered note).
    """
    written = pitch.Pitch(step=event.step, octave=event.octave)
    # A note tied over keeps its pitch without a sign, and its sign does not hold for the notes after it.
    shown = not event.tie_stop and accidentals.needs_sign(event.step, event.octave, event.alter)
    if event.alter or shown:
        written.accidental = pitch.Accidental(event.alter)
        written.accidental.displayStatus = shown
    element = note.Note(written, quarterLength=event.length * 4)
    kind = tie_type(event)
    if kind:
        element.tie = tie.Tie(kind)
    return element


def tie_type(event: Note) -> str | None:
    """start, stop, continue or None."""
    if event.tie_start and event.tie_stop:
        return "continue"
    return "start" if event.tie_start else "stop" if event.tie_stop else None


def key_signature(key: Key) -> m21key.KeySignature:
    """A music21 Key for a standard key and mode, else a KeySignature with the key's alterations."""
    if key.tonic and key.mode in MODES:
        tonic = key.tonic[0] + key.tonic[1:].replace("b", "-")
        return m21key.Key(tonic, MODES[key.mode].music21)
    signature = m21key.KeySignature(0)
    if key.alters:
        sharps = key.sharps
        if sharps:
            return m21key.KeySignature(sharps)
        signature.alteredPitches = [pitch.Pitch(step, accidental=alter) for step, alter in key.alters.items()]
    return signature


def time_signature(value: Meter) -> meter.TimeSignature:
    """A music21 TimeSignature, common or cut time drawn as such."""
    signature = meter.TimeSignature(f"{value.numerator}/{value.denominator}")
    if value.text == "C":
        signature.symbol = "common"
    elif value.text == "C|":
        signature.symbol = "cut"
    return signature


def metronome_mark(value: tuple[Fraction, int, str | None]) -> tempo.MetronomeMark:
    """The Q: field as a MetronomeMark: beats of the given length per minute, and its words."""
    beat, bpm, label = value
    if not bpm:
        return tempo.MetronomeMark(text=label)
    return tempo.MetronomeMark(text=label, number=bpm, referent=duration.Duration(beat * 4))


def change_element(change: Change):
    """The music21 object for a key, meter, clef or tempo change in the music."""
    if change.kind == "key":
        return key_signature(change.value)
    if change.kind == "meter":
        return time_signature(change.value) if change.value.length is not None else None
    if change.kind == "clef":
        return make_clef(change.value)
    if change.kind == "tempo":
        return metronome_mark(change.value)
    return None
