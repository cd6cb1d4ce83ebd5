import inspect
import json
import re
import sys
import textwrap
import warnings
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from charmony import __version__
from charmony.cli import CharmonyGroup, cli
from charmony.pipeline.plugin import hookspecs
from charmony.pipeline.plugin.corpus import CorpusPlugin, Document
from charmony.pipeline.system.errors import PluginError
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.manager import PluginWarning, corpora, get_plugin_manager, make_plugin_manager, plugin_infos
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.config import SampleConfig
from charmony.pipeline.sampling.sample import sample
from charmony.pipeline.training.train import train
from tiny import TINY_TRAIN

from assertions import assert_user_error

DOCS = Path(__file__).parent.parent / "docs" / "plugins.md"
ROOT_EXAMPLE = Path(__file__).parent.parent / "examples" / "charmony-corpus-example"


class WordCorpus(CorpusPlugin):
    """Whole words as tokens, as a word-level recipe would have them."""

    name = "counting"
    description = "Counting rhymes, one word per token."
    version = "2.5"
    prime = "one "

    def documents(self, sources, options):
        for _ in range(40):
            yield Document("one two three four, five six seven eight, nine ten a big fat hen\n")

    def tokenize(self, text):
        return re.findall(r"\w+|\W", text)


class WordPlugin:
    @hookimpl
    def register_corpora(self, register):
        register(WordCorpus())


def test_a_registered_plugin_prepares_trains_and_samples_with_its_own_tokens(register_plugin, runs_dir):
    register_plugin(WordPlugin(), "word-plugin")
    assert "counting" in corpora()
    run = Run(runs_dir / "counting")
    prepare(run, PrepareConfig("counting", val_fraction=0.25))
    vocab = run.vocabulary()
    assert {"three", "seven", "hen", " "} <= set(vocab.tokens)
    assert len(vocab) < 25, "words, not characters, are the tokens"
    train(run, TINY_TRAIN)
    samples, meta = sample(run, SampleConfig(num_samples=2, max_length=12, seed=1, temperature=0.3, device="cpu"))
    assert meta["prime"] == "one "
    assert all(s.text.startswith("one two three") for s in samples)


def test_a_run_whose_corpus_plugin_is_gone_names_the_distribution_it_came_from(register_plugin, runs_dir, invoke):
    register_plugin(WordPlugin(), "word-plugin")
    run = Run(runs_dir / "counting")
    assert prepare(run, PrepareConfig("counting")).plugin_distribution == "word-plugin"
    get_plugin_manager().unregister(name="word-plugin")
    result = invoke("sample", "counting", "--runs-dir", runs_dir)
    assert_user_error(result, "prepared with corpus 'counting' from word-plugin 2.5, which is not installed now",
                      "python -m pip install word-plugin")


def test_plugins_lists_name_kind_version_and_description(register_plugin, invoke):
    register_plugin(WordPlugin(), "word-plugin")
    listing = invoke("plugins")
    assert listing.exit_code == 0
    assert re.search(r"^counting\s+corpus\s+2\.5\s+word-plugin\s+Counting rhymes", listing.output, re.M)
    assert re.search(rf"^text\s+corpus\s+{re.escape(__version__)}\s+charmony \(built-in\)", listing.output, re.M)
    data = json.loads(invoke("plugins", "--json").output)
    assert {"name": "counting", "kind": "corpus", "version": "2.5", "origin": "word-plugin",
            "description": "Counting rhymes, one word per token."} in data


class Duplicate:
    @hookimpl
    def register_corpora(self, register):
        register(WordCorpus())


def test_two_plugins_registering_one_name_are_both_named(register_plugin):
    register_plugin(WordPlugin(), "word-plugin")
    register_plugin(Duplicate(), "copycat")
    with pytest.raises(PluginError, match="corpus 'counting' is registered by both 'word-plugin' and 'copycat'"):
        corpora()


class Raising:
    @hookimpl
    def register_corpora(self, register):
        raise RuntimeError("boom")


def test_a_plugin_that_raises_is_skipped_with_a_warning(register_plugin):
    register_plugin(Raising(), "raiser")
    with pytest.warns(PluginWarning, match="plugin 'raiser' raised in register_corpora and is skipped: RuntimeError: boom"):
        found = corpora()
    assert "text" in found


def test_each_plugin_warning_is_shown_once(register_plugin):
    register_plugin(Raising(), "raiser")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        corpora()
        plugin_infos()  # looks the corpora up again, as prepare does
    assert len([w for w in caught if issubclass(w.category, PluginWarning)]) == 1


class WrongThing:
    @hookimpl
    def register_corpora(self, register):
        register("not a plugin")


class BrokenCommands:
    @hookimpl
    def register_commands(self, cli):
        raise RuntimeError("no commands today")


class Hijacker:
    @hookimpl
    def register_commands(self, cli):
        @cli.command("train")
        def train():
            click.echo("hijacked")


def test_a_wrong_registration_is_skipped_with_a_warning(register_plugin):
    register_plugin(WrongThing(), "wrong")
    with pytest.warns(PluginWarning, match="plugin 'wrong' registered 'not a plugin', which is not a named CorpusPlugin"):
        assert "text" in corpora()


def test_broken_or_clashing_plugin_commands_leave_the_cli_working(register_plugin, tmp_path):
    register_plugin(BrokenCommands(), "broken-commands")
    register_plugin(Hijacker(), "hijacker")
    group = CharmonyGroup(name="charmony", commands=dict(cli.commands), context_settings=cli.context_settings)
    with pytest.warns(PluginWarning) as caught:
        result = CliRunner().invoke(group, ["train", "--help"])
    assert result.exit_code == 0 and "Train the model of RUN" in result.output
    messages = [str(w.message) for w in caught]
    assert any("'broken-commands' raised in register_commands" in m and "no commands today" in m for m in messages)
    assert any("command 'train' is skipped" in m for m in messages)


def write_distribution(root: Path, name: str, module_source: str) -> None:
    """An installed distribution with a `charmony` entry point, as pip would leave it."""
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[charmony]\n{name} = {name}_module\n")
    (root / f"{name}_module.py").write_text(textwrap.dedent(module_source))


GOOD = """
    from charmony.pipeline.plugin.corpus import CorpusPlugin, Document
    from charmony.pipeline.plugin.hookspecs import hookimpl

    class Limericks(CorpusPlugin):
        name = "limericks"
        description = "There once was a corpus from Crewe."

        def documents(self, sources, options):
            yield Document("there once was a corpus from crewe")

    @hookimpl
    def register_corpora(register):
        register(Limericks())
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv("CHARMONY_LOAD_PLUGINS")
    yield root
    for name in list(sys.modules):
        if name.endswith("_module") and name.split("_")[0] in {"goodplug", "brokenplug", "typoplug"}:
            del sys.modules[name]


def test_entry_point_plugins_load_and_a_broken_one_only_warns(site):
    write_distribution(site, "goodplug", GOOD)
    write_distribution(site, "brokenplug", "raise ImportError('needs libfoo')\n")
    with pytest.warns(PluginWarning, match="plugin 'brokenplug' from 'brokenplug' failed to load .*needs libfoo"):
        pm = make_plugin_manager()
    infos = {info.name: info for info in plugin_infos(pm)}
    assert infos["limericks"].version == "1.0" and infos["limericks"].origin == "goodplug"
    assert infos["text"].origin == "charmony (built-in)"
    assert "text" in infos


def test_load_plugins_variable_restricts_distributions(site, monkeypatch, recwarn):
    write_distribution(site, "goodplug", GOOD)
    write_distribution(site, "brokenplug", "raise ImportError('needs libfoo')\n")
    monkeypatch.setenv("CHARMONY_LOAD_PLUGINS", "goodplug")
    names = {info.name for info in plugin_infos(make_plugin_manager())}
    assert names >= {"limericks", "text"}
    monkeypatch.setenv("CHARMONY_LOAD_PLUGINS", "")
    assert "limericks" not in {info.name for info in plugin_infos(make_plugin_manager())}
    assert not [w for w in recwarn if issubclass(w.category, PluginWarning)]


def test_misspelt_hook_is_caught_by_check_pending(site):
    write_distribution(site, "typoplug", """
        from charmony.pipeline.plugin.hookspecs import hookimpl

        @hookimpl
        def register_corpra(register):
            pass
    """)
    with pytest.warns(PluginWarning, match="plugin 'typoplug' is skipped: .*register_corpra"):
        pm = make_plugin_manager()
    assert pm.get_plugin("typoplug") is None


class CommandPlugin:
    @hookimpl
    def register_commands(self, cli):
        @cli.command()
        @click.argument("name")
        def greet(name):
            """Say hello."""
            click.echo(f"hello {name}")


def test_register_commands_adds_a_cli_command(register_plugin):
    register_plugin(CommandPlugin(), "greeter")
    group = CharmonyGroup(name="charmony", commands=dict(cli.commands), context_settings=cli.context_settings)
    result = CliRunner().invoke(group, ["greet", "Bach"])
    assert result.exit_code == 0 and result.output == "hello Bach\n"
    assert "greet" in CliRunner().invoke(group, ["--help"]).output


def test_every_hook_is_documented_with_its_signature():
    text = DOCS.read_text()
    specs = [name for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "charmony_spec")]
    assert sorted(specs) == ["register_commands", "register_corpora", "register_outputs"]
    for name in specs:
        arguments = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"### {name}({arguments})" in text, f"docs/plugins.md lacks a section for {name}({arguments})"


def tutorial_module(heading: str, name: str):
    """The first Python block under `heading` in docs/plugins.md, run as a module."""
    import types

    section = DOCS.read_text(encoding="utf-8").split(heading, 1)[1]
    code = textwrap.dedent(re.search(r"```python\n(.*?)\n\s*```", section, re.S).group(1))
    module = types.ModuleType(name)
    exec(compile(code, f"docs/plugins.md ({name})", "exec"), module.__dict__)
    return module


def test_the_output_plugin_tutorial_works_as_written(invoke, tmp_path):
    from charmony.api import registered

    module = tutorial_module("## Tutorial: an output plugin", "charmony_line_checker")
    notes = tmp_path / "notes.txt"
    notes.write_text("short\nfine\n" + "x" * 80 + "\n")
    with registered(module, "charmony-line-checker"):
        checked = invoke("check", notes, "--with", "lines")
        assert checked.exit_code == 1 and checked.output == f"{notes}:3:73: line of 80 characters; at most 72\n"
        rendered = invoke("render", notes, "--to", "lines", "--out", tmp_path / "pages")
        assert rendered.exit_code == 0, rendered.output
        assert "<mark>" + "x" * 80 + "</mark>" in (tmp_path / "pages" / "notes.html").read_text()
    assert not re.search(r"^lines ", invoke("plugins").output, re.M), "registered only for the length of the block"


def test_the_testing_recipe_works_when_the_plugin_is_installed_too(site):
    from charmony.api import registered

    write_distribution(site, "goodplug", GOOD)
    import goodplug_module

    pm = get_plugin_manager()
    pm.register(goodplug_module, name="goodplug")  # as the entry-point loader registers an installed plugin
    try:
        with registered(goodplug_module):  # pm.register would raise "Plugin already registered" here
            assert "limericks" in corpora()
        assert pm.is_registered(goodplug_module), "an installed plugin stays registered"
    finally:
        pm.unregister(goodplug_module)
    with registered(goodplug_module):
        assert "limericks" in corpora()
    assert "limericks" not in corpora()


def test_plugin_authors_need_only_charmony_api():
    import charmony.api

    text = DOCS.read_text(encoding="utf-8") + (ROOT_EXAMPLE / "charmony_corpus_example.py").read_text(encoding="utf-8")
    assert not re.search(r"(from|import) charmony\.pipeline", text), "authors import charmony.api only"
    for name in ("hookimpl", "CorpusPlugin", "Document", "OutputPlugin", "Verdict", "Problem", "Rendered", "CorpusError",
                 "SampleInfo", "Recipe", "registered"):
        assert name in charmony.api.__all__ and getattr(charmony.api, name)


class Auditor:
    """A hook wrapper, as pytest's plugins write them, that sees every plugin's call."""

    def __init__(self):
        self.calls = []

    @hookimpl(wrapper=True)
    def register_outputs(self, register):
        self.calls.append(register)
        return (yield)


def test_hooks_are_called_through_pluggy_so_wrappers_wrap_each_plugin(register_plugin):
    from charmony.pipeline.plugin.manager import outputs

    auditor = Auditor()
    register_plugin(auditor, "auditor")
    implementations = [impl for impl in get_plugin_manager().hook.register_outputs.get_hookimpls() if not impl.wrapper]
    found = outputs()
    assert len(auditor.calls) == len(implementations) > 1, "the wrapper wrapped the call of each plugin, and only those"
    assert len(set(map(id, auditor.calls))) == len(implementations), "each plugin was handed a register of its own"
    assert {"abc", "midi"} <= set(found)


def test_one_check_refuses_unknown_prepare_and_sample_options_naming_the_known_ones():
    from charmony.pipeline.plugin.corpus import check_options
    from charmony.pipeline.system.errors import ConfigError

    class Picky(CorpusPlugin):
        name = "picky"
        options = {"split": "how", "glob": "which"}
        sample_options = {"meter": "which"}

    check_options(Picky(), {"split": "blank"})
    check_options(Picky(), {"meter": "3/4"}, sample=True)
    with pytest.raises(ConfigError, match=r"^corpus 'picky' has no option 'meter'; its options: glob, split$"):
        check_options(Picky(), {"meter": "3/4"})
    with pytest.raises(ConfigError, match=r"^corpus 'picky' has no sample option 'split'; its sample options: meter$"):
        check_options(Picky(), {"split": "blank"}, sample=True)


def test_a_plugin_failure_names_the_plugin_its_origin_what_it_did_and_how_it_failed():
    from charmony.pipeline.plugin.manager import describe_error, plugin_failure

    assert plugin_failure("output", "midi", "in check", ValueError("bad bar"), "some-dist") == (
        "output plugin 'midi' from some-dist failed in check: ValueError: bad bar")
    assert plugin_failure("corpus", "words", "", KeyError("x")) == "corpus plugin 'words' failed: KeyError: 'x'"
    assert describe_error(SystemExit(3)) == "it called sys.exit(3)"
    assert describe_error(ImportError("needs libfoo"), with_type=False) == "needs libfoo"
