"""What `prepare` reads to choose a series run's target and bins: never the held-out part; a differenced target's
rare spikes clipped, not refused; the windows shortened by the season the target is differenced over."""

import numpy as np
import pytest

from charmony.pipeline.series.settings import SeriesOptions
from charmony.pipeline.series.target import Reference, choose_target, from_target
from charmony.pipeline.series.values import Series
from charmony.pipeline.series.windows import Parts, WindowPlan, choose_context, longest_reach, plan_windows
from charmony.pipeline.system.errors import CorpusError, RunError


def season(length: int, period: int = 24, noise: float = 1.0, seed: int = 0) -> np.ndarray:
    """A steady season of `period` steps with noise around it."""
    steps = np.arange(length)
    return 20 + 5 * np.sin(2 * np.pi * steps / period) + np.random.default_rng(seed).normal(0, noise, length)


def test_the_bin_check_never_reads_the_held_out_part():
    values = season(2400)
    parts = Parts.of(len(values), 0.2)
    spiked = values.copy()
    spiked[parts.held_out + 100] = 1e9  # in the held-out part: training may not read it, so prepare must not either
    plain = plan_windows([Series("load", values)], SeriesOptions(target="level"))
    assert plan_windows([Series("load", spiked)], SeriesOptions(target="level")) == plain
    spiked = values.copy()
    spiked[parts.validation + 50] = 1e9  # in the validation part, which training reads to choose best.pt
    with pytest.raises(CorpusError, match=f"such as value {parts.validation + 51:,} \\(1e\\+09\\)"):
        plan_windows([Series("load", spiked)], SeriesOptions(target="level"))


def test_a_differenced_target_clips_rare_spikes_where_the_level_is_refused():
    values = season(2400)
    values[500] = 1e6
    with pytest.raises(CorpusError, match="correct or remove values far from the rest, such as value 501"):
        plan_windows([Series("load", values)], SeriesOptions(target="level"))
    plan = plan_windows([Series("load", values)], SeriesOptions(target="seasonal-difference"))
    assert plan.lag == 24 and plan.high < 50, "the bins stop short of the spike"
    assert "of the training values, spikes of the differenced series 'load' such as value 501 (1e+06), lie beyond " \
           "the bins and are clipped to the outer ones" in plan.note
    share = float(plan.note.split("; ")[-1].split("%")[0])
    assert 0 < share < 2, "only the windows the spike is in are clipped"
    unspiked = plan_windows([Series("load", season(2400))], SeriesOptions(target="seasonal-difference"))
    assert "clipped" not in unspiked.note and unspiked.high < plan.high * 10


def test_windows_are_shortened_by_the_season_differenced_over_not_the_longest_period():
    values = season(157, period=4)  # 110 training values: enough after 4 values, not after 100
    settings = SeriesOptions(periods=(4, 100), context=16, target="seasonal-difference")
    plan = plan_windows([Series("short", values)], settings)
    assert (plan.lag, plan.context, plan.horizon) == (4, 16, 4)
    long = SeriesOptions(periods=(4, 40), context=48, target="seasonal-difference")
    assert plan_windows([Series("short", values)], long).lag == 40, "the longest period that fits is taken"


def test_auto_chooses_among_level_and_each_number_of_seasons_before_the_held_out_part_only():
    walk = 100 + np.cumsum(np.random.default_rng(2).normal(0, 1, 2400))  # no season: the last value forecasts best
    parts = Parts.of(len(walk), 0.2)
    chosen, why = choose_target([(walk, parts.held_out)], 24, 24, 5)
    assert (chosen.target, chosen.lag) == ("level", 0) and why.startswith("level chosen on the training and validation parts")
    plan = plan_windows([Series("walk", walk)], SeriesOptions(target="auto"))
    assert (plan.target, plan.lag) == ("level", 0) and "level chosen" in plan.note
    steps = np.arange(2400)
    changing = season(2400, noise=2) + 5 * 0.8 * np.sin(steps / 100) * np.sin(2 * np.pi * steps / 24)  # its size drifts
    chosen, _ = choose_target([(changing, parts.held_out)], 24, 24, 8, combined=1)
    assert chosen.target in ("seasonal-mean", "seasonal-shape") and chosen.seasons == 3, \
        "few seasons: enough to average the noise, few to follow the drift"
    later = changing.copy()
    later[parts.held_out:] = walk[parts.held_out:]
    assert choose_target([(later, parts.held_out)], 24, 24, 8) == choose_target([(changing, parts.held_out)], 24, 24, 8)
    plan = plan_windows([Series("changing", changing)], SeriesOptions(target="auto"))
    assert plan.reference == choose_target([(changing, parts.held_out)], 24, 24, 8)[0]
    assert plan.target == "combined" and plan.parts[0] == chosen and plan.reach == max(part.reach for part in plan.parts)


def test_auto_is_the_default_and_a_run_prepared_before_it_reads_as_recorded():
    assert SeriesOptions().target == SeriesOptions.parse({}).target == "auto"
    plan = plan_windows([Series("load", season(2400))], SeriesOptions.parse({}))
    assert plan.target == "combined" and plan.lag == 24 and {part.target for part in plan.parts} <= {"seasonal-mean", "seasonal-shape"}
    assert "references that forecast the training and validation parts best" in plan.note
    recorded = plan.to_json()
    for key in ("target", "lag", "seasons", "parts"):  # a profile.json from before targets: the values themselves
        del recorded[key]
    old = WindowPlan.of_profile(recorded, "old")
    assert (old.target, old.lag, old.reach) == ("level", 0, 0)
    assert WindowPlan.of_profile(plan.to_json(), "new") == plan
    one = plan.to_json()["parts"][0]
    for damage in ({"target": "seasonal-change", "recent": 0, "parts": []}, {"lag": -24}, {"parts": []},
                   {"parts": [{**one, "lag": 12}]}, {"parts": [{**one, "seasons": 0}]}, {"parts": [{"target": "level"}]},
                   {"target": "seasonal-mean"}, {"parts": [one]}, {"lag": 0}, {"target": "trend"},
                   {"parts": [one, {**one, "target": "level"}]}, {"parts": [one, {**one, "target": "bogus"}]},
                   {"parts": [one, {**one, "parts": [one, one]}]}, {"parts": [one, {**one, "target": "combined"}]}):
        with pytest.raises(RunError, match="run 'bad''s profile.json is damaged; prepare it again"):
            WindowPlan.of_profile({**plan.to_json(), **damage}, "bad")


def test_auto_follows_yesterdays_level_under_last_weeks_shape_where_each_day_moves_it():
    days = 8 * 7 * 4
    steps = np.arange(days * 24)
    week = 5 * np.sin(2 * np.pi * steps / 24) + 3 * (steps // 24 % 7 >= 5)  # a daily shape, lower at weekends
    level = np.repeat(np.cumsum(np.random.default_rng(6).normal(0, 2, days)), 24)  # each day's level moves
    values = 100 + level + week + np.random.default_rng(7).normal(0, 3, len(steps))
    plan = plan_windows([Series("load", values)], SeriesOptions(periods=(24, 168), target="auto"))
    assert plan.parts[0] == Reference("seasonal-change", 168, plan.parts[0].seasons, 24), plan.note
    assert "the last 24 values' mean moved as in" in plan.note
    untrained = {}
    parts = Parts.of(len(values), 0.2)
    for name, reference in (("change", plan.reference), ("week", Reference("seasonal-difference", 168))):
        origins = range(parts.validation, parts.held_out - 24, 24)
        errors = [np.abs(from_target(values[:origin], np.zeros(24), reference) - values[origin:origin + 24]).mean()
                  for origin in origins]
        untrained[name] = np.mean(errors)
    assert untrained["change"] < untrained["week"] / 1.5, "last week's values miss the week's moves of the level"


def test_auto_weighs_only_references_whose_reach_leaves_room_for_windows_and_says_why_a_straight_line_is_the_level():
    steps = np.arange(51)
    values = 3 + 0.8 * steps + 5 * np.sin(2 * np.pi * steps / 12) + 3 * np.sin(2 * np.pi * steps / 11) \
        + np.random.default_rng(51).normal(0, 0.3, 51)
    settings = SeriesOptions(periods=(11, 12), target="auto")
    shortest = Parts.of(51, 0.2).validation
    room = longest_reach(settings, shortest)
    assert 12 < room < 12 + 11, "the last 11 values moved as in a season reach too far for this series' windows"
    with pytest.raises(CorpusError):
        choose_context(settings, shortest - room - 1)
    plan = plan_windows([Series("short", values)], settings)
    assert plan.parts and all(part.reach <= room for part in plan.parts) and plan.reach <= room, plan.note
    assert "too short" not in plan.note, "a reference that fits is taken, not the last season in its place"
    line = plan_windows([Series("line", np.arange(2400.0))], SeriesOptions(target="auto"))
    assert line.target == "level" and "a reference forecasts the values before the held-out part exactly (a season " \
        "repeated, or a straight line)" in line.note
