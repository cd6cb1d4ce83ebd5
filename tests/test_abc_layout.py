"""Layouts of tunes of several voices: `bars` (the voices take turns bar by bar) and `blocks` (the writer's lines of
four bars) are the same music in every tool, and each is rewritten into the other exactly."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from charmony.pipeline.abc import render
from charmony.pipeline.abc.features import tune_features
from charmony.pipeline.abc.layout import layout_lines, relayout, split_voices, write_layout
from charmony.pipeline.abc.parser import parse_tune

from test_abc_render import VEROVIO_MIDI, midi_notes

HEADER = 'X:1\nT:Test\nM:4/4\nL:1/4\nV:1 name="Soprano" clef=treble\nV:2 name="Bass" clef=bass\nK:C\n'
SOPRANO = ["G |", "c d e f |", "g2 e2 |", "d c B c |", "d4- |", "d2 c2 |", "e d c B |", "c3 |]"]
BASS = ["G,, |", "C, D, E, F, |", "G,2 C,2 |", "G,, A,, B,, C, |", "G,,4- |", "G,,2 C,2 |", "C, G,, A,, G,, |", "C,3 |]"]
# As the writer lays it out: the pickup joins the first line of four bars.
BLOCKS = HEADER + (f"[V:1] {' '.join(SOPRANO[:5])}\n[V:2] {' '.join(BASS[:5])}\n"
                   f"[V:1] {' '.join(SOPRANO[5:])}\n[V:2] {' '.join(BASS[5:])}\n")
BARS = HEADER + "".join(f"[V:1] {soprano}\n[V:2] {bass}\n" for soprano, bass in zip(SOPRANO, BASS))
CHORALES = ("bach/bwv104.6", "bach/bwv1.6", "bach/bwv26.6")  # a pickup and a repeat; ties across bars and lines; 3/4


@pytest.fixture(scope="module")
def chorales() -> list[str]:
    """Chorales from music21's corpus as the writer writes them (blocks)."""
    from music21 import corpus

    from charmony.corpora.chorales import ORIGINAL, write_variant

    return [write_variant(corpus.parse(name), ORIGINAL, name) for name in CHORALES]


def test_in_bars_each_voice_writes_one_bar_a_line_in_turn():
    assert relayout(BLOCKS, "bars") == BARS
    assert BARS.splitlines()[7:11] == ["[V:1] G |", "[V:2] G,, |", "[V:1] c d e f |", "[V:2] C, D, E, F, |"]


def test_a_tune_in_bars_rewritten_is_the_tune_the_writer_lays_out_in_blocks(chorales):
    assert relayout(BARS, "blocks") == BLOCKS
    for text in chorales:
        bars = relayout(text, "bars")
        assert bars != text and len(bars.splitlines()) > len(text.splitlines()) + 20
        assert relayout(bars, "blocks") == text
        assert relayout(text, "blocks") == text and relayout(bars, "bars") == bars


def test_without_a_pickup_the_first_line_holds_four_bars():
    tune = split_voices(HEADER + "".join(f"[V:1] {s}\n[V:2] {b}\n" for s, b in zip(SOPRANO[1:], BASS[1:])))
    assert tune is not None and not tune.pickup
    assert layout_lines(tune, "blocks") == [
        f"[V:1] {' '.join(SOPRANO[1:5])}", f"[V:2] {' '.join(BASS[1:5])}",
        f"[V:1] {' '.join(SOPRANO[5:])}", f"[V:2] {' '.join(BASS[5:])}",
    ]


def test_split_voices_gives_each_voice_its_bars_with_their_barlines():
    tune = split_voices(BARS)
    assert tune is not None and tune.pickup
    assert tune.voices == {"1": SOPRANO, "2": BASS}
    assert tune.header == HEADER.splitlines()
    assert write_layout(tune, "blocks") == BLOCKS


def test_a_line_opened_by_a_repeat_sign_keeps_it_on_its_first_bar():
    text = HEADER + "[V:1] |: c4 | d4 :|\n[V:2] |: C,4 | D,4 :|\n"
    assert split_voices(text).voices == {"1": ["|: c4 |", "d4 :|"], "2": ["|: C,4 |", "D,4 :|"]}
    assert relayout(relayout(text, "bars"), "blocks") == text


def test_an_unfinished_sample_keeps_every_note_it_wrote():
    cut = HEADER + "[V:1] c d e f |\n[V:2] C, D, E, F, |\n[V:1] g2 e2 |\n[V:2] G,2 C,"
    assert relayout(cut, "blocks") == HEADER + "[V:1] c d e f | g2 e2 |\n[V:2] C, D, E, F, | G,2 C,\n"


def test_text_that_is_not_all_voice_lines_is_left_as_it_is():
    one_voice = "X:1\nM:4/4\nL:1/4\nK:C\nc d e f | g4 |]\n"
    assert split_voices(one_voice) is None and relayout(one_voice, "blocks") == one_voice
    assert relayout("no tune at all", "bars") == "no tune at all"


def test_both_layouts_read_as_the_same_music_to_charmony(chorales):
    for text in chorales:
        blocks, bars = parse_tune(text), parse_tune(relayout(text, "bars"))
        assert not bars.problems
        assert [len(v.bars) for v in bars.voices.values()] == [len(v.bars) for v in blocks.voices.values()]
        assert tune_features(bars) == tune_features(blocks)


@pytest.mark.skipif(shutil.which("abc2midi") is None or shutil.which("abcm2ps") is None,
                    reason="abc2midi and abcm2ps (Debian packages abcmidi, abcm2ps) are not installed")
def test_abc2midi_abcm2ps_and_verovio_read_both_layouts_as_the_same_notes(chorales, tmp_path):
    """abc2midi plays the same notes per voice (ties across a voice's lines included), abcm2ps draws the same note
    heads (with no complaint the usual layout does not draw too), and verovio plays the same notes from the MusicXML charmony writes of each."""
    for number, text in enumerate(chorales):
        played, heads, complaints = {}, {}, {}
        for layout in ("blocks", "bars"):
            folder = tmp_path / f"{number}-{layout}"
            folder.mkdir()
            (folder / "tune.abc").write_text(relayout(text, layout))
            midi = subprocess.run(["abc2midi", "tune.abc", "-o", "abc2midi.mid", "-NFER"], cwd=folder,
                                  capture_output=True, text=True, timeout=60, check=True)
            assert "Error" not in midi.stdout + midi.stderr
            drawn = subprocess.run(["abcm2ps", "-g", "-O", "tune.svg", "tune.abc"], cwd=folder,
                                   capture_output=True, text=True, timeout=60, check=True)
            complaints[layout] = [line for line in drawn.stderr.splitlines() if "error" in line.lower()]
            svg = "".join(path.read_text() for path in sorted(folder.glob("tune*.svg")))
            heads[layout] = sorted(re.findall(r'xlink:href="#(hd|Hd|HD)"', svg))
            render.write_musicxml(parse_tune(relayout(text, layout)), folder / "score.musicxml")
            subprocess.run([sys.executable, "-c", VEROVIO_MIDI, str(folder / "score.musicxml"), str(folder / "verovio.mid")],
                           capture_output=True, timeout=120, check=True)
            played[layout] = [midi_notes(folder / name) for name in ("abc2midi.mid", "verovio.mid")]
        assert played["bars"] == played["blocks"] and len(played["bars"][0]) >= 4
        assert heads["bars"] == heads["blocks"] and len(heads["bars"]) > 100
        assert complaints["bars"] == complaints["blocks"]
