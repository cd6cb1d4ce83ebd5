"""The README and docs/: links that resolve, a front page of at most 200 lines, and README examples that run."""

from __future__ import annotations

import dataclasses
import re
import shlex
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from abc_tunes import SOPRANO
from charmony.cli import cli
from charmony.pipeline.data.prepare import PrepareConfig, prepare
from charmony.pipeline.run.folder import Run
from charmony.pipeline.training.train import train
from tiny import TINY_TRAIN

ROOT = Path(__file__).resolve().parent.parent
README_LINES = 200
NOT_RUN = re.compile(r"<!--\s*not run:\s*(.+?)\s*-->")
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w-]*)")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_SOURCE = re.compile(r"""<(?:img|a)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)
SHELL_BLOCKS = {"sh", "bash", "console", "shell"}


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def outside_fences(text: str) -> list[str]:
    """The lines of a Markdown text outside its fenced code blocks."""
    lines, fence = [], None
    for line in text.splitlines():
        if fence is None:
            opened = FENCE.match(line)
            if opened:
                fence = opened[1]
            else:
                lines.append(line)
        elif line.strip().startswith(fence) and not line.strip().strip(fence[0]):
            fence = None
    return lines


def prose_lines(text: str) -> list[str]:
    """The lines of a Markdown text outside code blocks, with inline code spans blanked out."""
    return [re.sub(r"`+[^`]*`+", "``", line) for line in outside_fences(text)]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def heading_anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, with -1, -2… for repeated headings as GitHub numbers them."""
    seen: dict[str, int] = {}
    found = set()
    for line in outside_fences(path.read_text(encoding="utf-8")):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            base = slug(heading[1])
            count = seen.get(base, 0)
            found.add(base if count == 0 else f"{base}-{count}")
            seen[base] = count + 1
    return found


def broken_links(path: Path) -> list[str]:
    """The relative links and images of a Markdown file whose file or #anchor does not exist."""
    broken = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        for target in LINK.findall(line) + HTML_SOURCE.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # https:, mailto:, file:
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{path.name}: {target}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
                broken.append(f"{path.name}: {target}: no heading with that anchor")
    return broken


def test_slug_follows_github():
    assert slug("Bach and folk tunes in ABC") == "bach-and-folk-tunes-in-abc"
    assert slug("`bench_gallery.py`") == "bench_gallerypy"
    assert slug("check, render, plugins") == "check-render-plugins"
    assert slug("register_corpora(register)") == "register_corporaregister"
    assert slug("Time series and `forecast`") == "time-series-and-forecast"


def test_link_check_finds_a_renamed_heading_and_a_missing_file(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## The gallery\n\n```sh\n# not a heading\n```\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[ok](other.md#the-gallery) [self](#page) [gone](other.md#not-a-heading)\n"
        "[missing](nowhere.md) ![shot](shot.png) [web](https://example.org/x.md)\n"
        "`[in code](nowhere-either.md)`\n\n```md\n[in a block](nor-this.md)\n```\n",
        encoding="utf-8",
    )
    assert sorted(broken_links(page)) == [
        "page.md: nowhere.md: no such file",
        "page.md: other.md#not-a-heading: no heading with that anchor",
        "page.md: shot.png: no such file",
    ]


@pytest.mark.parametrize("path", doc_files(), ids=lambda path: path.name)
def test_links_and_images_resolve(path):
    assert broken_links(path) == []


def test_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_LINES
    for page in ("cli.md", "corpora.md", "outputs.md", "benchmarks.md", "architecture.md", "plugins.md"):
        assert f"(docs/{page})" in text, f"README does not link docs/{page}"
    for words in ("make demo", "make test", "runs/bach-demo", "demo-samples", "demo-gallery/index.html", "fonts-noto-cjk",
                  "abcmidi", "abcm2ps", "fluid-soundfont-gm", "chromium", "(docs/gallery.png)"):
        assert words in text, f"README does not mention {words}"


@dataclasses.dataclass(frozen=True)
class Example:
    """One `charmony` command of a shell block of the README, with the reason it is not run, if it has one."""

    line: int
    command: str
    not_run: str | None

    def args(self) -> list[str]:
        """The command's arguments as the shell would split them, comments dropped."""
        words = shlex.split(self.command, comments=True)
        assert words[0] == "charmony", self.command
        return words[1:]


def readme_examples(text: str) -> list[Example]:
    """The `charmony` commands in the sh, bash and console blocks of a README, in order.

    A block after a `<!-- not run: reason -->` comment (blank lines between allowed) is marked with that reason.
    """
    examples, fence, language, reason, pending = [], None, "", None, None
    for number, line in enumerate(text.splitlines(), 1):
        opened = FENCE.match(line)
        if fence is None:
            if opened:
                fence, language, reason, pending = opened[1], opened[2].lower(), pending, None
            elif NOT_RUN.search(line):
                pending = NOT_RUN.search(line)[1]
            elif line.strip():
                pending = None
            continue
        if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
            fence = None
            continue
        command = re.sub(r"^\s*\$\s+", "", line).strip()
        if language in SHELL_BLOCKS and command.startswith("charmony "):
            examples.append(Example(number, command, reason))
    return examples


def test_examples_are_read_from_shell_blocks_with_their_reasons():
    text = (
        "```bash\ncharmony plugins  # list\n$ charmony check a.abc\n```\n"
        "<!-- not run: trains for minutes -->\n\n```sh\ncharmony train x\n```\n"
        "```python\ncharmony = 1\n```\n```text\ncharmony sample x\n```\n"
        "```console\n$ charmony sample 'a b' --prime \"X:\"\n```\n"
    )
    examples = readme_examples(text)
    assert [(e.command, e.not_run) for e in examples] == [
        ("charmony plugins  # list", None),
        ("charmony check a.abc", None),
        ("charmony train x", "trains for minutes"),
        ("charmony sample 'a b' --prime \"X:\"", None),
    ]
    assert examples[0].args() == ["plugins"]
    assert examples[3].args() == ["sample", "a b", "--prime", "X:"]


def test_readme_has_examples_to_run_and_says_why_others_are_not():
    examples = readme_examples((ROOT / "README.md").read_text(encoding="utf-8"))
    assert any(e.not_run is None for e in examples)
    assert any("bach-demo" in e.command for e in examples if e.not_run is None)


@pytest.fixture
def after_make_demo(tmp_path, monkeypatch):
    """A folder as `make demo` leaves it, but small: a tiny runs/bach-demo and its demo-samples."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHARMONY_RUNS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    tunes = tmp_path / "tunes.abc"
    tunes.write_text("\n\n".join(SOPRANO), encoding="utf-8")
    run = Run(tmp_path / "runs" / "bach-demo")
    prepare(run, PrepareConfig("bach", [tunes], options={"instances": "60"}, val_fraction=0.2))
    train(run, dataclasses.replace(TINY_TRAIN, max_steps=150))
    result = CliRunner().invoke(cli, ["sample", "bach-demo", "--num-samples", "2", "--max-length", "600", "--temperature",
                                      "0.8", "--seed", "1", "--out", "demo-samples", "--render", "midi"])
    assert result.exit_code == 0, result.output
    tunes.unlink()
    return tmp_path


def test_readme_examples_run_as_written(after_make_demo):
    examples = [e for e in readme_examples((ROOT / "README.md").read_text(encoding="utf-8")) if e.not_run is None]
    runner = CliRunner()
    for example in examples:
        result = runner.invoke(cli, example.args())
        assert result.exit_code == 0, f"README line {example.line}: {example.command}\n{result.output}"
    assert list((after_make_demo / "runs" / "bach-demo" / "samples").glob("*/samples.json"))
    # an example that went stale would fail the same way
    stale = Example(0, "charmony sample bach-demo --num-samples 1 --option mode=lydian --out stale", None)
    assert runner.invoke(cli, stale.args()).exit_code != 0
