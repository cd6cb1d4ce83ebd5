"""A tune's melody as a music theorist reads it: its cadence, length, phrases, furniture, range and motion.

Everything is read from the tune's melody voice: the voice named Soprano where there is one (a chorale's first
voice may be a trumpet that rests for most of it), else the first voice. A phrase ends at a bar holding a fermata (`H` or `!fermata!`);
phrase lengths are the bars from one such bar to the next, so a tune with fewer than two has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from charmony.pipeline.abc.harmony import part_of
from charmony.pipeline.abc.sounds import ends_on_tonic, melody
from charmony.pipeline.abc.tune import Bar, Change, Chord, Note, Rest, Tune, Voice

STEP_LIMIT = 2  # semitones: a melodic move of at most this is a step (a repeated note too), a larger one a leap


@dataclass
class MelodyFigures:
    """One tune's melody figures (of its melody voice)."""

    bars: int
    on_tonic: bool | None  # the last note is the key's tonic; None without a note or a tonic
    phrase_bars: list[int] = field(default_factory=list)  # bars from one fermata's bar to the next one's
    double_bars: int = 0  # bars closed by `||`
    rest_bars: int = 0  # bars of rest only
    meter_changes: int = 0  # M: fields within the music
    span: int | None = None  # semitones from the lowest note to the highest; None without notes
    steps: int = 0  # moves from a note to the next (rests between them aside) of at most STEP_LIMIT semitones
    leaps: int = 0  # larger moves


def has_fermata(bar: Bar) -> bool:
    """Whether a note, chord or rest of the bar's main layer carries a fermata."""
    return any("fermata" in event.decorations for event in bar.events if isinstance(event, Note | Chord | Rest))


def is_rest_bar(bar: Bar) -> bool:
    """Whether the bar's main layer is rests only (a whole-bar rest, `z4` or `Z`)."""
    music = [event for event in bar.events if not isinstance(event, Change)]
    return bool(music) and all(isinstance(event, Rest) for event in music)


def phrase_lengths(bars: list[Bar]) -> list[int]:
    """The bars from each bar holding a fermata to the next one."""
    ends = [number for number, bar in enumerate(bars) if has_fermata(bar)]
    return [later - earlier for earlier, later in zip(ends, ends[1:])]


def melody_voice(tune: Tune) -> Voice | None:
    """The voice named Soprano (see `harmony.part_of`), else the first voice; None without voices."""
    voices = list(tune.voices.values())
    named = next((voice for voice in voices if part_of(voice) == "soprano"), None)
    return named or (voices[0] if voices else None)


def melody_figures(tune: Tune) -> MelodyFigures | None:
    """The melody figures of a tune's melody voice; None for a tune without music."""
    voice = melody_voice(tune)
    if voice is None:
        return None
    sounds = melody(voice)
    pitches = [sound.midi for sound in sounds if sound.midi is not None]
    moves = [abs(later - earlier) for earlier, later in zip(pitches, pitches[1:])]
    steps = sum(move <= STEP_LIMIT for move in moves)
    return MelodyFigures(
        bars=len(voice.bars),
        on_tonic=ends_on_tonic(sounds),
        phrase_bars=phrase_lengths(voice.bars),
        double_bars=sum(bar.barline == "||" for bar in voice.bars),
        rest_bars=sum(map(is_rest_bar, voice.bars)),
        meter_changes=sum(isinstance(event, Change) and event.kind == "meter" for bar in voice.bars for event in bar.events),
        span=max(pitches) - min(pitches) if pitches else None,
        steps=steps,
        leaps=len(moves) - steps,
    )
