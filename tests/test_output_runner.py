"""One runner of output plugins for check, render and sample: misbehaving plugins, shared parses, safe folders."""

import json
import os
import subprocess
import sys

import pytest

from charmony.pipeline.abc import render as abc_render
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.output import OutputPlugin
from charmony.pipeline.plugin.verdict import Verdict
from charmony.pipeline.outputs.runner import OutputRunner
from charmony.pipeline.plugin.manager import PluginWarning, get_outputs
from charmony.pipeline.sampling.sample import Sample
from charmony.pipeline.sampling.folder import write_samples

TUNE = "X:1\nT:Scale\nM:4/4\nL:1/8\nK:C\nCDEF GABc|]\n"


class RaisesInAccepts(OutputPlugin):
    name = "picky"

    def accepts(self, path):
        raise RuntimeError("cannot decide")


class ReturnsAString(OutputPlugin):
    name = "chatty"

    def check(self, text):
        return "looks fine to me"


class Exits(OutputPlugin):
    name = "quitter"

    def check(self, text):
        sys.exit(3)


class Counts(OutputPlugin):
    name = "counts"

    def check(self, text):
        return Verdict(True, details={"characters": len(text)})


class Misbehaving:
    @hookimpl
    def register_outputs(self, register):
        for plugin in (RaisesInAccepts(), ReturnsAString(), Exits(), Counts()):
            register(plugin)


def test_plugins_that_raise_in_accepts_return_nonsense_or_exit_are_named_and_the_others_go_on(register_plugin, invoke, tmp_path):
    register_plugin(Misbehaving(), "misbehaving-plugin")
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.warns(PluginWarning) as caught:
        outputs = OutputRunner(get_outputs(["picky", "chatty", "quitter", "counts"])).run(path, tmp_path)
    messages = [str(w.message) for w in caught]
    assert any("'picky' from misbehaving-plugin failed in accepts: RuntimeError: cannot decide" in m for m in messages)
    assert any("'chatty' from misbehaving-plugin failed in check: it returned str, not a Verdict" in m for m in messages)
    assert any("'quitter' from misbehaving-plugin failed in check: it called sys.exit(3)" in m for m in messages)
    assert outputs.results["counts"]["verdict"]["details"] == {"characters": 5}
    assert "picky" not in outputs.results and "error" in outputs.results["chatty"] and "error" in outputs.results["quitter"]
    result = invoke("check", path, "--with", "quitter,counts")
    assert result.exit_code == 1 and "checker 'quitter' failed: it called sys.exit(3)" in result.output


def test_check_goes_on_past_a_file_that_is_not_utf8(invoke, tmp_path):
    first, second = tmp_path / "a.abc", tmp_path / "b.abc"
    first.write_bytes(b"X:1\nT:caf\xe9\nK:C\nC|]\n")
    second.write_text("X:1\nK:C\nC|]\n")
    result = invoke("check", first, second)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"{first}: not UTF-8 (byte 0xe9 at offset 9); convert it, e.g. `iconv -t UTF-8`"
    assert len(result.output.splitlines()) == 1, "b.abc was checked, and is fine"
    assert invoke("check", second).exit_code == 0


def test_renderers_reuse_the_parse_of_the_abc_check_that_ran_first(tmp_path, monkeypatch):
    path = tmp_path / "tune.abc"
    path.write_text(TUNE)
    parses = []
    real = abc_render.check_tune
    monkeypatch.setattr(abc_render, "check_tune", lambda tune: parses.append(tune) or real(tune))
    outputs = OutputRunner(get_outputs(["abc", "midi"])).run(path, tmp_path)
    assert outputs.results["midi"]["files"] == ["tune.mid"] and parses == []
    OutputRunner(get_outputs(["midi"])).run(path, tmp_path)
    assert len(parses) == 1, "without the check, the renderer parses the file itself"


def test_sampling_into_a_folder_never_follows_a_planted_link(tmp_path):
    out, victim = tmp_path / "out", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text("precious")
    (out / "sample_001.abc").symlink_to(victim)
    (out / "sample_001.mid").symlink_to(victim)
    write_samples([Sample(TUNE, True)], {"run": "r"}, out, ".abc", ["abc", "midi"])
    assert victim.read_text() == "precious"
    assert not (out / "sample_001.abc").is_symlink() and (out / "sample_001.abc").read_text() == TUNE
    assert not (out / "sample_001.mid").is_symlink() and (out / "sample_001.mid").read_bytes().startswith(b"MThd")
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no scratch folder or temporary is left"


def test_a_foreign_samples_json_deletes_nothing_and_edited_files_are_kept(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    (out / "samples.json").write_text(json.dumps({"samples": [{"file": "thesis.tex", "outputs": {}}],
                                                  "written": {"thesis.tex": "0" * 64}}))
    write_samples([Sample("one", True), Sample("two", True)], {"run": "r"}, out, ".txt", [])
    assert (out / "thesis.tex").read_text() == "years of work"
    (out / "sample_002.txt").write_text("edited by hand")
    write_samples([Sample("three", True)], {"run": "r"}, out, ".txt", [])
    assert sorted(p.name for p in out.iterdir()) == ["sample_001.txt", "sample_002.txt", "samples.json", "thesis.tex"]
    assert (out / "sample_001.txt").read_text() == "three" and (out / "sample_002.txt").read_text() == "edited by hand"
    report = json.loads((out / "samples.json").read_text())
    assert list(report["written"]) == ["sample_001.txt"] and len(report["written"]["sample_001.txt"]) == 64


def test_a_plugin_calling_sys_exit_at_import_or_in_a_hook_only_warns(tmp_path):
    from test_plugins import write_distribution

    site = tmp_path / "site"
    site.mkdir()
    write_distribution(site, "exitplug", "import sys\nsys.exit('no thanks')\n")
    write_distribution(site, "hookexit", """
        import sys
        from charmony.pipeline.plugin.hookspecs import hookimpl

        @hookimpl
        def register_outputs(register):
            sys.exit(2)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
               CHARMONY_LOAD_PLUGINS="exitplug,hookexit,nosuchplug")
    result = subprocess.run([sys.executable, "-m", "charmony", "plugins"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Warning: plugin 'exitplug' from 'exitplug' failed to load and is skipped: it called sys.exit('no thanks')" in result.stderr
    assert "Warning: plugin 'hookexit' raised in register_outputs and is skipped: it called sys.exit(2)" in result.stderr
    assert "Warning: CHARMONY_LOAD_PLUGINS names 'nosuchplug', which is not an installed plugin distribution" in result.stderr
    assert "abc" in result.stdout and "Traceback" not in result.stderr


class Reports(OutputPlugin):
    """A renderer that says how it made its file, in details JSON can hold or, as `odd`, cannot."""

    def __init__(self, name, details):
        self.name, self.details = name, details

    def render(self, path, out_dir):
        from charmony.pipeline.plugin.output import Rendered

        written = out_dir / f"{path.stem}.{self.name}"
        written.write_text("made")
        return Rendered([written], details=self.details)


class Reporting:
    @hookimpl
    def register_outputs(self, register):
        register(Reports("plain", {"tool": "pen", "speed": 2}))
        register(Reports("odd", {"when": object()}))


def test_render_details_are_kept_in_samples_json_and_details_json_cannot_hold_are_left_out(register_plugin, tmp_path):
    register_plugin(Reporting(), "reporting-plugin")
    with pytest.warns(PluginWarning, match="'odd' from reporting-plugin failed in render: its details are not JSON"):
        report = write_samples([Sample("hello", True)], {"run": "test"}, tmp_path, ".txt", ["plain", "odd"])
    outputs = json.loads((tmp_path / "samples.json").read_text())["samples"][0]["outputs"]
    assert outputs == report["samples"][0]["outputs"]
    assert outputs["plain"] == {"files": ["sample_001.plain"], "details": {"tool": "pen", "speed": 2}}
    assert outputs["odd"] == {"files": ["sample_001.odd"]}
