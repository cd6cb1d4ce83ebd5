"""The midi, score and audio output plugins, and `charmony check` and `charmony render` on ABC files."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from music21 import converter, midi, stream

from charmony.pipeline.abc import render
from charmony.pipeline.abc.midi import DEFAULT_QUARTERS_PER_MINUTE
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.audio import ogg
from charmony.pipeline.abc.theory import OCTAVE_CLEFS, clef_octave, clef_properties
from charmony.pipeline.plugin.manager import get_outputs
from charmony.pipeline.sampling.sample import Sample
from charmony.pipeline.sampling.folder import write_samples

REEL = """X:1
T:Reel with repeats
M:4/4
L:1/8
Q:1/4=150
K:D
A|:d2fd c2ec|1 d2fd cAGE:|2 d8-|d4 z4|]
"""
CHORALE = """X:2
T:Two voices
M:3/4
L:1/4
V:1 name="Soprano"
V:2 clef=bass name="Bass"
K:F
V:1
A B c|[FA]3-|[FA] G2|]
V:2
F, G, A,|D,3|C,3|]
"""
BAD = """X:3
T:Bad
M:4/4
L:1/8
K:C
CDEF GABc d|c8|]
"""


def read_midi(path: Path) -> midi.MidiFile:
    """A MIDI file read with music21's low-level MIDI reader: tracks of events, as written."""
    file = midi.MidiFile()
    file.open(str(path))
    file.read()
    file.close()
    return file


def midi_notes(path: Path) -> list[list[tuple[float, int, float]]]:
    """Per track holding notes: (start, key, length) of each note, in quarter notes, read from the MIDI events."""
    file = read_midi(path)
    tracks = []
    for track in file.tracks:
        time, sounding, notes = 0, {}, []
        for event in track.events:
            time += event.time if event.isDeltaTime() else 0
            if event.type == midi.ChannelVoiceMessages.NOTE_ON and event.velocity > 0:
                sounding[event.pitch] = time
            elif event.type in (midi.ChannelVoiceMessages.NOTE_OFF, midi.ChannelVoiceMessages.NOTE_ON):
                start = sounding.pop(event.pitch)
                notes.append((start / file.ticksPerQuarterNote, event.pitch, (time - start) / file.ticksPerQuarterNote))
        if notes:
            tracks.append(sorted(notes))
    return tracks


def notes_of(score: stream.Score, part: int) -> list[tuple[float, str, float]]:
    """(offset, pitches, length) of every note or chord of a part, in order."""
    found = []
    for element in score.parts[part].flatten().notes:
        names = "+".join(sorted(p.nameWithOctave for p in element.pitches))
        found.append((float(element.offset), names, float(element.quarterLength)))
    return found


def test_midi_plays_repeats_endings_and_ties_as_one_note(tmp_path):
    source = tmp_path / "reel.abc"
    source.write_text(REEL)
    result = get_outputs(["midi"])[0].render(source, tmp_path)
    assert result.files == [tmp_path / "reel.mid"] and result.skipped == []
    expected = [(0.0, 69, 0.5)]  # A4
    bars = [[74, 1.0, 78, 0.5, 74, 0.5, 73, 1.0, 76, 0.5, 73, 0.5], [74, 1.0, 78, 0.5, 74, 0.5, 73, 0.5, 69, 0.5, 67, 0.5, 64, 0.5]]
    offset = 0.5
    for bar in (bars[0], bars[1], bars[0]):  # the first ending, then back to |: and on to the second ending
        for key, length in zip(bar[::2], bar[1::2]):
            expected.append((offset, key, length))
            offset += length
    expected.append((offset, 74, 6.0))  # d8-|d4 sounds as one note
    assert midi_notes(result.files[0]) == [expected]
    assert converter.parse(result.files[0]).metronomeMarkBoundaries()[0][2].getQuarterBPM() == 150


def test_midi_has_a_track_per_voice_and_a_default_tempo(tmp_path):
    source = tmp_path / "chorale.abc"
    source.write_text(CHORALE)
    result = get_outputs(["midi"])[0].render(source, tmp_path)
    soprano, bass = midi_notes(result.files[0])
    assert soprano == [(0.0, 69, 1.0), (1.0, 70, 1.0), (2.0, 72, 1.0), (3.0, 65, 4.0), (3.0, 69, 4.0), (7.0, 67, 2.0)]
    assert [n[1] for n in bass] == [53, 55, 57, 50, 48]
    played = converter.parse(result.files[0])
    assert played.metronomeMarkBoundaries()[0][2].getQuarterBPM() == DEFAULT_QUARTERS_PER_MINUTE


def test_score_writes_musicxml_and_svg_of_each_valid_tune_and_says_why_it_skips_the_others(tmp_path):
    source = tmp_path / "book.abc"
    source.write_text(REEL + "\n" + CHORALE + "\n" + BAD)
    result = get_outputs(["score"])[0].render(source, tmp_path / "out")
    names = [path.name for path in result.files]
    assert names == ["book-1.musicxml", "book-1.svg", "book-2.musicxml", "book-2.svg"]
    assert len(result.skipped) == 1 and result.skipped[0].startswith("tune 3 (line 21) is not rendered: line 26:1: voice 1, bar 1 lasts 9/8")
    chorale = converter.parse(tmp_path / "out" / "book-2.musicxml")
    assert [p.partName for p in chorale.parts] == ["Soprano", "Bass"]
    assert [n[1] for n in notes_of(chorale, 1)] == ["F3", "G3", "A3", "D3", "C3"]
    svg = (tmp_path / "out" / "book-2.svg").read_text()
    assert svg.lstrip().startswith("<svg")
    assert len(re.findall(r'class="note[ "]', svg)) == 8 + 5  # every note drawn, chords note by note


@pytest.mark.skipif(shutil.which("fluidsynth") is None or render.soundfont() is None,
                    reason="FluidSynth and a General MIDI SoundFont (Debian fluidsynth, fluid-soundfont-gm) are not installed")
def test_audio_writes_an_ogg_vorbis_file(tmp_path):
    source = tmp_path / "chorale.abc"
    source.write_text(CHORALE)
    result = get_outputs(["audio"])[0].render(source, tmp_path)
    data = result.files[0].read_bytes()
    assert result.files[0].name == "chorale.ogg" and data[:4] == b"OggS" and b"\x01vorbis" in data[:64]
    samples, rate = ogg.read_audio(result.files[0])
    assert len(samples) / rate == pytest.approx(4.5 + 0.3, abs=0.05)  # 9 quarters at 120 a minute, and FluidSynth's tail


@pytest.mark.skipif(not ogg.available(), reason="libsndfile (Debian libsndfile1) is not installed: audio is WAV")
def test_audio_without_fluidsynth_is_played_by_the_built_in_synthesizer(tmp_path, monkeypatch, invoke):
    from charmony.pipeline.audio import synth

    monkeypatch.setattr(render, "SOUNDFONTS", (tmp_path / "missing.sf2",))
    source = tmp_path / "chorale.abc"
    source.write_text(CHORALE)
    result = invoke("render", source, "--to", "audio")
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert f"audio: synthesizer: {synth.NAME}" in result.output
    samples, rate = ogg.read_audio(tmp_path / "chorale.ogg")
    assert rate == synth.RATE and samples.shape[1] == 1  # mono, at the synthesizer's rate
    assert len(samples) / rate == pytest.approx(4.5 + synth.RELEASE, abs=0.01)  # 9 quarters at 120 a minute


def test_check_prints_each_problem_with_file_line_and_column(tmp_path, invoke):
    good, bad = tmp_path / "good.abc", tmp_path / "bad.abc"
    good.write_text(REEL + "\n" + CHORALE)
    bad.write_text(CHORALE + "\n" + BAD)
    assert invoke("check", good).exit_code == 0 and invoke("check", good).output == ""
    result = invoke("check", good, bad)
    assert result.exit_code == 1
    assert result.output == f"{bad}:18:1: voice 1, bar 1 lasts 9/8 but M:4/4 needs 4/4\n"


@pytest.mark.parametrize("text, message", [
    ("T:Nothing\nK:C\nCDEF|\n", ":1:1: no X: field"),
    ("X:1\nT:Keyless\nM:4/4\nCDEF GABc|\n", ":4:1: music before the K: field"),
    ("X:1\nM:4/4\nL:1/8\nK:C\nCDEF @GABc|\n", ":5:6: reserved character '@'"),
    ("X:1\nM:4/4\nL:1/8\nK:C\n[CEG2 c6|\n", ":5:1: unclosed chord"),
    ("X:1\nM:4/4\nL:1/8\nK:C\nCDEF GABc|CDEF GABcd|c8|]\n", ":5:11: voice 1, bar 2 lasts 9/8"),
    ("", ":1:1: no tunes"),
    ("% an empty collection\n\n", ":1:1: no tunes"),
])
def test_bad_input_gets_one_line_and_a_failing_exit(tmp_path, invoke, text, message):
    path = tmp_path / "tune.abc"
    path.write_text(text)
    result = invoke("check", path)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and result.output.startswith(f"{path}{message}"), result.output
    rendered = invoke("render", path, "--to", "midi", "--out", tmp_path / "out")
    assert rendered.exit_code == 1 and "Traceback" not in rendered.output
    assert rendered.output.count("\n") == 1 and "not rendered" in rendered.output or "no tunes" in rendered.output
    assert not list((tmp_path / "out").glob("*.mid"))


def test_render_goes_on_with_the_other_tunes_of_a_collection(tmp_path, invoke):
    path = tmp_path / "book.abc"
    path.write_text("X:1\nT:No key\nCDEF|\n\n" + REEL + "\n" + BAD + "\n" + CHORALE.replace("X:2", "X:4"))
    result = invoke("render", path, "--to", "abc,midi", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["book-2.mid", "book-4.mid"]  # X:1 twice: tunes are named by position
    assert f"{path}: midi: tune 1 (line 1) is not rendered" in result.output
    assert f"{path}: midi: tune 3 (line 13) is not rendered" in result.output
    assert "abc: 2/4 tunes valid" in result.output


def test_sampled_tunes_are_checked_rendered_and_summarised(tmp_path):
    samples = [Sample(REEL, True), Sample(BAD, True), Sample(CHORALE, False)]
    report = write_samples(samples, {"run": "test"}, tmp_path, ".abc", ["abc", "midi", "score"])
    assert report["summary"]["abc"] == {"valid": 2, "checked": 3, "errors": 0, "skipped": 0, "unit": "tunes", "line": "2/3 tunes valid"}
    assert report["summary"]["midi"]["skipped"] == 1
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["sample_001.abc", "sample_001.mid", "sample_001.musicxml", "sample_001.svg", "sample_002.abc",
                       "sample_003.abc", "sample_003.mid", "sample_003.musicxml", "sample_003.svg", "samples.json"]
    saved = json.loads((tmp_path / "samples.json").read_text())
    second = saved["samples"][1]["outputs"]
    assert second["abc"]["verdict"]["valid"] is False and "not rendered" in second["midi"]["skipped"][0]
    from charmony.pipeline.outputs.runner import summary_line
    assert summary_line("abc", report["summary"]["abc"]) == "abc: 2/3 tunes valid"
    assert summary_line("midi", report["summary"]["midi"]) == "midi: 1 skipped"


def test_a_score_verovio_cannot_draw_is_an_error_in_its_child_process_not_a_crash(tmp_path):
    broken = tmp_path / "broken.musicxml"
    broken.write_text("<score-partwise><part-list>")
    with pytest.raises(render.RenderError, match="verovio could not"):
        render.write_svg(broken, tmp_path / "broken.svg")
    assert not Path(tmp_path / "broken.svg").exists()


def track_names(path: Path) -> list[str]:
    """The name (sequence/track name event) of each track that holds notes, read from the MIDI file."""
    names = []
    for track in read_midi(path).tracks:
        if any(event.type == midi.ChannelVoiceMessages.NOTE_ON for event in track.events):
            named = [e.data for e in track.events if e.type == midi.MetaEvents.SEQUENCE_TRACK_NAME]
            names.append(named[0].decode("utf-8") if named else None)
    return names


def test_midi_tracks_carry_the_voice_names(tmp_path):
    source = tmp_path / "chorale.abc"
    source.write_text(CHORALE + "\n" + CHORALE.replace("X:2", "X:3").replace(' name="Soprano"', "").replace(' name="Bass"', ""))
    result = get_outputs(["midi"])[0].render(source, tmp_path)
    assert track_names(result.files[0]) == ["Soprano", "Bass"]
    assert track_names(result.files[1]) == ["1", "2"]  # voices without a name are named by their id
    assert [p.partName for p in converter.parse(result.files[0]).parts] == ["Soprano", "Bass"]


def test_a_tune_the_checker_passes_renders(tmp_path):
    source = tmp_path / "pickup.abc"
    source.write_text("X:1\nM:4/4\nL:1/8\nQ:1/4=120\nK:C\nD|]")  # a pickup-only tune with a tempo
    for name in ("midi", "score"):
        result = get_outputs([name])[0].render(source, tmp_path)
        assert result.skipped == [] and result.files and all(path.stat().st_size > 0 for path in result.files)
    assert midi_notes(tmp_path / "pickup.mid") == [[(0.0, 62, 0.5)]]


def many_notes(count: int) -> str:
    """A tune of `count` eighth notes, slow for music21 to write as MusicXML (about 20 s for 24,000 here)."""
    return "X:9\nT:Long\nM:4/4\nL:1/8\nK:C\n" + "\n".join("CDEF GABc|" * 4 for _ in range(count // 32)) + "\n"


def test_a_tune_that_runs_out_of_time_gives_one_line_and_the_others_render(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "RENDER_SECONDS", 4.0)
    source = tmp_path / "book.abc"
    source.write_text(REEL + "\n" + many_notes(24000) + "\n" + CHORALE)  # about 20 s to write here
    result = get_outputs(["score"])[0].render(source, tmp_path)
    assert [path.name for path in result.files] == ["book-1.musicxml", "book-1.svg", "book-2.musicxml", "book-2.svg"]
    assert len(result.skipped) == 1 and result.skipped[0].startswith("tune 2 (line 9) is not rendered: ")
    assert "score took more than 4 s, the time limit of a tune" in result.skipped[0] and "\n" not in result.skipped[0]
    assert not (tmp_path / "book-9.musicxml").exists()


def test_a_renderer_that_dies_costs_only_its_tune(tmp_path):
    import threading

    from charmony.pipeline.abc.worker import worker

    source = tmp_path / "book.abc"
    source.write_text(many_notes(24000) + "\n" + REEL.replace("X:1", "X:2"))  # still writing tune 1 when killed
    worker().load(render.MUSIC21)
    threading.Timer(1.0, worker().process.kill).start()  # as a crash in music21 or a C library would
    result = get_outputs(["score"])[0].render(source, tmp_path)
    assert [path.name for path in result.files] == ["book-2.musicxml", "book-2.svg"]
    assert len(result.skipped) == 1 and "tune 1 (line 1) is not rendered: the renderer stopped" in result.skipped[0]


# ----- octave clefs: a tenor written with `clef=treble-8` plays at its pitch in every tool

OCTAVE_CLEF_CHORALE = "bach/bwv145-a"  # one of the chorales in music21's corpus whose tenor has the clef treble-8
VEROVIO_MIDI = ("import base64, sys, verovio; verovio.enableLog(verovio.LOG_OFF); toolkit = verovio.toolkit(); "
                "toolkit.loadFile(sys.argv[1]) or sys.exit('verovio could not load the score'); "
                "open(sys.argv[2], 'wb').write(base64.b64decode(toolkit.renderToMIDI()))")


def onsets(tracks: list[list[tuple[float, int, float]]]) -> list[list[tuple[float, int]]]:
    """(start, key) of each note per track, starts rounded to a 96th of a quarter (abc2midi starts a tick late)."""
    return [[(round(start * 96) / 96, key) for start, key, _ in track] for track in tracks]


def score_onsets(score: stream.Score) -> list[list[tuple[float, int]]]:
    """(offset, MIDI key) of each note per part of a music21 score, tied notes as one."""
    return [[(float(n.offset), p.midi) for n in part.stripTies().flatten().notes for p in n.pitches] for part in score.parts]


def sounding_at(track: list[tuple[float, int, float]], beat: float) -> int | None:
    """The lowest key of a track sounding at `beat` (quarter notes), None in a rest."""
    keys = [key for start, key, length in track if start <= beat < start + length]
    return min(keys, default=None)


@pytest.fixture(scope="module")
def octave_clef_chorale(tmp_path_factory):
    """A real chorale whose tenor is in an octave clef: music21's score and the ABC charmony writes of it."""
    from music21 import corpus

    from charmony.corpora.chorales import COMPOSER, ORIGINAL, write_variant

    source = corpus.parse(OCTAVE_CLEF_CHORALE)
    folder = tmp_path_factory.mktemp("octave-clef")
    path = folder / "chorale.abc"
    path.write_text(write_variant(source, ORIGINAL, "BWV 145-a", COMPOSER))
    return source, path


def test_a_tenor_in_an_octave_clef_is_written_with_octave_and_middle(octave_clef_chorale):
    source, path = octave_clef_chorale
    assert [type(p.getElementsByClass(stream.Measure).first().clef).__name__ for p in source.parts][2] == "Treble8vbClef"
    voices = [line for line in path.read_text().splitlines() if line.startswith("V:")]
    assert voices[2] == 'V:3 name="Tenor" clef=treble-8 octave=-1 middle=B,' and voices[3].endswith("clef=bass")
    first_tenor_bar = next(line for line in path.read_text().splitlines() if line.startswith("[V:3]"))
    assert first_tenor_bar.startswith("[V:3] A A- ")  # A3 written `A`: an octave above its pitch, as octave=-1 says


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi (Debian package abcmidi) is not installed")
def test_every_voice_of_an_octave_clef_chorale_plays_its_written_pitches_in_every_tool(octave_clef_chorale, tmp_path):
    """abc2midi, charmony's MIDI, music21 reading our MusicXML and verovio playing it all play music21's notes."""
    source, path = octave_clef_chorale
    written = score_onsets(source)
    subprocess.run(["abc2midi", path.name, "-o", str(tmp_path / "abc2midi.mid"), "-NFER"], cwd=path.parent,
                   capture_output=True, timeout=60, check=True)
    text = path.read_text()
    render.write_midi(parse_tune(text), tmp_path / "charmony.mid")
    render.write_musicxml(parse_tune(text), tmp_path / "score.musicxml")
    subprocess.run([sys.executable, "-c", VEROVIO_MIDI, str(tmp_path / "score.musicxml"), str(tmp_path / "verovio.mid")],
                   capture_output=True, timeout=120, check=True)
    played = {name: onsets(midi_notes(tmp_path / f"{name}.mid")) for name in ("abc2midi", "charmony", "verovio")}
    played["musicxml"] = score_onsets(converter.parse(tmp_path / "score.musicxml"))
    assert len(written) == 4 and min(key for _, key in written[2]) < 60  # the tenor sounds below middle C
    for name, tracks in played.items():
        assert tracks == written, name
    tracks = midi_notes(tmp_path / "abc2midi.mid")
    end = max(start + length for start, _, length in tracks[3])
    for beat in range(int(end)):
        tenor, bass = sounding_at(tracks[2], beat), sounding_at(tracks[3], beat)
        assert tenor is None or bass is None or tenor >= bass, f"beat {beat}: tenor {tenor} below bass {bass}"


@pytest.mark.skipif(shutil.which("abcm2ps") is None, reason="abcm2ps is not installed (apt-get install abcm2ps)")
@pytest.mark.parametrize("name", sorted(OCTAVE_CLEFS))
def test_abcm2ps_draws_a_voice_in_an_octave_clef_where_its_clef_puts_its_pitches(name, tmp_path):
    """`A c d e` in the writer's form of treble-8 (A3 C4 D4 E4, as octave=-1 says) sit where `A c d e` sit under a
    plain treble clef, so that the clef's 8 reads them at their pitch; the same for every octave clef."""
    def heads(voice: str) -> list[float]:
        (tmp_path / "tune.abc").write_text(f"X:1\nT:t\nM:4/4\nL:1/4\nV:1 {voice}\nK:C\n[V:1] A c d e |]\n")
        subprocess.run(["abcm2ps", "-g", "-O", "tune.svg", "tune.abc"], cwd=tmp_path, capture_output=True, timeout=60, check=True)
        return [float(y) for y in re.findall(r'y="([\d.]+)" xlink:href="#hd"', (tmp_path / "tune001.svg").read_text())]

    plain = heads(f"clef={name[:-2]}")
    assert len(plain) == 4 and heads(clef_properties(name)) == plain
    if name == "treble-8":  # with octave=-1 alone, abcm2ps draws the tenor an octave low: middle= is needed
        assert heads(f"clef={name} octave={clef_octave(name)}") != plain


def test_the_worker_reads_relative_paths_from_the_folder_of_its_parent(tmp_path, monkeypatch):
    from charmony.pipeline.abc.worker import worker

    worker().load(())  # started here, in whatever folder the tests run from
    monkeypatch.chdir(tmp_path)
    assert worker().run("os.path:abspath", {"path": "tunes.abc"}, 30, "a test job") == str(tmp_path / "tunes.abc")
