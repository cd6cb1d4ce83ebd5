"""Galleries of tiny trained Bach, poetry and code runs, opened from file:// in headless Chromium and checked through the DOM."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from browser import Browser, find_chromium
from charmony.cli import cli
from charmony.pipeline.abc.midi import tune_to_midi
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.samples_file import read_sample_set
from charmony.pipeline.training.train import train
from tiny import TINY_TRAIN

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="headless Chromium (Debian package chromium) is not installed")

# One meter and unit, so that a header the model mixes from two tunes still fits the bars; no Q: field, so that
# every tune plays at 120 quarters a minute.
TUNES = """X:1
T:Rising
M:4/4
L:1/4
K:C
C D E F|G A B c|c B A G|F E D C|E2 G2|c4|]

X:2
T:Steps
M:4/4
L:1/4
K:G
G2 B2|d2 B2|c2 A2|G4|B d g d|e c B2|]

X:3
T:Falling
M:4/4
L:1/4
K:F
c B A G|F2 A2|G F E D|C4|]
"""
POEMS = """春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。
白日依山尽，黄河入海流。欲穷千里目，更上一层楼。
床前明月光，疑是地上霜。举头望明月，低头思故乡。
千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。
红豆生南国，春来发几枝。愿君多采撷，此物最相思。
空山不见人，但闻人语响。返景入深林，复照青苔上。
"""
CODE = {
    "greet.py": "def greet(name):\n    return 'hello ' + name\n\n\nprint(greet('world'))\n",
    "total.py": "def total(numbers):\n    result = 0\n    for number in numbers:\n        result += number\n    return result\n",
    "shapes.py": "class Square:\n    def __init__(self, side):\n        self.side = side\n\n    def area(self):\n        return self.side * self.side\n",
}
# Every card of a page, as the reader sees it: images loaded, players' durations, problems, the text shown.
READ_CARDS = """(async () => {
  for (const image of document.images) image.loading = "eager";
  const cards = [];
  for (const card of document.querySelectorAll("article.card")) {
    const players = [];
    for (const player of card.querySelectorAll("audio")) {
      player.scrollIntoView();
      players.push(await new Promise(done => {
        const seen = () => done({ready: player.readyState, duration: player.duration, src: player.currentSrc});
        player.addEventListener("loadedmetadata", seen, {once: true});
        player.addEventListener("error", seen, {once: true});
        setTimeout(seen, 20000);  // neither event: the page's readyState 0 fails the test, not a hang
        player.load();  // preload="none" as the gallery writes it: load() still fetches the metadata
      }));
    }
    const images = [...card.querySelectorAll("img.score")];
    await Promise.all(images.map(image => image.decode().catch(() => null)));
    cards.push({
      folder: card.closest("section").querySelector("h2").firstChild.textContent.trim(),
      file: card.querySelector("h3").textContent,
      validity: card.dataset.validity,
      players,
      images: images.map(image => ({src: image.src, width: image.naturalWidth, height: image.naturalHeight})),
      problems: [...card.querySelectorAll("ol.problems li")].map(item => item.textContent),
      targets: [...card.querySelectorAll("ol.problems a")].map(a => {
        const line = document.getElementById(a.getAttribute("href").slice(1));
        return line && line.classList.contains("problem") && line.closest("article") === card;
      }),
      marks: card.querySelectorAll(".line.problem mark.spot").length,
      text: [...card.querySelectorAll("pre.text:not(.raw) .line")].map(line => line.textContent).join("\\n"),
      raw: [...card.querySelectorAll("details.raw pre.raw .line")].map(line => line.textContent).join("\\n"),
      notes: [...card.querySelectorAll(".notes")].map(note => note.textContent).join(" "),
    });
  }
  return cards;
})()"""


def tune_seconds(text: str) -> float:
    """How long an ABC tune plays, repeats unrolled, as charmony's own MIDI writer (the audio renderer's source) times it."""
    return tune_to_midi(parse_tune(text))[1]


def charmony(*args) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def trained(root: Path, corpus: str, sources: list[Path], steps: int, **options) -> Run:
    run = Run(root / "runs" / corpus)
    prepare(run, PrepareConfig(corpus, sources, options=options, val_fraction=0.2))
    train(run, dataclasses.replace(TINY_TRAIN, max_steps=steps))
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    """Tiny trained Bach, poetry and code runs with their galleries: Bach's of two sample sets (one sampled with its
    scores and audio, one with MIDI only), the others' from --render html."""
    root = tmp_path_factory.mktemp("galleries")
    (root / "tunes.abc").write_text(TUNES, encoding="utf-8")
    (root / "poems.txt").write_text(POEMS * 4, encoding="utf-8")
    (root / "code").mkdir()
    for name, text in CODE.items():
        (root / "code" / name).write_text(text, encoding="utf-8")
    bach = trained(root, "bach", [root / "tunes.abc"], 300, instances="60")
    runs_dir = root / "runs"
    common = ("--runs-dir", runs_dir, "--seed", 3, "--max-length", 400)
    # the latest checkpoint: the held-out tune is one the run never saw, so the best validation loss comes early
    latest = ("--checkpoint", "latest")
    charmony("sample", "bach", *common, *latest, "--num-samples", 4, "--temperature", 0.2, "--out", bach.samples_dir / "careful",
             "--render", "midi,score,audio,html")
    # only MIDI: the run's gallery renders the scores and audio of this set itself
    charmony("sample", "bach", *common, *latest, "--num-samples", 3, "--temperature", 1.5, "--out", bach.samples_dir / "wild",
             "--render", "midi")
    charmony("gallery", "bach", "--runs-dir", runs_dir)
    poetry = trained(root, "poetry", [root / "poems.txt"], 150)
    charmony("sample", "poetry", *common, "--num-samples", 4, "--temperature", 0.5, "--out", root / "poems-out", "--render", "html")
    code = trained(root, "code", [root / "code"], 150)
    charmony("sample", "code", *common, "--num-samples", 3, "--temperature", 0.5, "--out", root / "code-out", "--render", "html")
    return {"bach": bach, "poetry": poetry, "code": code, "poems-out": root / "poems-out", "code-out": root / "code-out"}


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield chromium
    finally:
        chromium.close()


def open_checked(browser: Browser, index: Path, screenshot: Path):
    """Open a gallery, read its cards, save a screenshot, and check that it neither erred nor left file://."""
    page = browser.open(index.resolve().as_uri())
    cards = page.evaluate(READ_CARDS)
    page.screenshot(screenshot)
    assert screenshot.stat().st_size > 10_000
    assert page.errors() == []
    requested = page.requested_urls()
    assert index.resolve().as_uri() in requested and any(url.endswith("/gallery.js") for url in requested)
    assert [url for url in requested if not url.startswith(("file://", "data:"))] == []
    return page, cards


def test_bach_gallery_draws_every_valid_score_plays_every_tune_and_shows_every_problem(runs, browser, tmp_path):
    bach = runs["bach"]
    page, cards = open_checked(browser, bach.dir / "gallery" / "index.html", tmp_path / "bach.png")
    assert len(cards) == 7 and {c["folder"] for c in cards} == {"careful", "wild"}
    valid = [c for c in cards if c["validity"] == "valid"]
    invalid = [c for c in cards if c["validity"] == "invalid"]
    assert valid and invalid and len(valid) + len(invalid) == 7
    for card in cards:
        written = (bach.samples_dir / card["folder"] / card["file"]).read_text(encoding="utf-8")
        assert card["text"] == written.rstrip("\n"), card["file"]
        entry = next(e for e in read_sample_set(bach.samples_dir / card["folder"], "").samples if e["file"] == card["file"])
        # charmony put in T: and C:, so what the model wrote differs, and the card offers it
        assert entry["raw"] != written and card["raw"] == entry["raw"].rstrip("\n"), card["file"]
    for card in valid:
        rendered_by = "files/careful/" if card["folder"] == "careful" else "rendered/wild/"
        assert all(rendered_by in image["src"] for image in card["images"]), card
        assert card["images"] and all(image["width"] > 0 and image["height"] > 0 for image in card["images"]), card
        for image in card["images"]:
            assert page.resource(image["src"]).count('class="notehead"') > 0, image["src"]
        assert len(card["players"]) == 1, card
        player = card["players"][0]
        assert player["ready"] >= 1 and player["src"].startswith("file://"), (card["file"], player)
        assert player["duration"] == pytest.approx(tune_seconds(card["text"]), rel=0.1), (card["file"], card["text"])
        assert card["notes"].startswith("played by ")
    for card in invalid:
        assert card["problems"] and all(card["targets"]) and card["marks"] >= 1, card
        assert re.match(r"abc, line \d+:\d+ ", card["problems"][0])
        assert not card["images"] and not card["players"]
    shown = page.evaluate("""(() => { const show = document.getElementById("show"); show.value = "invalid";
        show.dispatchEvent(new Event("change"));
        return [[...document.querySelectorAll("article.card")].filter(c => !c.hidden).map(c => c.dataset.validity),
                document.getElementById("count").textContent]; })()""")
    assert shown == [["invalid"] * len(invalid), f"{len(invalid)} of 7 samples"]
    lengths = page.evaluate("""(() => { const order = document.getElementById("order"); order.value = "longest";
        order.dispatchEvent(new Event("change"));
        return [...document.querySelectorAll("section")[0].querySelectorAll("article.card")].map(c => +c.dataset.length); })()""")
    assert lengths == sorted(lengths, reverse=True) and len(lengths) == 4
    assert page.errors() == []


def test_the_gallery_of_sample_render_html_shows_the_samples_just_drawn(runs, browser, tmp_path):
    _, cards = open_checked(browser, runs["bach"].samples_dir / "careful" / "gallery" / "index.html", tmp_path / "careful.png")
    assert [c["file"] for c in cards] == [f"sample_{n:03d}.abc" for n in range(1, 5)]


def test_poems_are_set_in_a_cjk_font_with_their_form_verdict(runs, browser, tmp_path):
    page, cards = open_checked(browser, runs["poems-out"] / "gallery" / "index.html", tmp_path / "poems.png")
    assert len(cards) == 4 and all(re.fullmatch(r"(not )?regular verse.*", c["notes"].strip()) for c in cards)
    assert any(c["validity"] == "valid" for c in cards)
    fonts = page.evaluate('[...document.querySelectorAll("pre.poem")].map(p => getComputedStyle(p).fontFamily)')
    assert len(fonts) == 4 and all(font.startswith('"Noto Serif CJK SC"') for font in fonts)


def test_code_is_highlighted_with_its_parse_verdict(runs, browser, tmp_path):
    page, cards = open_checked(browser, runs["code-out"] / "gallery" / "index.html", tmp_path / "code.png")
    assert len(cards) == 3 and all(c["notes"].strip().startswith(("parses as Python", "does not parse as Python")) for c in cards)
    keywords = page.evaluate('[...document.querySelectorAll("pre.code span.k")].map(k => [k.textContent, getComputedStyle(k).color])')
    assert {word for word, _ in keywords} & {"def", "return", "class", "for"}
    assert all(colour != "rgb(29, 35, 42)" for _, colour in keywords)  # coloured by Pygments' style, not the page's ink
    for card in cards:
        if card["validity"] == "invalid":
            assert card["problems"] and all(card["targets"]) and card["marks"] >= 1


# How wide the page and its parts are, with every card laid out (off screen they are skipped otherwise).
MEASURE = """(async () => {
  for (const card of document.querySelectorAll("article.card")) card.style.contentVisibility = "visible";
  for (const image of document.images) image.loading = "eager";
  await Promise.all([...document.images].map(image => image.decode().catch(() => null)));
  const root = document.documentElement;
  const box = element => element.getBoundingClientRect();
  const outside = [...document.querySelectorAll("article.card, article.card img, article.card audio, svg.curve, pre.text")]
    .filter(element => box(element).right > root.clientWidth + 0.5).map(element => element.tagName + "." + element.className);
  const wrapped = [...document.querySelectorAll("pre.text .line")].filter(line => line.getClientRects().length && box(line).height > 30).length;
  const curve = document.querySelector("svg.curve"), caption = document.querySelector("figure.curve figcaption");
  return {scroll: root.scrollWidth, client: root.clientWidth, viewport: window.innerWidth, outside, wrapped,
          curveAboveCaption: box(curve).bottom <= box(caption).top + 0.5, curveWidth: box(curve).width,
          scores: [...document.querySelectorAll("img.score")].map(image => [box(image).width, box(image.closest("article")).width])};
})()"""


@pytest.mark.parametrize("width", [390, 1280])
def test_the_page_fits_a_phone_and_a_desktop_without_scrolling_sideways(runs, browser, width):
    for index in (runs["bach"].dir / "gallery" / "index.html", runs["poems-out"] / "gallery" / "index.html",
                  runs["code-out"] / "gallery" / "index.html"):
        page = browser.open(index.resolve().as_uri(), width=width, height=800)
        found = page.evaluate(MEASURE)
        assert found["viewport"] == width and found["scroll"] <= found["client"] <= width, (index, found)
        assert found["outside"] == [], (index, found["outside"])
        assert found["curveAboveCaption"] and found["curveWidth"] <= min(width, 640), found
        assert all(0 < image <= card for image, card in found["scores"]), found["scores"]
        assert page.errors() == []


def test_long_lines_of_text_wrap_within_the_card(runs, browser, tmp_path):
    folder = tmp_path / "code-samples"
    shutil.copytree(runs["code-out"], folder, ignore=shutil.ignore_patterns("gallery"))
    (folder / "sample_001.py").write_text("values = [" + ", ".join(str(n) for n in range(200)) + "]\n", encoding="utf-8")
    out = tmp_path / "long"
    charmony("gallery", "code", "--runs-dir", runs["code"].dir.parent, "--samples", folder, "--out", out)
    page = browser.open((out / "index.html").resolve().as_uri(), width=390, height=800)
    found = page.evaluate(MEASURE)
    assert found["wrapped"] >= 1 and found["scroll"] <= found["client"] and found["outside"] == [], found
    first = page.evaluate('getComputedStyle(document.querySelector("pre.text .line"), "::before").content')
    assert first == '"1"'  # the line number still shows, once, before the wrapped line
    assert page.errors() == []


def cjk_font_installed() -> bool:
    """Whether fontconfig knows a font with Chinese glyphs."""
    if shutil.which("fc-list") is None:
        return False
    listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False)
    return bool(listed.stdout.strip())


def test_the_poems_glyphs_draw(runs, browser):
    if not cjk_font_installed():
        pytest.skip("no CJK font is installed, so Chromium draws the poems' characters as empty boxes; "
                    "install one (Debian and Ubuntu: fonts-noto-cjk), as the README says")
    page = browser.open((runs["poems-out"] / "gallery" / "index.html").resolve().as_uri())
    # Each character drawn alone on a canvas in the poem's font: a font that has them draws each differently,
    # while missing glyphs all draw as the same box.
    drawings = page.evaluate("""(() => {
      const font = getComputedStyle(document.querySelector("pre.poem")).fontFamily;
      return [..."春眠晓鸟花"].map(character => {
        const canvas = document.createElement("canvas");
        canvas.width = canvas.height = 40;
        const context = canvas.getContext("2d");
        context.font = "32px " + font;
        context.fillText(character, 2, 32);
        return canvas.toDataURL();
      });
    })()""")
    assert len(set(drawings)) == 5
    assert page.errors() == []
