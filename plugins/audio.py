"""The `audio` output plugin: each tune of an ABC file that passes the check, played into a WAV file.

FluidSynth with a General MIDI SoundFont plays it where both are installed; elsewhere charmony's
built-in synthesizer does, so every valid tune can be heard on any machine. The render result
names the synthesizer under `details`.
"""

from __future__ import annotations

import html
import shutil
import tempfile
from pathlib import Path

from charmony.pipeline import synth
from charmony.pipeline.abc import render as abc_render
from charmony.pipeline.abc.render import TuneRenderer, TuneToRender, write_midi
from charmony.pipeline.gallery.cards import CardPart, CardSample
from charmony.pipeline.hookspecs import hookimpl
from charmony.pipeline.output import Rendered
from charmony.pipeline.wav import end_wav

# FluidSynth plays on while its voices die away; its recording ends this long after the last note, faded out.
FLUIDSYNTH_TAIL = 0.3


def synthesizer() -> str:
    """The synthesizer that plays tunes on this machine, in words: FluidSynth with its SoundFont, or the built-in one."""
    font = abc_render.soundfont()
    if shutil.which("fluidsynth") and font is not None:
        return f"FluidSynth with {font.name}"
    return synth.NAME


class AudioRenderer(TuneRenderer):
    """ABC to WAV through MIDI: FluidSynth and a General MIDI SoundFont, else charmony's built-in synthesizer."""

    name = "audio"
    description = "ABC to WAV with FluidSynth and a General MIDI SoundFont, else a built-in synthesizer; only tunes that pass the abc check."

    def render(self, path: Path, out_dir: Path) -> Rendered:
        """Every valid tune of the file as a WAV file, with the synthesizer that played them in `details`."""
        rendered = super().render(path, out_dir)
        if rendered.files:
            rendered.details = {"synthesizer": synthesizer()}
        return rendered

    def render_tune(self, item: TuneToRender, out_dir: Path) -> list[Path]:
        """NAME.wav, played from a MIDI file made on the side."""
        with tempfile.TemporaryDirectory(prefix="charmony-audio-") as scratch:
            midi = write_midi(item.tune, Path(scratch) / f"{item.stem}.mid")
            target = out_dir / f"{item.stem}.wav"
            if synthesizer() == synth.NAME:
                return [synth.midi_to_wav(midi, target)]
            abc_render.write_wav(midi, target)
            return [end_wav(target, synth.music_seconds(midi) + FLUIDSYNTH_TAIL, FLUIDSYNTH_TAIL)]

    def card(self, sample: CardSample) -> list[CardPart]:
        """A player for each WAV file (loaded only when played), and which synthesizer made them."""
        players = []
        for name in (name for name in sample.files if name.endswith(".wav")):
            url = sample.link(name)
            players.append(sample.file_link(name) if url is None else
                           f'<audio controls preload="none" src="{html.escape(url)}" title="{html.escape(name)}"></audio>')
        if not players:
            return []
        made_by = sample.details.get("synthesizer")
        note = f"played by {made_by}" if made_by else "played by an unrecorded synthesizer"
        return [CardPart("".join(players), "view"), CardPart(html.escape(note), "notes")]


@hookimpl
def register_outputs(register) -> None:
    """Register the audio renderer."""
    register(AudioRenderer())
