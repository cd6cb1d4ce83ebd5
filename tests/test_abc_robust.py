"""Bad ABC input: one clear problem or a skipped tune with its file and line, never a crash."""

import logging
import sys
import time

import pytest

from charmony.corpora.bach import BachCorpus
from charmony.corpora.folk import FolkCorpus
from charmony.pipeline.abc import corpus_base, theory
from charmony.pipeline.abc.check import check_abc
from charmony.pipeline.abc.features import tune_features
from charmony.pipeline.abc.fields import FieldError, read_number
from charmony.pipeline.abc.music21_log import music21_warnings_logged
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.evaluation.references import parsed_tunes
from charmony.pipeline.plugin.corpus import CorpusWarning
from charmony.tests.abc_tunes import SOPRANO

BAD_ENDINGS = ["[1-2-3", "|1-2-3", ":|1-2-3", "[1,2-3-4"]


def good_tunes(count: int) -> list[str]:
    """`count` good one-voice tunes, each with its own number and title."""
    return [SOPRANO[n % len(SOPRANO)].replace("X:1\nT:", f"X:{n + 1}\nT:{n} ", 1) for n in range(count)]


@pytest.mark.parametrize("ending", BAD_ENDINGS)
def test_a_malformed_ending_is_one_problem_where_it_is(ending):
    text = f"X:1\nK:C\nCDEF|{ending} CDEF:|\n"
    verdict = check_abc(text)
    assert not verdict.valid
    [problem] = [p for p in verdict.problems if "ending" in p.message]
    assert problem.line == 3 and "one number or a range" in problem.message


def test_well_formed_endings_still_number_their_bars():
    tune = parse_tune("X:1\nM:2/4\nL:1/4\nK:C\n|:C D|[1,3 E F:|[2-4 G A|]\n")
    assert not tune.problems
    assert [bar.ending for bar in tune.voices["1"].bars] == [(), (1, 3), (2, 3, 4)]


def test_read_number_refuses_anything_but_digits():
    assert read_number("12") == 12 and read_number("1" * 20) == 10**9
    with pytest.raises(FieldError, match="'2-3' is not a number"):
        read_number("2-3")


def test_the_check_command_says_one_line_for_a_bad_ending(tmp_path, invoke):
    path = tmp_path / "e.abc"
    path.write_text("X:1\nK:C\nCDEF|[1-2-3 CDEF:|\n", encoding="utf-8")
    result = invoke("check", path)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "e.abc:3:6: ending [1-2-3" in result.output


def test_a_note_too_long_is_cut_to_the_longest_so_features_stay_quick():
    tune = parse_tune("X:1\nM:4/4\nL:1/4\nK:C\nC D G99999999999 E|]\n")
    assert any("longest note" in p.message for p in tune.problems)
    assert max(event.length for event in tune.voices["1"].bars[0].events) == theory.LONGEST_NOTE
    start = time.monotonic()
    tune_features(tune)
    assert time.monotonic() - start < 2


def collection_with_a_bad_tune(tmp_path):
    """A collection of 48 good tunes and, 21st, one with a malformed ending."""
    tunes = good_tunes(48)
    tunes.insert(20, "X:99\nT:Bad\nK:C\nCDEF|[1-2-3 CDEF:|\n")
    path = tmp_path / "tunes.abc"
    path.write_text("\n".join(tunes), encoding="utf-8")
    return path


def test_a_bad_tune_among_good_ones_stops_no_stage(tmp_path, invoke, runs_dir):
    path = collection_with_a_bad_tune(tmp_path)
    for corpus in ("folk", "bach"):
        result = invoke("prepare", corpus, "--source", path, "--run", corpus, "--runs-dir", runs_dir)
        assert result.exit_code == 0, result.output
    tunes = list(parsed_tunes(path.read_text(encoding="utf-8")))
    assert len(tunes) == 49 and sum(bool(tune.problems) for tune in tunes) == 1
    for tune in tunes:
        tune_features(tune)


@pytest.mark.parametrize("corpus", [FolkCorpus(), BachCorpus()], ids=["folk", "bach"])
def test_a_tune_the_parser_fails_on_is_skipped_with_its_file_and_line(tmp_path, monkeypatch, corpus):
    path = tmp_path / "tunes.abc"
    path.write_text("\n".join(good_tunes(3)), encoding="utf-8")
    second_line = path.read_text(encoding="utf-8").splitlines().index("X:2") + 1
    real = corpus_base.parse_tune

    def parse_failing_on_the_second(text, line=1):
        if line == second_line:
            raise IndexError("a parser bug")
        return real(text, line)

    monkeypatch.setattr(corpus_base, "parse_tune", parse_failing_on_the_second)
    with pytest.warns(CorpusWarning, match=rf"tunes.abc:{second_line}: the tune cannot be read \(IndexError: a parser bug\)"):
        documents = list(corpus.documents([path], {}))
    assert len(documents) == 2


def crowded(bar: str, voices: int = 1) -> str:
    """A tune in free meter whose voices each hold one bar, `bar`."""
    header = "X:1\nM:none\nL:1/8\n" + "".join(f"V:{n}\n" for n in range(1, voices + 1)) + "K:C\n"
    return header + "".join(f"[V:{n}] {bar}|]\n" for n in range(1, voices + 1))


@pytest.mark.parametrize("bar, what, most", [
    ("{" + "g" * theory.MOST_GRACE_NOTES_IN_BAR + "}A B", "grace notes", theory.MOST_GRACE_NOTES_IN_BAR),
    ("C " + "& C " * theory.MOST_OVERLAYS_IN_BAR, "& overlays", theory.MOST_OVERLAYS_IN_BAR),
    ("!trill!C " * theory.MOST_DECORATIONS_IN_BAR, "decorations", theory.MOST_DECORATIONS_IN_BAR),
], ids=["grace notes", "overlays", "decorations"])
def test_a_bar_may_hold_so_much_and_no_more(bar, what, most):
    assert check_abc(crowded(bar)).valid
    one_more = bar.replace("{", "{g", 1) if what == "grace notes" else bar + ("& C " if "&" in bar else "!trill!C ")
    verdict = check_abc(crowded(one_more))
    assert [p.message for p in verdict.problems] == [f"voice 1: a bar with {most + 1} {what}; the renderers take at most {most} in a bar"]
    assert verdict.problems[0].line == 6


def test_a_tune_may_have_as_many_voices_as_midi_has_channels():
    assert check_abc(crowded("C D", theory.MOST_VOICES)).valid
    verdict = check_abc(crowded("C D", theory.MOST_VOICES + 1))
    assert [p.message for p in verdict.problems] == [f"the tune has {theory.MOST_VOICES + 1} voices; the renderers take at "
                                                     f"most {theory.MOST_VOICES}, one MIDI channel each"]


def test_music21s_warnings_go_to_the_log_not_to_stderr(capsys, caplog):
    with caplog.at_level(logging.INFO, logger="charmony.music21"), music21_warnings_logged():
        sys.stderr.write("musicxml.m21ToXml: WARNING: we are out of midi channels! help!\n")
        sys.stderr.write("a partial line")
    assert capsys.readouterr().err == ""
    assert [r.getMessage() for r in caplog.records] == ["musicxml.m21ToXml: WARNING: we are out of midi channels! help!",
                                                        "a partial line"]


def test_a_large_collection_keeps_no_parse_but_every_figure(monkeypatch):
    from charmony.pipeline.abc import check

    text = "\n".join(good_tunes(5))
    assert len(check_abc(text).parsed) == 5
    monkeypatch.setattr(check, "KEPT_PARSES", 3)
    verdict = check_abc(text + "\nX:6\nK:C\nCDEF|[1-2-3 CDEF:|\n")
    assert verdict.parsed is None
    assert verdict.details["tunes"] == 6 and verdict.details["valid_tunes"] == 5
    assert [p.line for p in verdict.problems] == [text.count("\n") + 4]  # after a blank line, X:, K:


def test_tunes_are_split_with_their_file_lines_one_at_a_time():
    from charmony.pipeline.abc.collection import iter_tunes

    text = "% header\n\n" + "".join(f"X:{n}\nK:C\nC|]\n\n" for n in range(1, 1001))
    pieces = iter_tunes(text)
    assert next(pieces).line == 3
    assert [piece.line for piece in pieces][-1] == 3 + 4 * 999
