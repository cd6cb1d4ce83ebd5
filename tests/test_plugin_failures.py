"""A corpus plugin whose code raises or calls sys.exit() fails by name, and leaves the run as it was."""

import sys

import pytest

from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.plugin.corpus import CorpusPlugin, Document
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.manager import corpus_call
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.sampling.sample import prime_tokens
from charmony.pipeline.system.errors import ConfigError, PluginError

from assertions import assert_user_error

TEXT = "one two three four, five six seven eight\n" * 20


class Quitting(CorpusPlugin):
    """Calls sys.exit(3) in whichever method `where` names; Ctrl-C there when `interrupt`."""

    name = "quitting"
    description = "Gives up."

    def __init__(self, where: str = "documents", interrupt: bool = False):
        self.where, self.interrupt = where, interrupt

    def _maybe_quit(self, where: str) -> None:
        if where == self.where:
            if self.interrupt:
                raise KeyboardInterrupt
            sys.exit(3)

    def documents(self, sources, options):
        yield Document(TEXT)
        self._maybe_quit("documents")
        yield Document(TEXT)

    def tokenize(self, text):
        self._maybe_quit("tokenize")
        return text

    def profile(self, documents):
        self._maybe_quit("profile")
        return {"documents": sum(1 for _ in documents)}

    def sample_extension(self, options):
        self._maybe_quit("sample_extension")
        return ".txt"


class QuittingPlugin:
    def __init__(self, corpus: Quitting):
        self.corpus = corpus

    @hookimpl
    def register_corpora(self, register):
        register(self.corpus)


def contents(folder):
    """Every file under `folder` but the lock file (whose record names its last holder), with its bytes."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}


def test_a_corpus_plugin_calling_sys_exit_in_documents_fails_by_name_and_leaves_the_run_as_it_was(
        register_plugin, prepared, runs_dir, invoke):
    register_plugin(QuittingPlugin(Quitting("documents")), "quitting-plugin")
    kept = prepared("kept")
    before = contents(runs_dir)
    result = invoke("prepare", "quitting", "--run", "kept", "--runs-dir", runs_dir)
    assert_user_error(result, "corpus plugin 'quitting' failed: it called sys.exit(3)")
    assert contents(runs_dir) == before, "the run's files are as they were, and no staging folder is left"
    assert sorted(p.name for p in runs_dir.iterdir()) == [kept.name]
    result = invoke("prepare", "quitting", "--run", "fresh", "--runs-dir", runs_dir)
    assert_user_error(result, "corpus plugin 'quitting' failed: it called sys.exit(3)")
    assert not (runs_dir / "fresh").exists(), "a first prepare that failed leaves no folder"


@pytest.mark.parametrize("where, doing", [
    ("tokenize", "to tokenize its documents"),
    ("profile", "to profile its documents"),
    ("sample_extension", "to name its sample files"),
])
def test_sys_exit_anywhere_in_prepare_names_the_plugin_and_what_it_was_doing(register_plugin, runs_dir, where, doing):
    register_plugin(QuittingPlugin(Quitting(where)), "quitting-plugin")
    run = Run(runs_dir / where)
    with pytest.raises(PluginError, match=rf"^corpus plugin 'quitting' failed {doing}: it called sys\.exit\(3\)$"):
        prepare(run, PrepareConfig("quitting"))
    assert not runs_dir.exists() or not any(runs_dir.iterdir()), "nothing is left behind"


def test_ctrl_c_in_a_corpus_plugin_still_interrupts(register_plugin, runs_dir):
    register_plugin(QuittingPlugin(Quitting("documents", interrupt=True)), "quitting-plugin")
    with pytest.raises(KeyboardInterrupt):
        prepare(Run(runs_dir / "stopped"), PrepareConfig("quitting"))
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_corpus_call_names_sys_exit_passes_our_own_errors_and_ctrl_c():
    corpus = Quitting("tokenize")
    with pytest.raises(PluginError, match=r"^corpus plugin 'quitting' failed to tokenize --prime: it called sys\.exit\(3\)$"):
        prime_tokens(corpus, "one")
    assert prime_tokens(Quitting("nowhere"), "one") == ["o", "n", "e"]
    with pytest.raises(ConfigError, match="^meter 5/4 is not offered$"):
        with corpus_call(corpus, "to make its constraint"):
            raise ConfigError("meter 5/4 is not offered")
    with pytest.raises(KeyboardInterrupt):
        with corpus_call(corpus, "to finish sample 1"):
            raise KeyboardInterrupt
    with pytest.raises(PluginError, match=r"^corpus plugin 'quitting' failed to finish sample 2: ValueError: no$") as caught:
        with corpus_call(corpus, "to finish sample 2"):
            raise ValueError("no")
    assert isinstance(caught.value.__cause__, ValueError)
