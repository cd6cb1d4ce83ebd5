"""The `audio` output plugin: each tune of an ABC file that passes the check, played by FluidSynth into a WAV file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from charmony.pipeline.abc.render import (
    LONGEST_AUDIO_SECONDS,
    RenderError,
    TuneRenderer,
    TuneToRender,
    check_fluidsynth,
    render_midi,
    seconds_left,
    write_wav,
)
from charmony.pipeline.hookspecs import hookimpl


class AudioRenderer(TuneRenderer):
    """ABC to WAV through MIDI, FluidSynth and a General MIDI SoundFont (Debian: fluidsynth, fluid-soundfont-gm)."""

    name = "audio"
    description = "ABC to WAV with FluidSynth and a General MIDI SoundFont; only tunes that pass the abc check."

    def ready(self) -> None:
        """Say what to install when FluidSynth or the SoundFont is missing."""
        check_fluidsynth()

    def render_tune(self, item: TuneToRender, out_dir: Path, deadline: float) -> list[Path]:
        """NAME.wav, played from a MIDI file made on the side; a tune that plays over 10 minutes is refused."""
        with tempfile.TemporaryDirectory(prefix="charmony-audio-") as scratch:
            midi, seconds = render_midi(item, Path(scratch) / f"{item.stem}.mid", deadline)
            if seconds > LONGEST_AUDIO_SECONDS:
                raise RenderError(f"it plays for {seconds / 60:.0f} minutes; audio renders tunes of at most "
                                  f"{LONGEST_AUDIO_SECONDS // 60} minutes")
            return [write_wav(midi, out_dir / f"{item.stem}.wav", seconds_left(deadline))]


@hookimpl
def register_outputs(register) -> None:
    """Register the audio renderer."""
    register(AudioRenderer())
