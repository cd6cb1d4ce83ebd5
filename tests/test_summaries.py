"""Each output plugin's one-line summary of its verdicts, as samples.json and the screen show it."""

from __future__ import annotations

from charmony.pipeline.plugin.output import OutputPlugin
from charmony.pipeline.plugin.verdict import Problem, Verdict
from charmony.pipeline.outputs.runner import OutputRunner, summary_line


class Counting(OutputPlugin):
    name = "counting"

    def check(self, text):
        return Verdict(len(text) > 3, [Problem(1, 1, "short")] * (len(text) <= 3), {"characters": len(text)})

    def summarise(self, verdicts):
        return f"{sum(v.details['characters'] for v in verdicts)} characters in {len(verdicts)} files"


class BrokenSummary(Counting):
    name = "broken-summary"

    def summarise(self, verdicts):
        raise RuntimeError("oops")


class Plain(Counting):
    name = "plain"
    summarise = OutputPlugin.summarise


class Failing(OutputPlugin):
    name = "failing"

    def check(self, text):
        raise ValueError("cannot read this")


class RenderOnly(OutputPlugin):
    name = "render-only"


def test_each_plugin_summarises_its_own_verdicts(tmp_path):
    plugins = [Counting(), BrokenSummary(), Plain(), Failing(), RenderOnly()]
    files = [tmp_path / "a.txt", tmp_path / "b.txt"]
    files[0].write_text("abcdef")
    files[1].write_text("ab")
    runner = OutputRunner(plugins)
    for path in files:
        runner.run(path, tmp_path)
    summary = runner.summary()
    assert summary["counting"] == {"valid": 1, "checked": 2, "errors": 0, "skipped": 0, "line": "8 characters in 2 files"}
    lines = {name: summary_line(name, counts) for name, counts in summary.items()}
    assert lines["counting"] == "counting: 8 characters in 2 files"
    assert lines["broken-summary"] == "broken-summary: 1/2 valid", "a failing summary falls back to the count"
    assert lines["plain"] == "plain: 1/2 valid"
    assert lines["failing"] == "failing: 2 errors"
    assert lines["render-only"] == "", "nothing to say, nothing printed"


def test_verdicts_survive_the_trip_through_json():
    verdict = Verdict(False, [Problem(2, 3, "bad")], {"lines": 4})
    assert Verdict.from_json(verdict.to_json()) == verdict
