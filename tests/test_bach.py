"""The bach corpus: every chorale round-trips through the writer and the reader; the cache; options; user sources."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from music21 import key, meter, note, stream

from charmony.pipeline.plugin.corpus import SampleInfo
from charmony.corpora import chorales
from charmony.corpora.bach import BachCorpus
from charmony.corpora.chorales import ORIGINAL, Variant, chorale_tunes, convert_chorale
from charmony.pipeline.abc.check import check_abc
from charmony.pipeline.abc.features import tune_features
from charmony.pipeline.abc.layout import relayout, split_voices
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.evaluation.evaluate import evaluate_texts
from charmony.pipeline.evaluation.references import documents
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.plugin.corpus import CorpusWarning
from charmony.pipeline.run.folder import Run

from assertions import assert_user_error
from test_abc_layout import BARS, BLOCKS

# BWV 846 is the C major prelude, not a chorale; nine chorales have bars that do not add up in music21's edition.
MOST_LEFT_OUT = 10
SOPRANO = Variant("soprano")


@pytest.fixture(scope="session")
def chorale_cache(tmp_path_factory):
    """Every chorale written (all voices, and the soprano written directly), read back and compared, once per
    session; the conversions fill a fresh cache."""
    folder = tmp_path_factory.mktemp("cache")
    before = os.environ.get(chorales.CACHE_ENV)
    os.environ[chorales.CACHE_ENV] = str(folder)
    try:
        _, checked = chorale_tunes((ORIGINAL, SOPRANO), verify=True)
        yield folder, checked
    finally:
        if before is None:
            del os.environ[chorales.CACHE_ENV]
        else:
            os.environ[chorales.CACHE_ENV] = before


@pytest.mark.slow
def test_every_chorale_round_trips_exactly(chorale_cache, capsys):
    """Write each chorale as ABC, read it back with charmony's reader, compare pitches and lengths voice by voice."""
    _, checked = chorale_cache
    exact = [c for c in checked if not c["differences"]]
    with capsys.disabled():
        print(f"\n{len(exact)}/{len(checked)} Bach scores in music21's corpus round-trip exactly through ABC")
        for c in checked:
            for difference in c["differences"]:
                print(f"  {c['name']}: {difference}")
    assert len(checked) >= 400
    assert len(exact) == len(checked), [(c["name"], c["differences"]) for c in checked if c["differences"]]


def test_the_default_corpus_is_the_cached_chorales_that_pass_the_checker(chorale_cache, invoke, runs_dir):
    folder, checked = chorale_cache
    cached = json.loads((chorales.cache_dir() / ORIGINAL.file_name).read_text(encoding="utf-8"))
    left_out = {entry["name"] for entry in cached["left_out"]}
    assert "BWV 846" in left_out and len(left_out) <= MOST_LEFT_OUT
    assert len(cached["tunes"]) + len(left_out) == len(checked)
    result = invoke("prepare", "bach", "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    manifest = Run(runs_dir / "bach").manifest()
    assert sum(manifest.documents.values()) == len(cached["tunes"])
    assert manifest.prime == "X:" and manifest.extension == ".abc" and manifest.checks == ["abc"]
    first = cached["tunes"][0]["abc"]
    assert first.startswith("X:1\nT:BWV 1.6\nC:J.S. Bach\nM:4/4\n") and "\nK:F\n[V:1] " in first
    assert all(check_abc(tune["abc"]).valid for tune in cached["tunes"][:40])


def test_the_held_out_chorales_sound_like_bach_to_the_musical_evaluation(chorale_cache, runs_dir, capsys):
    """Bach's own harmony, measured on the run's held-out chorales, is what the figures are read against."""
    run = Run(runs_dir / "chorales")
    prepare(run, PrepareConfig("bach"))
    held_out = list(documents(run.tokens("val"), run.vocabulary()))
    music = evaluate_texts(run, held_out, copying=False).music
    harmony, melody = music["harmony"], music["melody"]
    with capsys.disabled():
        print(f"\nheld-out chorales: {harmony}\n{melody}")
    assert all(pair["samples"] == pair["held_out"] for pair in harmony.values())
    # a chorale whose parts are not named Soprano, Alto, Tenor and Bass (an instrumental one) has no harmony figures
    four_parts = [text for text in held_out if all(f'name="{name}"' in text for name in ("Soprano", "Alto", "Tenor", "Bass"))]
    assert harmony["tunes"]["held_out"] == len(four_parts) >= 20
    assert harmony["chords"]["held_out"] > 0.8
    assert harmony["parallels"]["held_out"] < 5
    assert harmony["crossing"]["held_out"] < 0.1
    assert harmony["bass_cadence"]["held_out"] > 0.6
    assert melody["phrase_bars_median"]["held_out"] == 2  # a fermata every second bar, as chorale lines go


def test_every_derived_soprano_tune_is_the_one_direct_conversion_writes(chorale_cache, tmp_path, monkeypatch):
    """The soprano variant is read from the cached chorales of all voices, not converted from music21's corpus again."""
    folder, _ = chorale_cache
    direct = json.loads((chorales.cache_dir() / SOPRANO.file_name).read_text(encoding="utf-8"))
    monkeypatch.setenv(chorales.CACHE_ENV, str(tmp_path))
    chorales.cache_dir().mkdir(parents=True)
    shutil.copy(folder / chorales.cache_dir().relative_to(tmp_path) / ORIGINAL.file_name, chorales.cache_dir())
    monkeypatch.setattr(chorales, "_convert_all", None)  # deriving must not convert anything
    derived, _ = chorale_tunes((SOPRANO,))
    assert derived[SOPRANO] == direct["tunes"] and len(direct["tunes"]) >= 400
    saved = json.loads((chorales.cache_dir() / SOPRANO.file_name).read_text(encoding="utf-8"))
    assert saved["tunes"] == direct["tunes"] and saved["left_out"] == direct["left_out"]


def test_the_soprano_variant_comes_from_the_all_voices_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(chorales.CACHE_ENV, str(tmp_path))
    # BWV 1.6: a tempo only in the first part (a horn); 161.6: a key named only by the first part; 281: no part names
    few = [p for p in chorales.chorale_paths() if p.stem in ("bwv1.6", "bwv161.6", "bwv281")]
    monkeypatch.setattr(chorales, "chorale_paths", lambda: few)
    chorale_tunes((ORIGINAL,))
    capsys.readouterr()
    derived, _ = chorale_tunes((SOPRANO,))
    assert "from the cached chorales of all voices" in capsys.readouterr().err
    direct = [convert_chorale(str(path), (SOPRANO,))["abc"][SOPRANO.file_name] for path in few]
    assert [tune["abc"] for tune in derived[SOPRANO]] == direct
    assert "\nQ:1/4=76\n" in direct[0] and "\nK:Am\n" in direct[1] and 'name="' not in direct[2]


def test_a_damaged_cache_file_is_rebuilt(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(chorales.CACHE_ENV, str(tmp_path))
    few = [p for p in chorales.chorale_paths() if p.stem in ("bwv1.6", "bwv10.7")]
    monkeypatch.setattr(chorales, "chorale_paths", lambda: few)
    first, _ = chorale_tunes((ORIGINAL,))
    path = chorales.cache_dir() / ORIGINAL.file_name
    assert path.is_file()
    path.write_text('{"format": 1, "tunes": [{"abc": 3', encoding="utf-8")
    again, _ = chorale_tunes((ORIGINAL,))
    assert "damaged; rebuilding it" in capsys.readouterr().err
    assert again == first and json.loads(path.read_text(encoding="utf-8"))["tunes"] == first[ORIGINAL]


def test_soprano_and_transposed_variants_of_a_chorale():
    path = next(p for p in chorales.chorale_paths() if p.stem == "bwv10.7")  # G minor, two flats
    result = convert_chorale(str(path), (Variant("soprano", 0), Variant("all", 2), Variant("all", -5)))
    soprano = result["abc"]["soprano+0.json"]
    assert soprano.count("\nV:") == 1 and 'name="Soprano"' in soprano and "[V:2]" not in soprano
    assert "\nK:Am\n" in result["abc"]["all+2.json"] and "\nK:Dm\n" in result["abc"]["all-5.json"]
    assert all(check_abc(text).valid for text in result["abc"].values())


def write_score_file(path: Path) -> Path:
    """A two-bar melody in D major saved as MusicXML."""
    part = stream.Part()
    for number, names in enumerate((("D4", "F#4", "A4", "D5"), ("C#5", "B4", "A4", "A4")), start=1):
        measure = stream.Measure(number=number)
        if number == 1:
            measure.append([meter.TimeSignature("4/4"), key.Key("D")])
        measure.append([note.Note(name) for name in names])
        part.append(measure)
    score = stream.Score([part])
    score.write("musicxml", fp=path)
    return path


TWO_TUNES = """X:5
T:First
M:4/4
L:1/4
K:F
F =B c2 | A4 |]

X:6
T:No key
M:4/4
C D E F |]

X:7
T:Second
M:3/4
L:1/4
K:G
G A B | d3 |]
"""


def test_user_scores_and_abc_files_with_a_bad_file_among_them(tmp_path, invoke, runs_dir):
    sources = tmp_path / "music"
    sources.mkdir()
    write_score_file(sources / "melody.musicxml")
    (sources / "tunes.abc").write_text(TWO_TUNES, encoding="utf-8")
    (sources / "broken.musicxml").write_text("<score-partwise><part id='P1'><measure>", encoding="utf-8")
    with pytest.warns(CorpusWarning) as warned:
        result = invoke("prepare", "bach", "--source", sources, "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    messages = [str(w.message) for w in warned]
    assert any("broken.musicxml" in m and "music21 cannot read it" in m for m in messages), messages
    assert any("tunes.abc:8" in m and "no K:" in m for m in messages), messages
    assert Run(runs_dir / "bach").manifest().corpus == "bach"
    with pytest.warns(CorpusWarning):
        texts = [d.text for d in BachCorpus().documents([sources], {})]
    assert len(texts) == 3 and "\nT:melody\n" in texts[0] and "\nK:D\n" in texts[0]


def test_abc_tunes_are_transposed_with_key_and_accidentals_right(tmp_path):
    source = tmp_path / "tunes.abc"
    source.write_text(TWO_TUNES, encoding="utf-8")
    with pytest.warns(CorpusWarning, match="no K:"):
        documents = list(BachCorpus().documents([source], {"transpose": "2"}))
    assert len(documents) == 2
    first = documents[0].text
    # F major up a tone is G major; the B natural becomes C sharp.
    assert first.endswith("K:G\n[V:1] G ^c d2 | B4 |]\n"), first
    with pytest.warns(CorpusWarning):
        kept = list(BachCorpus().documents([source], {}))
    assert kept[1].text.startswith("X:1\nT:Second\n")  # renumbered, otherwise as written


KEYS_TO_MOVE = """X:1
T:D major
M:4/4
L:1/4
K:D
D F A d | c B A2 |]

X:2
T:E minor in two voices
M:3/4
L:1/4
V:1
V:2 clef=bass
K:Em
[V:1] E ^D E | B3 |]
[V:2] E,, G,, B,, | E,3 |]

X:3
T:G major
M:4/4
L:1/4
K:G
G A B d | g4 |]
"""


def test_transpose_tonic_moves_each_abc_tune_to_c_by_the_smallest_shift_of_its_own_key(tmp_path):
    source = tmp_path / "keys.abc"
    source.write_text(KEYS_TO_MOVE, encoding="utf-8")
    texts = {d.group: d.text for d in BachCorpus().documents([source], {"transpose": "tonic"})}
    # D major a tone down; E minor down a major third to C minor, each voice alike (the D sharp is a B natural);
    # G major up a fourth, not down a fifth.
    assert texts["D major"].endswith("K:C\n[V:1] C E G c | B A G2 |]\n"), texts["D major"]
    assert texts["E minor in two voices"].endswith(
        "K:Cm\n[V:1] C =B, C |\n[V:2] C,, E,, G,, |\n[V:1] G3 |]\n[V:2] C,3 |]\n"), texts["E minor in two voices"]
    assert texts["G major"].endswith("K:C\n[V:1] c d e g | c'4 |]\n"), texts["G major"]


def test_a_chorale_moved_to_c_is_written_from_its_score_in_c_or_c_minor():
    path = next(p for p in chorales.chorale_paths() if p.stem == "bwv10.7")  # G minor: up a fourth
    variants = (Variant("all", 5), Variant("all", to_c=True), Variant("soprano", to_c=True))
    result = convert_chorale(str(path), variants)
    assert result["abc"]["all-to-C.json"] == result["abc"]["all+5.json"] and "\nK:Cm\n" in result["abc"]["all+5.json"]
    assert "\nK:Cm\n" in result["abc"]["soprano-to-C.json"] and "[V:2]" not in result["abc"]["soprano-to-C.json"]


def test_the_default_corpus_moved_to_c_is_picked_from_the_cached_keys(tmp_path, monkeypatch, capsys):
    """With every shift of the soprano cached (as transpose=all leaves it), each chorale is taken from the one its
    key needs, and no chorale is converted again; two chorales of one name (two editions) each keep their own."""
    monkeypatch.setenv(chorales.CACHE_ENV, str(tmp_path))
    few = [p for p in chorales.chorale_paths() if p.stem in ("bwv1.6", "bwv10.7", "bwv366")]
    monkeypatch.setattr(chorales, "chorale_paths", lambda: few)
    shifts = tuple(Variant("soprano", shift) for shift in range(-5, 7))
    written, _ = chorale_tunes(shifts)
    monkeypatch.setattr(chorales, "_convert_all", None)  # picking must not convert anything
    to_c = Variant("soprano", to_c=True)
    picked, _ = chorale_tunes((to_c,))
    keys = [re.search(r"^K:(.*)$", tune["abc"], re.M).group(1) for tune in picked[to_c]]
    assert keys == ["C", "Cm", "C", "Cm"], keys  # BWV 366 in two editions: one major, one in D minor
    assert picked[to_c][1] == written[Variant("soprano", 5)][1]  # G minor up a fourth
    assert (chorales.cache_dir() / to_c.file_name).is_file()
    assert [d.text for d in BachCorpus().documents([], {"voices": "soprano", "transpose": "tonic"})] == [
        tune["abc"] for tune in picked[to_c]]


def test_instances_are_drawn_with_replacement_reproducibly(tmp_path):
    source = tmp_path / "tunes.abc"
    source.write_text(TWO_TUNES.replace("X:6\nT:No key\nM:4/4\nC D E F |]\n\n", ""), encoding="utf-8")
    corpus = BachCorpus()

    def draw(seed: str) -> list[str]:
        return [d.text for d in corpus.documents([source], {"instances": "12", "seed": seed})]

    assert len(draw("1")) == 12 and draw("1") == draw("1")
    assert draw("1") != draw("2") and len(set(draw("1"))) == 2


def test_samples_are_renumbered_and_credited_to_charmony_not_to_bach():
    corpus = BachCorpus()
    assert corpus.prime == "X:" and corpus.checks == ("abc",)
    sampled = "X:1\nT:Chorale\nC:J.S. Bach\nM:4/4\nK:C\nT:part two\nCDEF|]\n"
    assert corpus.finish(sampled, SampleInfo(12, "bach", 200, 7)) == (
        "X:12\nT:bach sample 12 (step 200, seed 7)\nC:charmony bach\nM:4/4\nK:C\nT:part two\nCDEF|]\n"
    )
    assert corpus.finish("X:\nT:A\n", SampleInfo(3, "b", 1, 2)).startswith("X:3\nT:b sample 3 (step 1, seed 2)\nC:charmony b\n")


@pytest.mark.parametrize(("option", "fragment"), [
    ("transpose=13", "transpose=13"),
    ("transpose=up", "transpose=up"),
    ("transpose=tonic,2", "give all, tonic, or semitones"),
    ("voices=alto", "voices=alto"),
    ("instances=0", "instances=0"),
    ("seed=x", "seed=x"),
    ("layout=rows", "layout=rows: choose one of blocks, bars"),
])
def test_bad_option_values_are_one_line_errors(tmp_path, invoke, runs_dir, option, fragment):
    source = tmp_path / "tunes.abc"
    source.write_text(TWO_TUNES, encoding="utf-8")
    result = invoke("prepare", "bach", "--source", source, "--option", option, "--runs-dir", runs_dir)
    assert_user_error(result, fragment)
    assert not (runs_dir / "bach").exists()


def test_a_layout_for_a_melody_is_one_line(tmp_path, invoke, runs_dir):
    source = tmp_path / "tunes.abc"
    source.write_text(TWO_TUNES, encoding="utf-8")
    result = invoke("prepare", "bach", "--source", source, "--option", "voices=soprano", "--option", "layout=bars",
                    "--runs-dir", runs_dir)
    assert_user_error(result, "layout=bars", "only in tunes of all voices")
    assert not (runs_dir / "bach").exists()


def test_in_the_bars_layout_the_voices_take_turns_bar_by_bar_and_samples_are_saved_in_blocks(tmp_path):
    source = tmp_path / "tunes.abc"
    source.write_text(BLOCKS, encoding="utf-8")
    corpus = BachCorpus()
    assert corpus.layout({}) == "bars" and corpus.layout({"voices": "soprano"}) == "blocks"
    assert corpus.layout({"layout": "blocks"}) == "blocks"
    (blocks,) = [d.text for d in corpus.documents([source], {"layout": "blocks"})]
    (bars,) = [d.text for d in corpus.documents([source], {})]
    body = bars.split("\nK:C\n")[1].splitlines()
    assert len(body) == 16 and [line[:6] for line in body[:4]] == ["[V:1] ", "[V:2] ", "[V:1] ", "[V:2] "]
    assert all(line.endswith(("|", "|]")) and line.count("|") == 1 for line in body)
    assert tune_features(parse_tune(bars)) == tune_features(parse_tune(blocks))
    assert split_voices(bars).voices == split_voices(BARS).voices  # the music as written, laid out anew
    sample = SampleInfo(3, "chorales", 800, 5, layout="bars")
    saved = corpus.finish(BARS, sample)
    assert saved == corpus.finish(BLOCKS, SampleInfo(3, "chorales", 800, 5, layout="blocks"))
    assert saved.startswith("X:3\nT:chorales sample 3 (step 800, seed 5)\n") and saved.endswith(BLOCKS.split("K:C\n")[1])
    assert corpus.finish(BARS, SampleInfo(3, "chorales", 800, 5)).endswith(BARS.split("K:C\n")[1])  # older runs: as sampled


@pytest.mark.slow
def test_every_chorale_in_the_bars_layout_is_rewritten_as_the_corpus_has_it(chorale_cache):
    usual = [d.text for d in BachCorpus().documents([], {"layout": "blocks"})]
    bars = [d.text for d in BachCorpus().documents([], {})]
    assert len(bars) == len(usual) >= 390
    assert all(relayout(laid, "blocks") == text != laid for laid, text in zip(bars, usual))


def test_a_score_music21_cannot_read_is_one_line(tmp_path, invoke, runs_dir):
    bad = tmp_path / "noise.mid"
    bad.write_bytes(b"MThd not really a midi file")
    with pytest.warns(CorpusWarning, match="noise.mid: music21 cannot read it as a score"):
        result = invoke("prepare", "bach", "--source", bad, "--runs-dir", runs_dir)
    assert_user_error(result, "no tune could be read", "noise.mid")


def test_an_empty_collection_is_one_line(tmp_path, invoke, runs_dir):
    empty = tmp_path / "empty.abc"
    empty.write_text("% just a comment\n\n", encoding="utf-8")
    with pytest.warns(CorpusWarning, match="empty.abc: holds no ABC tune"):
        result = invoke("prepare", "bach", "--source", empty, "--runs-dir", runs_dir)
    assert_user_error(result, "no tune could be read", "empty.abc")



@pytest.mark.slow
@pytest.mark.parametrize(("variant", "layout"), [(ORIGINAL, "blocks"), (ORIGINAL, "bars"), (SOPRANO, "blocks")],
                         ids=["all voices", "all voices in bars", "soprano"])
def test_the_constraint_writes_nearly_every_chorale_as_the_corpus_has_it(chorale_cache, variant, layout, capsys):
    """The constraint built from the chorales themselves accepts, character by character, almost all of them:
    it is no narrower than the corpus (the few it refuses use endings, rarer repeat idioms or constructs it does not write)."""
    from charmony.pipeline.abc.grammar.constraint import AbcConstraint
    from charmony.pipeline.abc.profile import abc_profile
    from charmony.pipeline.abc.sample_options import AbcOptions

    tunes = [relayout(tune["abc"], layout) for tune in chorale_tunes((variant,))[0][variant]]
    constraint = AbcConstraint(abc_profile(tunes), AbcOptions())
    accepted = 0
    for tune in tunes:
        state = constraint.start()
        for char in tune:
            state = constraint.feed(state, char)
            if state is None:
                break
        accepted += state is not None and constraint.complete(state)
    with capsys.disabled():
        print(f"\nthe ABC constraint accepts {accepted}/{len(tunes)} chorales ({variant.voices} voices, {layout})")
    assert accepted >= 0.95 * len(tunes)


def numbered_tunes(count: int) -> str:
    """`count` short tunes in G, titled Tune 1, Tune 2..., each with its own second bar."""
    notes = "GABcdefg"
    return "\n".join(f"X:{n}\nT:Tune {n}\nM:4/4\nL:1/4\nK:G\nG A B c | {notes[n % 8]} {notes[(n + 3) % 8]} d2 |]\n"
                     for n in range(1, count + 1))


def titles(run: Run, split: str) -> list[str]:
    """The T: line of each document of one split, read back from its token file."""
    vocab = run.vocabulary()
    text = vocab.decode(t if t != vocab.eod_id else 0 for t in run.tokens(split).tolist())
    return [re.search(r"^T:(.*)$", tune, re.M).group(1) for tune in text.split("<eod>") if tune.strip()]


@pytest.mark.parametrize(("options", "documents"), [({"transpose": "-2,0,3"}, 30), ({"instances": "40", "seed": "5"}, 40)],
                         ids=["transpositions", "instances"])
def test_no_tune_is_on_both_sides_of_the_split(tmp_path, runs_dir, options, documents):
    source = tmp_path / "tunes.abc"
    source.write_text(numbered_tunes(10), encoding="utf-8")
    run = Run(runs_dir / "tunes")
    manifest = prepare(run, PrepareConfig("bach", [source], val_fraction=0.2, seed=2, options=options))
    train_titles, val_titles = titles(run, "train"), titles(run, "val")
    assert len(train_titles) + len(val_titles) == documents and not set(train_titles) & set(val_titles)
    assert manifest.split == "groups"
    assert manifest.groups == {"train": len(set(train_titles)), "val": len(set(val_titles))}
    assert manifest.groups["val"] == round(sum(manifest.groups.values()) * 0.2)
    if "transpose" in options:  # a held-out tune is held out in every key
        assert sorted(val_titles) == sorted(list(set(val_titles)) * 3)


def test_each_chorale_is_its_own_group_and_its_editions_share_it(chorale_cache):
    documents = list(BachCorpus().documents([], {}))
    by_group: dict[str, set[str]] = {}
    for document in documents:
        assert f"\nT:{document.group}\n" in document.text
        by_group.setdefault(document.group, set()).add(document.source.suffix)
    assert len(by_group) >= 390 and len(by_group) < len(documents)
    assert any(len(suffixes) > 1 for suffixes in by_group.values()), "a chorale music21 has twice, as .krn and .mxl"
