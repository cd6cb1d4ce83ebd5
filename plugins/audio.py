"""The `audio` output plugin: each tune of an ABC file that passes the check, played into an audio file.

FluidSynth with a General MIDI SoundFont plays it where both are installed; elsewhere charmony's
built-in synthesizer does, so every valid tune can be heard on any machine. The render result
names the synthesizer under `details`. Either way the recording is finished alike (see
pipeline/audio/mastering.py): one channel, peak at -1 dBFS, at most three minutes, Ogg Vorbis
(16-bit WAV where libsndfile is missing).
"""

from __future__ import annotations

import html
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from charmony.pipeline.abc import render as abc_render
from charmony.pipeline.abc.render import (
    LONGEST_AUDIO_SECONDS,
    RenderError,
    TuneRenderer,
    TuneToRender,
    fluidsynth_audio,
    render_midi,
    synthesize_audio,
)
from charmony.pipeline.plugin.cards import CardPart, CardSample
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.output import Rendered
from charmony.pipeline.plugin.verdict import Verdict

# FluidSynth plays on while its voices die away; its recording ends this long after the music, faded out.
FLUIDSYNTH_TAIL = 0.3
# What the audio files may be called: Ogg Vorbis, or WAV where libsndfile is missing.
AUDIO_EXTENSIONS = (".ogg", ".wav")


def fluidsynth_soundfont() -> Path | None:
    """The SoundFont FluidSynth plays with, where both are installed; None: the built-in synthesizer plays."""
    font = abc_render.soundfont()
    return font if font is not None and shutil.which("fluidsynth") else None


def audio_extension() -> str:
    """The extension this machine's recordings get (numpy and libsndfile: loaded only to play)."""
    from charmony.pipeline.audio.mastering import audio_extension as extension

    return extension()


def synthesizer() -> str:
    """The synthesizer that plays tunes on this machine, in words: FluidSynth with its SoundFont, or the built-in one."""
    font = fluidsynth_soundfont()
    if font is not None:
        return f"FluidSynth with {font.name}"
    from charmony.pipeline.audio import synth  # numpy: imported only to play, so that `charmony check` starts fast

    return synth.NAME


class AudioRenderer(TuneRenderer):
    """ABC to Ogg Vorbis through MIDI: FluidSynth and a General MIDI SoundFont, else charmony's built-in synthesizer."""

    name = "audio"
    description = ("ABC to Ogg Vorbis (peak -1 dBFS, at most 3 minutes) with FluidSynth and a General MIDI SoundFont, "
                   "else a built-in synthesizer; only tunes that pass the abc check.")
    modules = ("charmony.pipeline.audio.synth",)  # numpy, for the built-in synthesizer

    def render_checked(self, path: Path, out_dir: Path, verdicts: Mapping[str, Verdict]) -> Rendered:
        """Every valid tune of the file as an audio file, with the synthesizer that played them in `details`."""
        rendered = super().render_checked(path, out_dir, verdicts)
        if rendered.files:
            rendered.details = {"synthesizer": synthesizer()}
        return rendered

    def render_tune(self, item: TuneToRender, out_dir: Path, deadline: float) -> list[Path]:
        """NAME.ogg (NAME.wav without libsndfile), played from a MIDI file made on the side; a tune that plays over
        10 minutes is refused, and one over 3 minutes is cut there with a fade."""
        with tempfile.TemporaryDirectory(prefix="charmony-audio-") as scratch:
            midi, seconds = render_midi(item, Path(scratch) / f"{item.stem}.mid", deadline)
            if seconds > LONGEST_AUDIO_SECONDS:
                raise RenderError(f"it plays for {seconds / 60:.0f} minutes; audio renders tunes of at most "
                                  f"{LONGEST_AUDIO_SECONDS // 60} minutes")
            target = out_dir / f"{item.stem}{audio_extension()}"
            if fluidsynth_soundfont() is None:
                return [synthesize_audio(midi, target, deadline)]
            return [fluidsynth_audio(midi, seconds, FLUIDSYNTH_TAIL, target, deadline)]

    def card(self, sample: CardSample) -> list[CardPart]:
        """A player for each audio file (loaded only when played), and which synthesizer made them."""
        players = []
        for name in (name for name in sample.files if name.endswith(AUDIO_EXTENSIONS)):
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
