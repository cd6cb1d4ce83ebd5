"""Scores engraved as a musician reads them, checked in the files charmony writes: accidentals only where the key
signature and the bar do not already give the pitch (as many as abcm2ps draws from the same ABC), fermatas upright."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from charmony.pipeline.plugin.manager import get_outputs

# A major, two voices: `g` is G sharp by the key; `=g` needs a natural, a `^g` after it in the bar a sharp, a `g`
# after a natural in the bar stays natural, a natural tied over a barline keeps its pitch without a sign.
A_MAJOR = """X:1
T:Accidentals in A
M:4/4
L:1/8
Q:1/4=120
V:1
V:2 clef=bass
K:A
V:1
A2 cA e2 ce|f2 df g2 =g2|=g2 ^g2 a2 [c=g]2|=g4- g4|g2 e2 c2 A2|!fermata!a8|]
V:2
A,4 E,4|D,4 =G,4|=G,2 ^G,2 A,4|E,4 =G,2 G,2|A,8|!fermata!A,8|]
"""
# F major: B is B flat by the key; naturals, a flat and a sharp where the key does not give the pitch.
F_MAJOR = """X:2
T:Accidentals in F
M:3/4
L:1/4
K:F
F B c|B A =B|_e d c|B ^c d|B3|]
"""
# SMuFL code points of the accidentals verovio draws: flat, natural, sharp, double sharp, double flat.
SMUFL_ACCIDENTALS = "E260|E261|E262|E263|E264"
FERMATA_ABOVE = "E4C0"


def score_files(tmp_path: Path, text: str) -> tuple[str, str]:
    """The MusicXML and the SVG of the first page charmony writes for a tune."""
    source = tmp_path / "tune.abc"
    source.write_text(text)
    result = get_outputs(["score"])[0].render(source, tmp_path / "score")
    assert [path.suffix for path in result.files] == [".musicxml", ".svg"], result.skipped
    return result.files[0].read_text(), result.files[1].read_text()


def musicxml_accidentals(musicxml: str) -> list[str]:
    return re.findall(r"<accidental\b[^>]*>([^<]*)</accidental>", musicxml)


def svg_accidentals(svg: str) -> list[str]:
    """The accidentals verovio draws beside notes (empty `accid` groups are pitches it only knows, not draws)."""
    return re.findall(rf'class="accid">\s*<use xlink:href="#({SMUFL_ACCIDENTALS})', svg)


def abcm2ps_accidentals(tmp_path: Path, text: str) -> int:
    """How many accidentals abcm2ps draws beside notes: in its PostScript a note's sign is placed at `x y SIGN`,
    relative to the staff (`y`), where the key signature's are placed at two numbers."""
    (tmp_path / "tune.abc").write_text(text)
    subprocess.run(["abcm2ps", "-O", "tune.ps", "tune.abc"], cwd=tmp_path, capture_output=True, timeout=60, check=True)
    postscript = (tmp_path / "tune.ps").read_text(errors="replace")
    body = postscript[postscript.index("%%EndSetup"):]
    return len(re.findall(r"[\d.]+ y\d* (?:sh|ft|nt|dsh|dft)\d", body))


@pytest.mark.parametrize("text, expected", [(A_MAJOR, ["natural", "natural", "sharp", "natural", "natural",
                                                       "natural", "natural", "sharp", "natural"]),
                                            (F_MAJOR, ["natural", "flat", "sharp"])])
def test_accidentals_are_drawn_only_where_the_key_and_the_bar_do_not_give_the_pitch(tmp_path, text, expected):
    musicxml, svg = score_files(tmp_path, text)
    # MusicXML lists notes part by part; the A major tune's upper part has 5 signs, its bass 4.
    assert musicxml_accidentals(musicxml) == expected
    assert len(svg_accidentals(svg)) == len(expected)


@pytest.mark.skipif(shutil.which("abcm2ps") is None, reason="abcm2ps is not installed (apt-get install abcm2ps)")
@pytest.mark.parametrize("text", [A_MAJOR, F_MAJOR])
def test_the_score_draws_as_many_accidentals_as_abcm2ps(tmp_path, text):
    musicxml, svg = score_files(tmp_path, text)
    drawn_by_abcm2ps = abcm2ps_accidentals(tmp_path, text)
    assert drawn_by_abcm2ps > 0
    assert len(musicxml_accidentals(musicxml)) == drawn_by_abcm2ps
    assert len(svg_accidentals(svg)) == drawn_by_abcm2ps


def test_fermatas_are_upright_above_the_staff(tmp_path):
    musicxml, svg = score_files(tmp_path, A_MAJOR)
    assert re.findall(r"<fermata\b[^>]*>", musicxml) == ['<fermata type="upright" />'] * 2
    assert re.findall(r'class="fermata"[^>]*>\s*<use xlink:href="#(E4C\w)', svg) == [FERMATA_ABOVE] * 2
