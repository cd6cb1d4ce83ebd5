"""The folk corpus: normalised tunes from music21's folk collections or the user's files."""

from __future__ import annotations

import pytest

from charmony.pipeline.plugin.corpus import SampleInfo
from charmony.corpora.folk import COLLECTIONS, FolkCorpus, default_files
from charmony.pipeline.abc.normalise import normalise_tune
from charmony.pipeline.plugin.corpus import CorpusWarning

from assertions import assert_user_error

MESSY = """%abc-2.1
X: 161
T: Lady's Fancy -- Reel
N: from a book
Z: transcribed by someone
K: D
% the key is last in the header, yet fields follow it in this file:
B: Ryan's Mammoth Collection
O: Ireland
S: a fiddler
M: C|
L: 1/8
"""

MESSY_TUNE = """X: 161
T: Lady's Fancy -- Reel
N: from a book
%%MIDI program 73
O: Ireland
R: reel
M: C|
L: 1/8
Z: transcribed by someone
B: Ryan's Mammoth Collection
T: Second title
K: D
"4"A2 "^SEGUE"FA "D"d2 "A7/c#"ce | "_D.C."d2 "fine"f2 "Em"e4 |]  % the end
w: some words to sing
T: a section title in the body
M: 6/8
"<(""0"dfa "Bbmaj7"g3 |]

X: 2
T: the next tune, not part of this one
"""


def test_a_tune_is_normalised():
    assert normalise_tune(MESSY_TUNE) == (
        "X:1\n"
        "T:Lady's Fancy -- Reel\n"
        "T:Second title\n"
        "R:reel\n"
        "M:C|\n"
        "L:1/8\n"
        "K:D\n"
        'A2 FA "D"d2 "A7/c#"ce | d2 f2 "Em"e4 |]\n'
        "M:6/8\n"
        'dfa "Bbmaj7"g3 |]\n'
    )
    assert normalise_tune(MESSY_TUNE, 7).startswith("X:7\n")


def test_a_tune_without_a_key_is_no_tune():
    assert normalise_tune("X:1\nT:Unfinished\nM:4/4\n") is None
    assert normalise_tune(MESSY) is None  # a header and no music


def test_the_default_source_is_music21s_folk_collections():
    files = default_files()
    assert {path.parent.name for path in files} == set(COLLECTIONS)
    tunes = [document.text for document in FolkCorpus().documents([], {})]
    assert len(tunes) > 10_000
    assert all(tune.startswith("X:1\nT:") or tune.startswith("X:1\nC:") or tune.startswith("X:1\nR:") or tune.startswith("X:1\nM:") for tune in tunes)
    for tune in tunes[::50]:
        lines = tune.splitlines()
        assert not any(line[:2] in ("N:", "Z:", "B:", "S:", "O:") or "%" in line for line in lines), tune
        assert lines[[i for i, line in enumerate(lines) if line.startswith("K:")][0] - 1][:2] in ("L:", "M:", "Q:", "P:", "V:", "U:", "R:", "C:", "T:")


def test_user_collections_keep_their_good_tunes(tmp_path, invoke, runs_dir):
    collection = tmp_path / "session.abc"
    collection.write_text("X:1\nT:Good\nK:G\nGABc dedB|]\n\nX:2\nT:Keyless\nGABc|]\n\nX:3\nT:Also good\nK:D\nDEFG A4|]\n", encoding="utf-8")
    with pytest.warns(CorpusWarning, match="session.abc:6: the tune has no K: field"):
        result = invoke("prepare", "folk", "--source", collection, "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    with pytest.warns(CorpusWarning):
        texts = [d.text for d in FolkCorpus().documents([collection], {})]
    assert texts == ["X:1\nT:Good\nK:G\nGABc dedB|]\n", "X:1\nT:Also good\nK:D\nDEFG A4|]\n"]


def test_an_empty_collection_is_one_line(tmp_path, invoke, runs_dir):
    empty = tmp_path / "empty.abc"
    empty.write_text("%% nothing here\n", encoding="utf-8")
    with pytest.warns(CorpusWarning, match="holds no ABC tune"):
        result = invoke("prepare", "folk", "--source", empty, "--runs-dir", runs_dir)
    assert_user_error(result, "no ABC tune in", "empty.abc")


def test_samples_are_whole_renumbered_tunes():
    corpus = FolkCorpus()
    assert (corpus.prime, corpus.extension, corpus.checks) == ("X:", ".abc", ("abc",))
    assert corpus.finish("X:1\nT:Reel\nK:D\nDEFG|]\n", SampleInfo(4, "folk", 10, 1)).startswith("X:4\nT:folk sample 4 (step 10, seed 1)\nC:charmony folk\nK:D")
