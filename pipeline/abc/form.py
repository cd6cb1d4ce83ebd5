"""The form of a training tune as the ABC constraint keeps it: its length in bars, the scale degree it ends on,
how often it writes `||` and bars of rests, and which section signs close a short bar in it; and the bounds a
run's profile records from them."""

from __future__ import annotations

from dataclasses import dataclass

from charmony.pipeline.abc.check import bar_numbers
from charmony.pipeline.abc.melody import is_rest_bar
from charmony.pipeline.abc.sounds import last_note, melody
from charmony.pipeline.abc.bars import is_short as bar_is_short
from charmony.pipeline.abc.tune import Bar, Tune, Voice

# A constrained tune has at most as many bars, `||` and bars of rests as the training tune with the most: a rule
# narrower than that would refuse the corpus' own tunes. It ends no earlier than most of them (the SHORT_TAIL share
# of the training tunes is shorter): a model that stops after a phrase or two, refused, would otherwise run on.
COMMON = 0.05  # a tune may end on a degree, or close a short bar with a section sign, where this share of the training tunes do
SHORT_TAIL = 0.05  # the share of training tunes a constrained tune may be shorter than: their 5th percentile of bars
SECTION_SIGNS = ("||", "|:", "::", ":|")  # the barlines whose short bars the profile counts (see `closing_signs`)


@dataclass(frozen=True)
class TuneForm:
    """One tune's form, read from its first voice (the voice the constraint writes first)."""

    bars: int  # the last bar's number as musicians count (a pickup is bar 0)
    final_degree: int | None  # semitones from the key's tonic up to the last note, 0-11; None without either
    double_bars: int  # bars closed by `||`
    rest_bars: int  # bars of rests only
    short_closes: frozenset[str]  # the section signs (SECTION_SIGNS) that close a short bar, the first and last aside
    last_voice_degree: int | None = None  # in a tune of several voices, the last voice's final degree, as final_degree


def tune_form(tune: Tune) -> TuneForm | None:
    """The form of a parsed tune; None for a tune without bars."""
    voice = next(iter(tune.voices.values()), None)
    if voice is None or not voice.bars:
        return None
    degree = final_degree(voice)
    bars = voice.bars
    short_closes = frozenset(sign for bar, after in zip(bars[1:], [*bars[2:], None])
                             if bar_is_short(bar.duration(), bar.meter)
                             for sign in closing_signs(bar, after)) & frozenset(SECTION_SIGNS)
    voices = list(tune.voices.values())
    return TuneForm(bar_numbers(voice)[-1], degree, sum(bar.barline == "||" for bar in bars),
                    sum(map(is_rest_bar, bars)), short_closes, final_degree(voices[-1]) if len(voices) > 1 else None)


def final_degree(voice: Voice) -> int | None:
    """Semitones from the key's tonic up to a voice's last note, 0-11; None without either."""
    last = last_note(melody(voice))
    return None if last is None or last.tonic is None else (last.midi - last.tonic) % 12


def closing_signs(bar: Bar, after: Bar | None) -> set[str]:
    """The barlines that may have closed `bar` as written (`after`: the next bar, None after the last): the parser
    keeps a repeat's dots on the bars either side, so a line ending `:|` (or `|`) before one opening `|:` reads as
    `::` (or `|:`): both count."""
    opens = after is not None and after.start_repeat
    if bar.end_repeat:
        return {"::", ":|"} if opens else {":|"}
    return {"|:", bar.barline} if opens else {bar.barline}


def form_summary(forms: list[TuneForm]) -> dict:
    """What a run's profile records of its training tunes' forms (see `compiled.Form` for how it is used)."""
    if not forms:
        return {}
    bars = sorted(form.bars for form in forms)
    degrees: dict[int, int] = {}
    last_voice_degrees: dict[int, int] = {}
    degree_pairs: dict[str, int] = {}  # "first last": the first and the last voice's final degrees
    for form in forms:
        if form.final_degree is not None:
            degrees[form.final_degree] = degrees.get(form.final_degree, 0) + 1
        if form.last_voice_degree is not None:
            last_voice_degrees[form.last_voice_degree] = last_voice_degrees.get(form.last_voice_degree, 0) + 1
            if form.final_degree is not None:
                pair = f"{form.final_degree} {form.last_voice_degree}"
                degree_pairs[pair] = degree_pairs.get(pair, 0) + 1
    return {
        "tunes": len(forms),
        "bars_fewest": bars[0],
        "bars_low": bars[int(len(bars) * SHORT_TAIL)],
        "bars_median": bars[len(bars) // 2],
        "bars_most": bars[-1],
        "final_degrees": {str(degree): count for degree, count in sorted(degrees.items())},
        "unknown_finals": sum(form.final_degree is None for form in forms),
        "voiced_tunes": sum(form.last_voice_degree is not None for form in forms),  # tunes of several voices with a last note
        "last_voice_final_degrees": {str(degree): count for degree, count in sorted(last_voice_degrees.items())},
        "final_degree_pairs": dict(sorted(degree_pairs.items())),
        "double_bars_most": max(form.double_bars for form in forms),
        "rest_bars_most": max(form.rest_bars for form in forms),
        "short_closes": {sign: sum(sign in form.short_closes for form in forms) for sign in SECTION_SIGNS},
    }
