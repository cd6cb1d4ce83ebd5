"""Which accidentals a bar needs: only those that the key signature and the bar's earlier notes do not already give.

One rule serves both ways music leaves charmony: the ABC writer writes these signs, and the score draws
them, so a score shows the accidentals a musician expects (none on the F sharps of a tune in D) and the
same ones abcm2ps draws from charmony's ABC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from music21 import key

from charmony.pipeline.abc import theory


def key_alters(signature: key.KeySignature | None) -> dict[str, int]:
    """The alteration a key signature gives each step it alters: {"F": 1, "C": 1} for two sharps."""
    if signature is None:
        return {}
    return {p.step: int(p.alter) for p in signature.alteredPitches}


@dataclass
class Accidentals:
    """The accidentals in force in one bar, so that each note gets exactly the sign it needs.

    ABC 2.1 carries an accidental to the same pitch in the same octave; some older programs carry it
    to every octave. A sign is written whenever either reading would otherwise get the note wrong.
    """

    signature: dict[str, int]
    by_octave: dict[tuple[str, int], int] = field(default_factory=dict)
    by_step: dict[str, int] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)  # steps altered in an earlier overlay layer of the bar

    def needs_sign(self, step: str, octave: int, alter: int) -> bool:
        """Whether this note needs its accidental shown; remembers it for the rest of the bar."""
        in_key = self.signature.get(step, 0)
        same_octave = self.by_octave.get((step, octave), in_key)
        any_octave = self.by_step.get(step, in_key)
        needed = alter != same_octave or alter != any_octave or (step in self.dirty and (step, octave) not in self.by_octave)
        self.by_octave[(step, octave)] = alter
        self.by_step[step] = alter
        return needed

    def sign(self, step: str, octave: int, alter: int) -> str:
        """The ABC accidental to write before this note (maybe none), remembering it for the rest of the bar."""
        return theory.ACCIDENTAL_SIGNS[alter] if self.needs_sign(step, octave, alter) else ""

    def next_layer(self) -> None:
        """Start an overlay layer: back to the key signature, explicit for steps changed so far."""
        self.dirty |= {step for (step, _), alter in self.by_octave.items() if alter != self.signature.get(step, 0)}
        self.by_octave.clear()
        self.by_step.clear()

    def next_bar(self) -> None:
        """Start a bar: a barline cancels every accidental before it."""
        self.by_octave.clear()
        self.by_step.clear()
        self.dirty.clear()

    def change_key(self, signature: dict[str, int]) -> None:
        """A new key signature from here on; the accidentals before it no longer hold."""
        self.signature = signature
        self.by_octave.clear()
        self.by_step.clear()
