"""The `audio` output plugin: each tune of an ABC file that passes the check, played by FluidSynth into a WAV file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from charmony.pipeline.abc.render import TuneRenderer, TuneToRender, write_midi, write_wav
from charmony.pipeline.hookspecs import hookimpl


class AudioRenderer(TuneRenderer):
    """ABC to WAV through MIDI, FluidSynth and a General MIDI SoundFont (Debian: fluidsynth, fluid-soundfont-gm)."""

    name = "audio"
    description = "ABC to WAV with FluidSynth and a General MIDI SoundFont; only tunes that pass the abc check."

    def render_tune(self, item: TuneToRender, out_dir: Path) -> list[Path]:
        """NAME.wav, played from a MIDI file made on the side."""
        with tempfile.TemporaryDirectory(prefix="charmony-audio-") as scratch:
            midi = write_midi(item.tune, Path(scratch) / f"{item.stem}.mid")
            return [write_wav(midi, out_dir / f"{item.stem}.wav")]


@hookimpl
def register_outputs(register) -> None:
    """Register the audio renderer."""
    register(AudioRenderer())
