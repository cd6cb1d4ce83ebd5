"""`charmony gallery` and `sample --render html`: the page's header, cards, files and card hook, and bad input."""

from __future__ import annotations

import errno
import html
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest

from assertions import assert_user_error
from charmony.pipeline.audio import ogg
from charmony.pipeline.training.checkpoint import Checkpoint
from charmony.pipeline.run.config import GalleryConfig
from charmony.pipeline.gallery.build import RENDERED, build_gallery
from charmony.pipeline.plugin.cards import CardPart, highlighted, marked_text
from charmony.pipeline.gallery.curve import curve_svg, nice_ticks
from charmony.pipeline.training.log import Metrics, read_metrics
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.output import OutputPlugin
from charmony.pipeline.plugin.verdict import Problem
from charmony.pipeline.sampling.sample import Sample
from charmony.pipeline.sampling.folder import write_samples

REEL = "X:1\nT:Reel\nM:4/4\nL:1/8\nK:D\nd2fd c2ec|d2fd cAGE|]\n"
BAD = "X:2\nT:Bad\nM:4/4\nL:1/8\nK:C\nCDEF GABc d|c8|]\n"  # bar 1 lasts 9/8
POEM = "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。\n"
BROKEN_POEM = "床前明月光，疑是地上霜。\n举头望明月，低头思故。\n"
GOOD_CODE = "def greet(name):\n    return 'hello ' + name\n"
BAD_CODE = "def greet(name):\n    return 'hello ' +\n"


def write_set(run, folder: str, texts: list[str], extension: str, outputs: list[str], **settings) -> Path:
    """A sample folder of `run` holding `texts`, checked and rendered by `outputs`, as `charmony sample` writes it."""
    target = run.samples_dir / folder
    metadata = {"run": run.name, "corpus": "text", "checkpoint": str(run.best_path), "step": 200, "seed": 7,
                "temperature": 0.5, "top_k": None, "top_p": 0.9, "prime": "", "max_length": 300, "outputs": outputs, **settings}
    write_samples([Sample(text, True) for text in texts], metadata, target, extension, outputs)
    return target


def card(page: str, anchor: str) -> str:
    """The HTML of one card of the page."""
    found = re.search(rf'<article class="card" id="{anchor}".*?</article>', page, re.S)
    assert found, f"no card {anchor}"
    return found[0]


@pytest.fixture
def run(trained_run, copy_of):
    """A copy of the shared trained run without the samples other tests may have drawn into it."""
    run = copy_of(trained_run)
    shutil.rmtree(run.samples_dir, ignore_errors=True)
    return run


@pytest.fixture
def gallery(run):
    """A run with an ABC, a poem and a Python sample set, and its gallery."""
    write_set(run, "a-tunes", [REEL, BAD], ".abc", ["abc", "midi"])
    write_set(run, "b-poems", [POEM, BROKEN_POEM], ".txt", ["poem"])
    write_set(run, "c-code", [GOOD_CODE, BAD_CODE], ".py", ["python"])
    made = build_gallery(run, GalleryConfig())
    return made, made.index.read_text(encoding="utf-8")


def test_the_header_names_the_corpus_model_training_and_plots_the_losses(run, gallery):
    made, page = gallery
    assert (made.sets, made.samples) == (3, 6) and made.index == run.dir / "gallery" / "index.html"
    checkpoint = Checkpoint.load(run.best_path)
    parameters = sum(t.numel() for t in checkpoint.model.values())
    assert f"1 × 32 LSTM, embedding 16, dropout 0, {parameters:,} parameters" in page
    metrics = [json.loads(line) for line in run.metrics_path.read_text().splitlines()]
    best = min((m for m in metrics if "val_loss" in m), key=lambda m: m["val_loss"])
    assert f"{best['val_bpc']:.3f} bits per character at step {best['step']} (best.pt)" in page
    assert f"trained</dt><dd>{metrics[-1]['step']} steps" in page
    train_line = re.search(r'<polyline class="train" fill="none" points="([^"]*)"', page)[1]
    assert len(train_line.split()) == sum("train_loss" in m for m in metrics)
    assert len(re.findall(r'<circle class="val"', page)) == sum("val_loss" in m for m in metrics)
    assert f"best: step {best['step']}, {best['val_loss']:.3f}" in page


def test_cards_show_verdicts_problems_at_their_spot_and_skipped_renders(gallery):
    _, page = gallery
    good, bad = card(page, "s1-0"), card(page, "s1-1")
    assert 'data-validity="valid"' in good and 'data-validity="invalid"' in bad
    assert "<b>abc</b> valid" in good and "<b>abc</b> invalid" in bad
    assert '<a href="#s1-1-L6">abc, line 6:1</a> voice 1, bar 1 lasts 9/8 but M:4/4 needs 4/4' in bad
    line = re.search(r'<span class="line problem" id="s1-1-L6" data-line="6">(.*?)</span>(?=<span class="line|</pre>)', bad)[1]
    assert line.startswith('<mark class="spot" title="voice 1, bar 1 lasts 9/8 but M:4/4 needs 4/4">C</mark>DEF')
    assert '<span class="line problem"' not in good
    # midi rendered when sampling, score and audio when the gallery was built: all three skip the invalid tune alike
    assert "<b>midi, score, audio</b> tune 1 (line 1) is not rendered: line 6:1" in bad
    assert 'href="files/a-tunes/sample_001.mid"' in good and "sample_002.mid" not in bad


def test_the_gallery_renders_what_a_set_lacks_into_its_own_folder(run, gallery):
    made, page = gallery
    good = card(page, "s1-0")
    folder = run.samples_dir / "a-tunes"
    rendered = made.index.parent / "rendered" / "a-tunes"
    names = sorted(p.name for p in rendered.iterdir())  # the score's two files and one audio file, of the valid tune only
    assert {"sample_001.musicxml", "sample_001.svg"} < set(names) and len(names) == 3, names
    assert all(name.startswith("sample_001.") for name in names)
    assert '<img class="score" loading="lazy" src="rendered/a-tunes/sample_001.svg"' in good
    assert re.search(r'<audio controls preload="none" src="rendered/a-tunes/sample_001\.\w+"', good)
    assert b"<svg" in (rendered / "sample_001.svg").read_bytes()[:2000]
    # the sample folder and its samples.json are as sampling left them
    assert sorted(p.name for p in folder.iterdir()) == ["sample_001.abc", "sample_001.mid", "sample_002.abc", "samples.json"]
    assert set(json.loads((folder / "samples.json").read_text())["samples"][0]["outputs"]) == {"abc", "midi"}


def test_no_render_shows_only_what_sampling_rendered(run, gallery, invoke, tmp_path):
    out = tmp_path / "plain"
    result = invoke("gallery", run.name, "--runs-dir", run.dir.parent, "--samples", run.samples_dir / "a-tunes", "--out", out,
                    "--no-render")
    assert result.exit_code == 0, result.output
    page = out.joinpath("index.html").read_text()
    assert not (out / "rendered").exists() and "<img" not in page and "<audio" not in page
    assert "<b>midi</b> tune 1 (line 1) is not rendered: line 6:1" in card(page, "s1-1")


def test_a_card_offers_the_text_as_the_model_wrote_it_where_charmony_changed_it(run):
    target = run.samples_dir / "raw"
    metadata = {"run": run.name, "corpus": "bach", "outputs": ["abc"]}
    written = REEL.replace("X:1\nT:Reel\n", "X:1/8\n")
    write_samples([Sample(REEL, True, raw=written), Sample(BAD, True, raw=BAD)], metadata, target, ".abc", ["abc"])
    entries = json.loads((target / "samples.json").read_text())["samples"]
    assert entries[0]["raw"] == written and "raw" not in entries[1]
    assert (target / "sample_001.abc").read_text() == REEL
    page = build_gallery(run, GalleryConfig(samples=[target], render=False)).index.read_text()
    first, second = card(page, "s1-0"), card(page, "s1-1")
    assert '<details class="raw"><summary>as the model wrote it</summary>' in first
    assert 'id="s1-0-raw-L1" data-line="1">X:1/8</span>' in first
    assert "as the model wrote it" not in second


def test_poems_are_set_in_a_cjk_font_with_their_form(gallery):
    _, page = gallery
    good, bad = card(page, "s2-0"), card(page, "s2-1")
    assert '<pre class="text poem">' in good and "regular verse: five-character quatrain" in good
    assert "not regular verse" in bad and '<span class="line problem" id="s2-1-L2"' in bad
    css = (Path(gallery[0].index).parent / "gallery.css").read_text()
    assert re.search(r'pre\.poem \{ font-family: "Noto Serif CJK SC"', css)


def test_code_is_highlighted_with_the_parse_error_marked(gallery):
    _, page = gallery
    good, bad = card(page, "s3-0"), card(page, "s3-1")
    assert '<pre class="text code">' in good and '<span class="k">def</span>' in good and '<span class="nf">greet</span>' in good
    assert "parses as Python" in good
    assert "does not parse as Python; 0 of 1 top-level def/class blocks do" in bad
    assert re.search(r'<span class="line problem" id="s3-1-L2"[^>]*>.*<mark class="spot"', bad)
    css = (Path(gallery[0].index).parent / "gallery.css").read_text()
    assert "pre.code .k {" in css  # Pygments' colours, inline: nothing from a CDN


def test_the_gallery_is_self_contained_and_asks_nothing_of_the_network(gallery):
    made, page = gallery
    root = made.index.parent
    addresses = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assert addresses and "gallery.css" in addresses and "gallery.js" in addresses
    for address in addresses:
        assert "://" not in address and not address.startswith("/"), address
        assert (root / address).is_file(), address
    for name in ("index.html", "gallery.css", "gallery.js"):
        text = (root / name).read_text()
        assert not re.search(r"https?://|url\(|@import|fetch\(", text.replace('xmlns="http://www.w3.org/2000/svg"', "")), name


def test_a_copy_of_the_gallery_works_without_the_run_and_shares_no_file_with_it(run, gallery, tmp_path):
    made, _ = gallery
    root = made.index.parent
    samples = {(found.stat().st_dev, found.stat().st_ino) for found in run.samples_dir.rglob("*") if found.is_file()}
    published = [found for found in root.rglob("*") if found.is_file()]
    assert any(found.suffix == ".mid" for found in published) and any(RENDERED in found.parts for found in published)
    for found in published:
        assert found.stat().st_nlink == 1 and (found.stat().st_dev, found.stat().st_ino) not in samples, found
    copy = tmp_path / "elsewhere" / "gallery"
    shutil.copytree(root, copy)
    shutil.rmtree(run.samples_dir)
    shutil.rmtree(root)
    page = (copy / "index.html").read_text(encoding="utf-8")
    addresses = [unquote(html.unescape(a)) for a in re.findall(r'(?:src|href)="([^"#][^"]*)"', page)]
    assert any(a.startswith("files/") for a in addresses) and any(a.startswith(f"{RENDERED}/") for a in addresses)
    assert any(a.endswith((".ogg", ".wav")) for a in addresses) and any(a.endswith(".svg") for a in addresses)
    for address in addresses:
        assert "://" not in address and not Path(address).is_absolute() and "samples/" not in address, address
        target = (copy / address).resolve()
        assert target.is_relative_to(copy.resolve()) and target.is_file() and target.stat().st_size > 0, address


def test_set_and_sample_evaluation_mode_and_options_are_shown_by_name(run):
    folder = write_set(run, "judged", [REEL], ".abc", ["abc"], mode="constrained", options={"meter": "3/4"})
    report = json.loads((folder / "samples.json").read_text())
    report["evaluation"] = {"validity": 0.75, "style": {"pitch": 0.93, "interval": 0.91}, "copying": {"longest_copy": 12},
                            "music": {"melody": {"cadence": {"samples": 0.15, "held_out": 0.775}},
                                      "harmony": {"parallels": {"samples": 7.5, "held_out": None}}}}
    report["samples"][0]["evaluation"] = {"pitch_overlap": 0.875, "copied": False}
    (folder / "samples.json").write_text(json.dumps(report))
    page = build_gallery(run, GalleryConfig(samples=[folder])).index.read_text()
    assert "<dt>mode</dt><dd>constrained</dd>" in page and "<dt>options</dt><dd>meter=3/4</dd>" in page
    assert "<dt>validity</dt><dd>0.75</dd>" in page and "<dt>style</dt><dd>pitch 0.93 · interval 0.91</dd>" in page
    assert "<dt>copying</dt><dd>longest_copy 12</dd>" in page
    # The musical figures make a table of words, the samples' figure and the held-out tunes'.
    assert "<dt>music</dt>" not in page and "<th>figure</th><th>samples</th><th>held-out</th>" in page
    assert "<tr><td>last note on the tonic</td><td>15%</td><td>78%</td></tr>" in page
    assert "<tr><td>parallel fifths and octaves per 100 beat pairs</td><td>7.5</td><td>-</td></tr>" in page
    assert "<dt>pitch_overlap</dt><dd>0.875</dd>" in card(page, "s1-0") and "<dt>copied</dt><dd>no</dd>" in card(page, "s1-0")


class Stars(OutputPlugin):
    """A third party's output plugin with a card of its own."""

    name = "stars"
    description = "Rates a sample by its length."

    def check(self, text):
        return None

    def card(self, sample):
        return [CardPart(f'<p class="stars">{"★" * (len(sample.text) // 20)}</p>', "view"),
                CardPart(f"{len(sample.problems)} problems seen", "notes")]


class BrokenCard(OutputPlugin):
    name = "broken"
    description = "Its card raises."

    def card(self, sample):
        raise RuntimeError("no card today")


class StarsPlugin:
    @hookimpl
    def register_outputs(self, register):
        register(Stars())
        register(BrokenCard())


def test_output_plugins_contribute_card_parts_and_a_broken_one_does_not_stop_the_gallery(run, register_plugin):
    register_plugin(StarsPlugin(), "stars-plugin")
    folder = write_set(run, "rated", [REEL, BAD], ".abc", ["abc", "stars", "broken"])
    page = build_gallery(run, GalleryConfig(samples=[folder])).index.read_text()
    assert f'<p class="stars">{"★" * (len(REEL) // 20)}</p>' in card(page, "s1-0")
    assert "0 problems seen" in card(page, "s1-0") and "1 problems seen" in card(page, "s1-1")
    assert "broken could not show its results: RuntimeError: no card today" in card(page, "s1-0")
    # A part in the view comes before the text on the card.
    assert card(page, "s1-0").index('class="stars"') < card(page, "s1-0").index('<pre class="text abc">')


def test_sample_render_html_builds_a_gallery_of_the_samples_just_drawn(run, invoke, tmp_path):
    out = tmp_path / "drawn"
    result = invoke("sample", run.name, "--runs-dir", run.dir.parent, "--num-samples", 3, "--seed", 1, "--max-length", 80,
                    "--out", out, "--render", "html")
    assert result.exit_code == 0, result.output
    assert f"gallery: {out / 'gallery' / 'index.html'}" in result.output
    page = (out / "gallery" / "index.html").read_text()
    assert page.count('<article class="card"') == 3
    assert json.loads((out / "samples.json").read_text())["outputs"] == []  # html is no output plugin
    for position in range(3):
        text = (out / f"sample_{position + 1:03d}.txt").read_text()
        assert f'data-length="{len(text)}"' in card(page, f"s1-{position}")


class FakeBrowser:
    def __init__(self, name: str):
        self.name, self.opened = name, []

    def open(self, url):
        self.opened.append(url)
        return True


def test_gallery_command_writes_where_asked_and_opens_a_browser(run, gallery, invoke, tmp_path, monkeypatch):
    browser = FakeBrowser("firefox")
    monkeypatch.setattr("webbrowser.get", lambda: browser)
    out = tmp_path / "elsewhere" / "show"
    result = invoke("gallery", run.name, "--runs-dir", run.dir.parent, "--samples", run.samples_dir / "b-poems", "--out", out, "--open")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"gallery of 2 samples from 1 sample folder written to {out / 'index.html'}"
    assert len(result.output.splitlines()) == 2
    assert browser.opened == [(out / "index.html").resolve().as_uri()]
    assert sorted(p.name for p in (out / "files" / "b-poems").iterdir()) == ["samples.json"]


@pytest.mark.parametrize("browser", [None, FakeBrowser("lynx")], ids=["no browser", "a terminal browser"])
def test_open_without_a_graphical_browser_says_so(run, gallery, invoke, tmp_path, monkeypatch, browser):
    import webbrowser

    def get():
        if browser is None:
            raise webbrowser.Error("could not locate runnable browser")
        return browser

    monkeypatch.setattr("webbrowser.get", get)
    result = invoke("gallery", run.name, "--runs-dir", run.dir.parent, "--samples", run.samples_dir / "b-poems",
                    "--out", tmp_path / "show", "--open")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "no graphical web browser is available here; open the address above in one"
    assert browser is None or browser.opened == []


def test_building_again_replaces_an_earlier_gallery(run, gallery):
    made, _ = gallery
    stale = made.index.parent / "files" / "a-tunes" / "sample_001.mid"
    assert stale.is_file()
    again = build_gallery(run, GalleryConfig(samples=[run.samples_dir / "c-code"]))
    assert again.index == made.index and not stale.exists()
    assert again.index.read_text().count('<article class="card"') == 2
    assert not [p for p in again.index.parent.parent.iterdir() if p.name.startswith(".gallery.")]


def test_a_full_disk_fails_the_build_and_keeps_the_earlier_gallery(run, gallery, monkeypatch):
    made, page = gallery

    def disk_full(descriptor, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", disk_full)
    with pytest.raises(OSError, match="No space left"):
        build_gallery(run, GalleryConfig(samples=[run.samples_dir / "c-code"]))
    assert made.index.read_text(encoding="utf-8") == page
    assert not [p for p in made.index.parent.parent.iterdir() if p.name.startswith(".gallery.")]


def test_a_run_without_samples_says_to_sample_first(run, invoke):
    result = invoke("gallery", run.name, "--runs-dir", run.dir.parent)
    assert_user_error(result, f"run {run.name!r} has no samples yet; run `charmony sample {run.name}` first")


def test_a_sample_folder_of_another_run_is_refused(run, invoke, tmp_path):
    folder = write_set(run, "mine", [REEL], ".abc", ["abc"])
    report = json.loads((folder / "samples.json").read_text())
    (folder / "samples.json").write_text(json.dumps(dict(report, run="other")))
    result = invoke("gallery", run.name, "--runs-dir", run.dir.parent, "--samples", folder)
    assert_user_error(result, f"{folder} holds samples of run 'other', not of {run.name!r}", "charmony gallery other --samples")
    assert not (run.dir / "gallery").exists()


@pytest.mark.parametrize("make, message", [
    (lambda folder: folder.mkdir(), "is not a sample folder (it has no samples.json)"),
    (lambda folder: (folder.mkdir(), (folder / "samples.json").write_text("{not json")), "samples.json is not valid JSON"),
    (lambda folder: (folder.mkdir(), (folder / "samples.json").write_text('{"run": "x"}')), "samples.json is damaged"),
])
def test_a_folder_that_is_not_a_sample_folder_is_refused(run, invoke, tmp_path, make, message):
    folder = tmp_path / "loose"
    make(folder)
    assert_user_error(invoke("gallery", run.name, "--runs-dir", run.dir.parent, "--samples", folder), message)


def test_an_unwritable_out_gets_one_line(run, invoke, tmp_path):
    write_set(run, "some", [REEL], ".abc", ["abc"])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = invoke("gallery", run.name, "--runs-dir", run.dir.parent, "--out", blocker / "gallery")
    assert_user_error(result, f"cannot write the gallery to {blocker / 'gallery'}", "give --out a folder you can write")


def test_a_folder_that_is_not_a_gallery_is_never_replaced(run, invoke, tmp_path):
    write_set(run, "some", [REEL], ".abc", ["abc"])
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    result = invoke("gallery", run.name, "--runs-dir", run.dir.parent, "--out", precious)
    assert_user_error(result, f"{precious} already holds files and is not a charmony gallery")
    assert [p.name for p in precious.iterdir()] == ["thesis.tex"]


def test_marked_text_splits_highlighted_tokens_at_the_problem_column():
    text = "x = call(1,\ny = 2\n"
    tokens = highlighted(text, "python")
    html = marked_text(text, [Problem(1, 6, "here"), Problem(2, 40, "past the end")], "c", tokens)
    assert '<span class="n">c</span><mark class="spot" title="here"><span class="n">a</span></mark><span class="n">ll</span>' in html
    assert html.endswith('<span class="mi">2</span><mark class="spot" title="past the end"> </mark></span></pre>')
    assert html.count('class="line') == 2  # the final newline starts no empty line
    assert marked_text("a<b&c", [], "p") == '<pre class="text"><span class="line" id="p-L1" data-line="1">a&lt;b&amp;c</span></pre>'


def test_metrics_with_a_line_cut_short_still_plot(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 10, "train_loss": 2.0}\n{"step": 20, "train_loss": 1.5, "val_loss": 1.6, "val_bpc": 2.3}\n{"step": 3')
    metrics = read_metrics(path)
    assert metrics.train == [(10, 2.0), (20, 1.5)] and metrics.val == [(20, 1.6, 2.3)] and metrics.best == (20, 1.6, 2.3)
    assert nice_ticks(0, 1518) == [0, 500, 1000, 1500, 2000] and nice_ticks(0.21, 3.6) == [0, 1, 2, 3, 4]


def test_the_loss_axis_fits_the_losses_after_the_first_steps_so_overfitting_shows():
    train = [(step, 0.24 + 4.0 * 0.97 ** step) for step in range(0, 1001, 10)]  # from 4.24 at step 0 down to 0.24
    val = [(step, 0.6 if step else 4.3, None) for step in range(0, 1001, 100)]  # flat at 0.6 after the first evaluation
    svg = curve_svg(Metrics(train, val))
    labels = [float(t) for t in re.findall(r'<text class="tick" x="50" y="[\d.]+" text-anchor="end">([\d.]+)</text>', svg)]
    assert labels[0] <= 0.24 and 0.6 <= labels[-1] < 1.5, labels
    plot_height = 260 - 28 - 40

    def last_y(css_class: str) -> float:
        points = re.search(rf'<polyline class="{css_class}" fill="none" points="([^"]+)"', svg)[1].split()
        return float(points[-1].split(",")[1])

    assert last_y("train") - last_y("val") > plot_height / 4  # the gap between the curves is plain to see
    assert "are above the plot" in svg and '<svg class="plot" x="56" y="28" width="568" height="192" viewBox="56 28 568 192">' in svg
    whole = curve_svg(Metrics([(0, 1.0), (100, 0.8)], [(100, 0.9, None)]))  # nothing to leave out: no note
    assert "are above the plot" not in whole


@pytest.mark.skipif(not ogg.available(), reason="libsndfile (Debian libsndfile1) is not installed: audio is WAV")
def test_the_gallery_plays_each_tune_from_its_ogg_file(run):
    write_set(run, "tunes", [REEL], ".abc", ["abc", "audio"])
    made = build_gallery(run, GalleryConfig())
    player = re.search(r'<audio controls preload="none" src="([^"]+)"', card(made.index.read_text(encoding="utf-8"), "s1-0"))
    assert player and player[1] == "files/tunes/sample_001.ogg"
    assert (made.index.parent / player[1]).read_bytes()[:4] == b"OggS"
