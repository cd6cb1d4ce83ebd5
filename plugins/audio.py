"""The `audio` output plugin: each tune of an ABC file that passes the check, played by FluidSynth into a WAV file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from charmony.pipeline.abc.render import tunes_to_render, write_midi, write_wav
from charmony.pipeline.hookspecs import hookimpl
from charmony.pipeline.output import OutputPlugin, Rendered


class AudioRenderer(OutputPlugin):
    """ABC to WAV through MIDI, FluidSynth and a General MIDI SoundFont (Debian: fluidsynth, fluid-soundfont-gm)."""

    name = "audio"
    description = "ABC to WAV with FluidSynth and a General MIDI SoundFont; only tunes that pass the abc check."
    extensions = (".abc",)

    def render(self, path: Path, out_dir: Path) -> Rendered:
        """Write NAME.wav (NAME-X.wav per tune of a collection) for each valid tune."""
        tunes, skipped = tunes_to_render(path)
        written = []
        with tempfile.TemporaryDirectory(prefix="charmony-audio-") as scratch:
            for item in tunes:
                midi = write_midi(item.tune, Path(scratch) / f"{item.stem}.mid")
                written.append(write_wav(midi, out_dir / f"{item.stem}.wav"))
        return Rendered(written, skipped)


@hookimpl
def register_outputs(register) -> None:
    """Register the audio renderer."""
    register(AudioRenderer())
