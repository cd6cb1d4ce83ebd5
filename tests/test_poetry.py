"""The `poetry` corpus and the `poem` checker: formats, options, the default source and bad input."""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from assertions import assert_user_error
from charmony.corpora import poetry
from charmony.corpora.poetry import PoetryCorpus
from charmony.pipeline.system.errors import CorpusError
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.folder import Run
from charmony.pipeline.training.train import train
from charmony.plugins.poem import PoemChecker
from tiny import TINY_TRAIN

FORTUNES = poetry.FORTUNES_DIR / "tang300"
needs_fortunes = pytest.mark.skipif(not FORTUNES.is_file(), reason="Debian's fortunes-zh is not installed")

DENG_GUAN_QUE_LOU = ("白日依山尽，黄河入海流。", "欲穷千里目，更上一层楼。")
JING_YE_SI = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
SEVEN_QUATRAIN = "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。"
REGULATED = "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。"
IRREGULAR = "君不见黄河之水天上来，奔流到海不复回。"


def texts(sources, **options) -> list[str]:
    return [document.text for document in PoetryCorpus().documents(sources, options)]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# Formats

def test_one_poem_per_line_becomes_one_couplet_per_line(tmp_path):
    source = write(tmp_path / "poetry.txt", f"{JING_YE_SI}\n\n登鹳雀楼:{''.join(DENG_GUAN_QUE_LOU)}\n")
    assert texts([source]) == [
        "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。\n",
        "《登鹳雀楼》\n白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。\n",
    ]


def test_chinese_poetry_json_with_titles_authors_and_ci_tunes(tmp_path):
    items = [
        {"title": "登鸛雀樓", "author": "王之渙", "paragraphs": list(DENG_GUAN_QUE_LOU), "id": "x"},
        {"rhythmic": "浣溪沙", "author": "晏殊", "paragraphs": ["一曲新詞酒一杯，去年天氣舊亭臺。"]},
        {"author": "無名", "paragraphs": ["山（一作：水）高月小，水落石出。"]},
    ]
    source = write(tmp_path / "poet.tang.0.json", json.dumps(items, ensure_ascii=False))
    assert texts([source]) == [
        "《登鸛雀樓》\n王之渙\n白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。\n",
        "《浣溪沙》\n晏殊\n一曲新詞酒一杯，去年天氣舊亭臺。\n",
        "無名\n山高月小，水落石出。\n",
    ]


def test_fortune_entries_with_colours_headers_prefaces_and_numbered_parts(tmp_path):
    source = write(tmp_path / "poems", (
        "\x1b[32m《送别》\x1b[m\n\x1b[33m作者：王维\x1b[m\n下马饮君酒，问君何所之。\n%\n"
        "\x1b[32m题目:《春居》二首\x1b[m\n\x1b[33m作者:王禹偁（９５４－１００１）\x1b[m\n\n"
        "            其一\n\n两株桃杏映篱斜，妆点商山副使家。\n\n            其二\n\n春云如兽复如禽，日照风吹浅又深。\n%\n"
        "《琵琶行・并序》\n作者：白居易\n元和十年，余左迁九江郡司马。\n  \n浔阳江头夜送客，枫叶荻花秋瑟瑟。\n%\n"
        "无题之诗，一行而已。\n"
    ))
    assert texts([source]) == [
        "《送别》\n王维\n下马饮君酒，问君何所之。\n",
        "《春居・其一》\n王禹偁\n两株桃杏映篱斜，妆点商山副使家。\n",
        "《春居・其二》\n王禹偁\n春云如兽复如禽，日照风吹浅又深。\n",
        "《琵琶行・并序》\n白居易\n浔阳江头夜送客，枫叶荻花秋瑟瑟。\n",
        "无题之诗，一行而已。\n",
    ]


def test_english_poems_between_blank_lines_keep_their_lines_and_indents(tmp_path):
    source = write(tmp_path / "english.txt", (
        "The woods are lovely, dark and deep,\n  But I have promises to keep.\n\n\n"
        "Tyger Tyger, burning bright,\nIn the forests of the night;\n"
    ))
    assert texts([source]) == [
        "The woods are lovely, dark and deep,\n  But I have promises to keep.\n",
        "Tyger Tyger, burning bright,\nIn the forests of the night;\n",
    ]


def test_a_folder_is_read_with_a_glob_and_the_format_can_be_named(tmp_path):
    write(tmp_path / "a.txt", JING_YE_SI + "\n")
    write(tmp_path / "notes.md", "# not poems\n")
    assert len(texts([tmp_path], glob="*.txt", format="lines")) == 1
    assert texts([tmp_path / "a.txt"], format="blank") == [JING_YE_SI + "\n"], "format=blank keeps the line whole"


# Options

@pytest.mark.parametrize("form, expected", [
    ("five", [JING_YE_SI, REGULATED]),
    ("seven", [SEVEN_QUATRAIN]),
    ("quatrain", [JING_YE_SI, SEVEN_QUATRAIN]),
    ("regulated", [REGULATED]),
    ("five,quatrain", [JING_YE_SI]),
    ("regular", [JING_YE_SI, SEVEN_QUATRAIN, REGULATED]),
])
def test_form_keeps_only_poems_of_that_form(tmp_path, form, expected):
    source = write(tmp_path / "poetry.txt", "\n".join([JING_YE_SI, SEVEN_QUATRAIN, REGULATED, IRREGULAR]))
    assert [text.replace("\n", "") for text in texts([source], form=form)] == expected


def test_titles_drop_and_length_limits(tmp_path):
    source = write(tmp_path / "poetry.txt", f"静夜思:{JING_YE_SI}\n早发白帝城:{SEVEN_QUATRAIN}\n春望:{REGULATED}\n")
    assert texts([source], titles="drop", max_length=20) == ["床前明月光，疑是地上霜。\n举头望明月，低头思故乡。\n"]
    assert [t.split("\n")[0] for t in texts([source], min_length=28)] == ["《早发白帝城》", "《春望》"]
    assert len(texts([source], min_length=20, max_length=40)) == 3, "limits count characters, not punctuation"


@pytest.mark.parametrize("options, message", [
    ({"form": "sonnet"}, "'sonnet' is not a form"),
    ({"titles": "maybe"}, "--option titles=maybe: choose one of keep, drop"),
    ({"min_length": "ten"}, "--option min_length=ten: give a whole number"),
    ({"format": "xml"}, "--option format=xml: choose one of auto, lines, json, fortune, blank"),
    ({"form": "seven"}, "none of the 1 poems read has form=seven"),
])
def test_bad_options_say_what_to_give(tmp_path, options, message):
    source = write(tmp_path / "poetry.txt", JING_YE_SI)
    with pytest.raises(CorpusError, match=re.escape(message)):
        texts([source], **options)


def test_the_recommended_max_vocab_of_3500_applies_unless_given(tmp_path, runs_dir):
    rng = random.Random(0)
    characters = [chr(0x4E00 + i) for i in range(4000)]
    lines = ["".join(characters[i:i + 20]) for i in range(0, 4000, 20)]
    common = ["".join(rng.choice(characters[:50]) for _ in range(20)) for _ in range(100)]
    source = write(tmp_path / "poetry.txt", "\n".join(f"{line[:10]}，{line[10:]}。" for line in lines + common))
    manifest = prepare(Run(runs_dir / "default"), PrepareConfig("poetry", [source]))
    assert (manifest.vocab_size, manifest.unk, manifest.max_vocab) == (3502, True, 3500)
    vocab = Run(runs_dir / "default").vocabulary()
    assert set(characters[:50]) <= set(vocab.tokens), "the frequent characters are kept, rare ones become <unk>"
    manifest = prepare(Run(runs_dir / "given"), PrepareConfig("poetry", [source], max_vocab=5000))
    assert (manifest.vocab_size, manifest.unk) == (4000 + 4, False)  # + <eod>, newline, "，" and "。"


# The default source: Debian's fortunes-zh

@needs_fortunes
def test_default_source_is_the_tang_and_song_poems_of_fortunes_zh():
    documents = list(PoetryCorpus().documents([], {}))
    assert len(documents) > 400 and {d.source.name for d in documents} == {"tang300", "song100"}
    text = [d.text for d in documents]
    assert "《送别》\n王维\n下马饮君酒，问君何所之。\n君言不得意，归卧南山陲。\n但去莫复问，白云无尽时。\n" in text
    assert not any("\x1b" in t or "作者" in t or "元和十年" in t for t in text), "no colours, labels or prefaces"
    assert sum(t.startswith("《春居杂兴・其") for t in text) == 2


@needs_fortunes
def test_prepare_poetry_needs_no_argument_where_fortunes_zh_is_installed(invoke, runs_dir):
    result = invoke("prepare", "poetry", "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    manifest = json.loads((runs_dir / "poetry" / "manifest.json").read_text())
    assert {Path(s["path"]).name for s in manifest["sources"]} == {"tang300", "song100"}
    assert manifest["max_vocab"] == 3500 and manifest["embedding"] is True


def test_without_fortunes_zh_and_a_source_the_three_formats_are_listed(invoke, runs_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(poetry, "FORTUNES_DIR", tmp_path / "nowhere")
    assert_user_error(invoke("prepare", "poetry", "--runs-dir", runs_dir),
                      "fortunes-zh is not installed", "one poem per line", "chinese-poetry JSON", "% lines")
    assert not runs_dir.exists()


# Bad input through the CLI

@pytest.mark.parametrize("name, content, message", [
    ("table.csv", "id,score\n1,20.5\n2,31.25\n3,7\n", "table.csv: not a poetry file in any format charmony reads"),
    ("script.py", "def f(x):\n    return [x ** 2 for x in range(10)]  # squares\n", "not a poetry file"),
    ("page.txt", "<html><body><p class='x'>hello</p></body></html>\n", "not a poetry file"),
])
def test_a_file_in_none_of_the_formats(invoke, runs_dir, tmp_path, name, content, message):
    source = write(tmp_path / name, content)
    assert_user_error(invoke("prepare", "poetry", "--source", source, "--runs-dir", runs_dir), message, "one poem per line")


@pytest.mark.parametrize("content, message", [
    ('{"poems": []}', "holds a JSON object, not a list of objects with title, author and paragraphs"),
    ('[{"title": "x", "content": "白日依山尽"}]', "item 1 is not an object with a list of strings as paragraphs"),
    ('[{"paragraphs": "白日依山尽，黄河入海流。"}]', "item 1 is not an object"),
    ('[{"paragraphs": ["白日"]}, 3]', "item 2 is not an object"),
    ('[{"paragraphs": ["白日"]}', "not valid JSON"),
])
def test_a_json_file_with_the_wrong_layout(invoke, runs_dir, tmp_path, content, message):
    source = write(tmp_path / "poems.json", content)
    assert_user_error(invoke("prepare", "poetry", "--source", source, "--runs-dir", runs_dir), message, "chinese-poetry")


# The poem checker

@pytest.mark.parametrize("text, form", [
    (JING_YE_SI, "five-character quatrain"),
    (SEVEN_QUATRAIN, "seven-character quatrain"),
    (REGULATED, "five-character regulated verse"),
    ("《登鹳雀楼》\n王之涣\n白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。\n", "five-character quatrain"),
    ("白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。\n白日依山尽，黄河入海流。\n", "6-line five-character verse"),
])
def test_regular_poems_and_their_forms(text, form):
    verdict = PoemChecker().check(text)
    assert verdict.valid and verdict.problems == [] and verdict.details["form"] == form


def test_irregular_poems_are_located_line_by_line():
    checker = PoemChecker()
    verdict = checker.check("《题》\n白日依山尽，黄河入海流水。\n欲穷千里目，更上一层楼。\n")
    assert not verdict.valid and verdict.details == {"lines": 4, "line_length": None, "form": None}
    assert [(p.line, p.column, p.message) for p in verdict.problems] == [(2, 7, "a line of 6 characters among lines of 5")]
    verdict = checker.check("白日依山尽，黄河入海流。\n欲穷千里目。")
    assert [(p.line, p.column) for p in verdict.problems] == [(2, 1)] and "3 lines" in verdict.problems[0].message
    verdict = checker.check("白日依山<unk>，黄河入海流。\n")
    assert [p.message for p in verdict.problems] == ["<unk> stands for a character outside the vocabulary"]
    assert verdict.details["line_length"] == 5, "<unk> stands for one character"
    assert not checker.check("山高，月小。").valid and not checker.check("").valid


def test_the_summary_counts_regular_poems_by_form():
    checker = PoemChecker()
    verdicts = [checker.check(t) for t in (JING_YE_SI, JING_YE_SI, REGULATED, IRREGULAR, "白日依山尽，黄河入海流。")]
    assert checker.summarise(verdicts) == "4/5 regular (2 five-character quatrain, 1 five-character regulated verse, 1 other)"


def test_check_on_the_command_line(invoke, tmp_path):
    good, bad = write(tmp_path / "good.txt", JING_YE_SI), write(tmp_path / "bad.txt", IRREGULAR)
    assert invoke("check", good, "--with", "poem").exit_code == 0
    result = invoke("check", good, bad, "--with", "poem")
    assert result.exit_code == 1 and f"{bad}:1:1: a line of 10 characters among lines of 7" in result.output
    english = write(tmp_path / "english.txt", "Tyger Tyger, burning bright,\nIn the forests of the night;\n")
    assert invoke("check", english).exit_code == 2, "the poem checker leaves text without Chinese alone"


# Prepare, train and sample through the CLI

@pytest.fixture(scope="module")
def poetry_run(tmp_path_factory) -> Run:
    """A tiny model trained on quatrains made of twelve five-character lines."""
    root = tmp_path_factory.mktemp("poetry")
    rng = random.Random(0)
    characters = [chr(0x4E00 + 7 * i) for i in range(40)]
    pool = ["".join(rng.choice(characters) for _ in range(5)) for _ in range(12)]
    quatrains = [rng.sample(pool, 4) for _ in range(150)]
    source = write(root / "poetry.txt", "".join(f"{a}，{b}。{c}，{d}。\n" for a, b, c, d in quatrains))
    run = Run(root / "runs" / "poetry")
    prepare(run, PrepareConfig("poetry", [source]))
    train(run, TINY_TRAIN.with_settings(seq_len=32, max_steps=200))
    return run


def test_the_model_learned_the_quatrains(poetry_run):
    metrics = [json.loads(line) for line in poetry_run.metrics_path.read_text().splitlines()]
    best = min(m["val_loss"] for m in metrics if "val_loss" in m)
    counts = Counter(poetry_run.tokens("train").tolist())
    unigram = -sum(c / counts.total() * math.log(c / counts.total()) for c in counts.values())
    assert best < unigram / 2, f"validation loss {best:.2f} against {unigram:.2f} for character frequencies alone"


def test_samples_are_checked_and_summarised_on_screen_and_in_samples_json(invoke, poetry_run, tmp_path):
    out = tmp_path / "samples"
    result = invoke("sample", "poetry", "--runs-dir", poetry_run.dir.parent, "--num-samples", "12",
                    "--temperature", "0.5", "--seed", "3", "--max-length", "60", "--out", out)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "samples.json").read_text())
    summary = report["summary"]["poem"]
    assert report["outputs"] == ["poem"] and summary["checked"] == 12
    assert re.fullmatch(rf"{summary['valid']}/12 regular( \(.*\))?", summary["line"])
    assert f"poem: {summary['line']}" in result.output.splitlines()
    assert all("form" in s["outputs"]["poem"]["verdict"]["details"] for s in report["samples"])


def test_a_one_character_prime_starts_each_poem(invoke, poetry_run, tmp_path):
    first = poetry_run.vocabulary().tokens[5]
    result = invoke("sample", "poetry", "--runs-dir", poetry_run.dir.parent, "--num-samples", "3", "--seed", "1",
                    "--max-length", "30", "--prime", first, "--out", tmp_path / "s")
    assert result.exit_code == 0, result.output
    assert all((tmp_path / "s" / f"sample_00{n}.txt").read_text().startswith(first) for n in range(1, 4))


def test_a_prime_outside_the_vocabulary(invoke, poetry_run):
    result = invoke("sample", "poetry", "--runs-dir", poetry_run.dir.parent, "--prime", "龍")
    assert_user_error(result, "1 character(s) not in the vocabulary: '龍'")
