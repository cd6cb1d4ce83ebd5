"""Rendering checked ABC tunes: MIDI (repeats played), MusicXML, SVG through verovio, audio through FluidSynth
or charmony's built-in synthesizer (finished by pipeline/audio/mastering.py: Ogg Vorbis, peak at -1 dBFS).

Every tune renders under a time limit, in a worker process (see worker.py): a tune that runs out of time or
crashes a library gets one line saying so, and the other tunes go on.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from charmony.pipeline.abc.check import TuneReport, check_tune
from charmony.pipeline.abc.collection import split_tunes
from charmony.pipeline.abc.music21_log import music21_warnings_logged
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.abc.tune import Tune
from charmony.pipeline.abc.worker import RenderTimeout, worker
from charmony.pipeline.system.atomic import atomic_path
from charmony.pipeline.system.errors import RenderError
from charmony.pipeline.plugin.output import OutputPlugin, Rendered
from charmony.pipeline.plugin.verdict import Verdict
from charmony.pipeline.system.sources import read_text

# How long one tune may take each renderer, all its steps together (MusicXML and SVG; MIDI and WAV).
# A 100,000-note tune is refused within a minute: its MusicXML alone would take music21 several minutes.
RENDER_SECONDS = 45.0
SOUNDFONTS = (Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), Path("/usr/share/sounds/sf2/default-GM.sf2"))
# A tune that plays longer is not rendered as audio: FluidSynth would play it all before the recording is cut
# to its first three minutes (mastering.LONGEST_SECONDS).
LONGEST_AUDIO_SECONDS = 600
FLUIDSYNTH_RATE = 44100
MUSIC21 = ("music21", "charmony.pipeline.abc.score")  # what the MusicXML job needs, imported once per worker


@dataclass(frozen=True)
class TuneToRender:
    """A tune that passed the check, the file name stem its outputs get, its text and its place in the file."""

    tune: Tune
    stem: str
    text: str = ""
    position: int = 1

    @property
    def label(self) -> str:
        """How messages name the tune: `tune 3 (line 20)`."""
        return f"tune {self.position} (line {self.tune.line})"


def tunes_to_render(path: Path, reports: list[TuneReport] | None = None) -> tuple[list[TuneToRender], list[str]]:
    """The tunes of an ABC file that pass the check, and one line for each other tune saying why it is left out.

    A file of one tune names its outputs after itself; a collection adds each tune's X: number (or its
    position, when the numbers repeat): `reels-3.mid`.
    """
    pieces = split_tunes(read_text(path, follow_links=False))
    if not pieces:
        return [], ["no tunes: the file holds no music, so nothing is rendered"]
    if reports is None or len(reports) != len(pieces):
        reports = [check_tune(parse_tune(piece.text, piece.line)) for piece in pieces]
    numbers = [report.tune.number for report in reports]
    by_number = len(set(numbers)) == len(numbers) and all(numbers)
    chosen, skipped = [], []
    for position, (piece, report) in enumerate(zip(pieces, reports), start=1):
        label = numbers[position - 1] if by_number else position
        stem = path.stem if len(reports) == 1 else f"{path.stem}-{label}"
        if report.valid:
            chosen.append(TuneToRender(report.tune, stem, piece.text, position))
        else:
            first = report.problems[0]
            more = f" (and {len(report.problems) - 1} more problems)" if len(report.problems) > 1 else ""
            skipped.append(f"tune {position} (line {report.tune.line}) is not rendered: "
                           f"line {first.line}:{first.column}: {first.message}{more}")
    return chosen, skipped


class TuneRenderer(OutputPlugin):
    """Base of the ABC renderers: renders each tune of a file that passes the check, and says why it skips the others."""

    extensions = (".abc",)
    modules: tuple[str, ...] = ()  # what the worker imports before the first tune's time starts

    def render(self, path: Path, out_dir: Path) -> Rendered:
        """Render every valid tune of the file at `path` into `out_dir`, each under RENDER_SECONDS."""
        return self.render_checked(path, out_dir, {})

    def render_checked(self, path: Path, out_dir: Path, verdicts: Mapping[str, Verdict]) -> Rendered:
        """Render every valid tune, each under RENDER_SECONDS, reusing the `abc` checker's parse when it ran first."""
        self.ready()
        reports = getattr(verdicts.get("abc"), "parsed", None)
        tunes, skipped = tunes_to_render(path, reports if isinstance(reports, list) else None)
        files = []
        if tunes:
            worker().load(self.modules)
        for item in tunes:
            before = tune_files(out_dir, item.stem)
            try:
                files.extend(self.render_tune(item, out_dir, time.monotonic() + RENDER_SECONDS))
            except RenderTimeout:
                skipped.append(f"{item.label} is not rendered: {self.name} took more than {RENDER_SECONDS:g} s, "
                               "the time limit of a tune, and was stopped")
            except RenderError as error:
                skipped.append(f"{item.label} is not rendered: {error}")
            else:
                continue
            for left in tune_files(out_dir, item.stem) - before:  # a tune not rendered leaves none of its files
                left.unlink(missing_ok=True)
        return Rendered(files, skipped)

    def ready(self) -> None:
        """Raise RenderError when a tool this renderer needs is missing."""

    def render_tune(self, item: TuneToRender, out_dir: Path, deadline: float) -> list[Path]:
        """Write the files of one checked tune, named after `item.stem`, by `deadline` (time.monotonic()); return them."""
        raise NotImplementedError


def tune_files(out_dir: Path, stem: str) -> set[Path]:
    """The files in `out_dir` of the tune named `stem`: STEM.ext, and STEM-N.ext for a score's later pages."""
    if not out_dir.is_dir():
        return set()
    return {path for path in out_dir.iterdir() if path.name.startswith((f"{stem}.", f"{stem}-"))}


def seconds_left(deadline: float) -> float:
    """The time left before `deadline`; RenderTimeout when there is none."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise RenderTimeout("no time is left for this tune")
    return left


def render_midi(item: TuneToRender, target: Path, deadline: float) -> tuple[Path, float]:
    """NAME.mid of a checked tune, written in the worker; the file, and how many seconds the tune plays."""
    result = worker().run(JOBS["midi"], {"text": item.text, "line": item.tune.line, "target": str(target)}, seconds_left(deadline), "midi")
    return target, result["seconds"]


def render_musicxml(item: TuneToRender, target: Path, deadline: float) -> Path:
    """NAME.musicxml of a checked tune, written by music21 in the worker."""
    worker().run(JOBS["musicxml"], {"text": item.text, "line": item.tune.line, "target": str(target)}, seconds_left(deadline), "musicxml")
    return target


def write_midi(tune: Tune, target: Path) -> float:
    """A MIDI file of the tune as played (see midi.py); returns how many seconds it plays."""
    from charmony.pipeline.abc.midi import tune_to_midi

    data, seconds = tune_to_midi(tune)
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)
    return seconds


def write_musicxml(tune: Tune, target: Path) -> Path:
    """A MusicXML score of the tune, repeats written as repeats."""
    from charmony.pipeline.abc.score import tune_to_score

    score = tune_to_score(tune)
    with atomic_path(target) as temporary:
        score.write("musicxml", fp=temporary)
    return target


def _midi_job(text: str, line: int, target: str) -> dict:
    with music21_warnings_logged():
        return {"seconds": write_midi(parse_tune(text, line), Path(target))}


def _musicxml_job(text: str, line: int, target: str) -> dict:
    with music21_warnings_logged():
        write_musicxml(parse_tune(text, line), Path(target))
    return {}


def _synth_job(midi: str, target: str) -> dict:
    from charmony.pipeline.audio.synth import midi_to_audio

    midi_to_audio(Path(midi), Path(target))
    return {}


def _finish_job(recording: str, target: str, music_seconds: float, tail: float) -> dict:
    finish_fluidsynth(Path(recording), Path(target), music_seconds, tail)
    return {}


# What the worker runs, by name: the functions above, as "module:function".
JOBS = {name: f"{__name__}:{job.__name__}" for name, job in
        {"midi": _midi_job, "musicxml": _musicxml_job, "synth": _synth_job, "finish": _finish_job}.items()}


def write_svg(musicxml: Path, target: Path, seconds: float = RENDER_SECONDS) -> list[Path]:
    """SVG pages of a MusicXML score drawn by verovio, in a child process so that a crash cannot take charmony down."""
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "charmony.pipeline.abc.svg", str(musicxml), str(target)],
            capture_output=True, text=True, timeout=seconds,
        )
    except subprocess.TimeoutExpired:
        raise RenderTimeout(f"verovio took more than {seconds:.0f} s to draw {musicxml.name}; no SVG written") from None
    if finished.returncode != 0:
        last = (finished.stderr.strip().splitlines() or [f"exit status {finished.returncode}"])[-1]
        raise RenderError(f"verovio could not draw {musicxml.name}: {last}")
    pages = [Path(line) for line in finished.stdout.split("\n") if line.strip()]
    if not pages:
        raise RenderError(f"verovio could not draw {musicxml.name}: it made no page")
    return pages


def soundfont() -> Path | None:
    """The General MIDI SoundFont FluidSynth plays with, if one is installed."""
    return next((path for path in SOUNDFONTS if path.exists()), None)


def check_fluidsynth() -> Path:
    """The SoundFont to play with; RenderError saying what to install when FluidSynth or a SoundFont is missing."""
    font = soundfont()
    if shutil.which("fluidsynth") is None or font is None:
        raise RenderError("audio needs FluidSynth and a General MIDI SoundFont: install Debian's fluidsynth and fluid-soundfont-gm")
    return font


def synthesize_audio(midi: Path, target: Path, deadline: float) -> Path:
    """An audio file (see mastering.py) of a MIDI file played by charmony's built-in synthesizer, in the worker."""
    worker().run(JOBS["synth"], {"midi": str(midi), "target": str(target)}, seconds_left(deadline), "synth")
    return target


def fluidsynth_audio(midi: Path, music_seconds: float, tail: float, target: Path, deadline: float) -> Path:
    """An audio file (see mastering.py) of a MIDI file played by FluidSynth, ending `tail` seconds after the music.

    FluidSynth records into a scratch WAV file beside the MIDI file; the worker finishes it into `target`.
    """
    recording = midi.with_name(f"{midi.stem}-fluidsynth.wav")
    write_wav(midi, recording, seconds_left(deadline))
    worker().run(JOBS["finish"], {"recording": str(recording), "target": str(target), "music_seconds": music_seconds,
                                  "tail": tail}, seconds_left(deadline), "finishing the recording")
    return target


def finish_fluidsynth(recording: Path, target: Path, music_seconds: float, tail: float) -> Path:
    """Finish FluidSynth's recording of a tune (see mastering.py); RenderError where it holds less than the music.

    FluidSynth plays on for seconds after the last note while its voices die away: a recording shorter
    than the music was cut off, by a full disk.
    """
    from charmony.pipeline.audio.mastering import LONGEST_SECONDS, finish_recording
    from charmony.pipeline.audio.ogg import read_audio

    needed = min(music_seconds, LONGEST_SECONDS)
    # A second more than is kept, so that the fades find the recording longer than where they cut it.
    samples, rate = read_audio(recording, longest_seconds=min(music_seconds + tail, LONGEST_SECONDS) + 1)
    if len(samples) / rate < needed:
        raise RenderError(f"FluidSynth wrote only {len(samples) / rate:.1f} s of the {music_seconds:.1f} s tune; is the disk full?")
    return finish_recording(samples, rate, target, music_seconds, tail)


def write_wav(midi: Path, target: Path, seconds: float = RENDER_SECONDS) -> Path:
    """A 32-bit float WAV file of a MIDI file played by FluidSynth with a General MIDI SoundFont.

    Floats keep the quiet General MIDI mix whole until it is normalised, and never clip. FluidSynth
    reports a failed write (a full disk) on stderr yet exits 0, leaving the file cut short: that is an
    error here too.
    """
    font = check_fluidsynth()
    with atomic_path(target) as temporary:
        try:
            finished = subprocess.run(
                ["fluidsynth", "-ni", "-q", "-F", str(temporary), "-T", "wav", "-O", "float", "-r", str(FLUIDSYNTH_RATE),
                 str(font), str(midi)],
                capture_output=True, text=True, timeout=seconds,
                restore_signals=False,  # keep SIGXFSZ ignored: a file-size limit then fails a write, as a full disk does
            )
        except subprocess.TimeoutExpired:
            raise RenderTimeout(f"FluidSynth took more than {seconds:.0f} s on {midi.name}") from None
        failed_write = next((line for line in finished.stderr.splitlines() if "write error" in line.lower()), None)
        if failed_write is not None:
            raise RenderError(f"FluidSynth could not write {target.name} ({failed_write.strip()}); is the disk full?")
        if finished.returncode != 0 or temporary.stat().st_size == 0:
            last = (finished.stderr.strip().splitlines() or [f"exit status {finished.returncode}"])[-1]
            raise RenderError(f"FluidSynth could not play {midi.name}: {last}")
    return target
