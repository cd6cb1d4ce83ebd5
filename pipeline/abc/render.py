"""Rendering checked ABC tunes: MIDI (repeats played), MusicXML, SVG through verovio in a child process, WAV."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from charmony.pipeline.abc.check import TuneReport, check_tunes
from charmony.pipeline.abc.tune import Tune
from charmony.pipeline.atomic import atomic_path
from charmony.pipeline.errors import CharmonyError
from charmony.pipeline.output import OutputPlugin, Rendered, Verdict
from charmony.pipeline.sources import read_text

DEFAULT_QUARTERS_PER_MINUTE = 120  # as abc2midi plays a tune without Q:
SVG_SECONDS = 60
SOUNDFONTS = (Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), Path("/usr/share/sounds/sf2/default-GM.sf2"))
AUDIO_SECONDS = 300


def _readable(path: Path) -> None:
    """Give a finished output the permissions of a file the user wrote (the temporary file is private)."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o666 & ~umask)


class RenderError(CharmonyError):
    """A tool needed for rendering is missing or failed."""


@dataclass(frozen=True)
class TuneToRender:
    """A tune that passed the check, and the file name stem its outputs get."""

    tune: Tune
    stem: str


def tunes_to_render(path: Path, reports: list[TuneReport] | None = None) -> tuple[list[TuneToRender], list[str]]:
    """The tunes of an ABC file that pass the check, and one line for each other tune saying why it is left out.

    A file of one tune names its outputs after itself; a collection adds each tune's X: number (or its
    position, when the numbers repeat): `reels-3.mid`.
    """
    reports = check_tunes(read_text(path)) if reports is None else reports
    if not reports:
        return [], ["no tunes: the file holds no music, so nothing is rendered"]
    numbers = [report.tune.number for report in reports]
    by_number = len(set(numbers)) == len(numbers) and all(numbers)
    chosen, skipped = [], []
    for position, report in enumerate(reports, start=1):
        label = numbers[position - 1] if by_number else position
        stem = path.stem if len(reports) == 1 else f"{path.stem}-{label}"
        if report.valid:
            chosen.append(TuneToRender(report.tune, stem))
        else:
            first = report.problems[0]
            more = f" (and {len(report.problems) - 1} more problems)" if len(report.problems) > 1 else ""
            skipped.append(f"tune {position} (line {report.tune.line}) is not rendered: "
                           f"line {first.line}:{first.column}: {first.message}{more}")
    return chosen, skipped


class TuneRenderer(OutputPlugin):
    """Base of the ABC renderers: renders each tune of a file that passes the check, and says why it skips the others."""

    extensions = (".abc",)

    def render(self, path: Path, out_dir: Path) -> Rendered:
        """Render every valid tune of the file at `path` into `out_dir`."""
        return self.render_checked(path, out_dir, {})

    def render_checked(self, path: Path, out_dir: Path, verdicts: Mapping[str, Verdict]) -> Rendered:
        """Render every valid tune, reusing the `abc` checker's parse of this file when it ran first."""
        reports = getattr(verdicts.get("abc"), "parsed", None)
        tunes, skipped = tunes_to_render(path, reports if isinstance(reports, list) else None)
        return Rendered([written for item in tunes for written in self.render_tune(item, out_dir)], skipped)

    def render_tune(self, item: TuneToRender, out_dir: Path) -> list[Path]:
        """Write the files of one checked tune, named after `item.stem`; return them."""
        raise NotImplementedError


def write_midi(tune: Tune, target: Path) -> Path:
    """A MIDI file of the tune as played: one track per voice, repeats and endings unrolled, tied notes joined."""
    from music21 import stream, tempo

    from charmony.pipeline.abc.score import tune_to_score

    score = tune_to_score(tune, expand_repeats=True)
    for grace in [n for n in score.recurse().notes if n.duration.isGrace]:
        grace.activeSite.remove(grace)
    first = score.parts[0].getElementsByClass(stream.Measure).first()
    if not score.recurse().getElementsByClass(tempo.MetronomeMark):
        first.insert(0, tempo.MetronomeMark(number=DEFAULT_QUARTERS_PER_MINUTE))
    with atomic_path(target) as temporary:
        score.write("midi", fp=temporary)
        _readable(temporary)
    return target


def write_musicxml(tune: Tune, target: Path) -> Path:
    """A MusicXML score of the tune, repeats written as repeats."""
    from charmony.pipeline.abc.score import tune_to_score

    score = tune_to_score(tune)
    with atomic_path(target) as temporary:
        score.write("musicxml", fp=temporary)
        _readable(temporary)
    return target


def write_svg(musicxml: Path, target: Path) -> list[Path]:
    """SVG pages of a MusicXML score drawn by verovio, in a child process so that a crash cannot take charmony down."""
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "charmony.pipeline.abc.svg", str(musicxml), str(target)],
            capture_output=True, text=True, timeout=SVG_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise RenderError(f"verovio took more than {SVG_SECONDS} s to draw {musicxml.name}; no SVG written") from None
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


def write_wav(midi: Path, target: Path) -> Path:
    """A WAV file of a MIDI file played by FluidSynth with a General MIDI SoundFont."""
    font = soundfont()
    if shutil.which("fluidsynth") is None or font is None:
        raise RenderError("audio needs FluidSynth and a General MIDI SoundFont: install Debian's fluidsynth and fluid-soundfont-gm")
    with atomic_path(target) as temporary:
        try:
            finished = subprocess.run(
                ["fluidsynth", "-ni", "-q", "-F", str(temporary), "-T", "wav", "-r", "44100", str(font), str(midi)],
                capture_output=True, text=True, timeout=AUDIO_SECONDS,
            )
        except subprocess.TimeoutExpired:
            raise RenderError(f"FluidSynth took more than {AUDIO_SECONDS} s on {midi.name}") from None
        if finished.returncode != 0 or temporary.stat().st_size == 0:
            last = (finished.stderr.strip().splitlines() or [f"exit status {finished.returncode}"])[-1]
            raise RenderError(f"FluidSynth could not play {midi.name}: {last}")
        _readable(temporary)
    return target
