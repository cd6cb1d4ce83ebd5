"""The checker, the parser and the ABC constraint raise nothing on mutated tunes (a short run; see abc_fuzz.py)."""

import random
import time
from itertools import islice

from charmony.pipeline.abc.check import check_abc
from charmony.tests.abc_fuzz import SEEDS, check_everything, find_crashes, mutants, mutate

SECONDS = 4.0  # each test stops after this long, however many inputs it has tried


def test_mutants_are_reproducible_and_different_from_their_seeds():
    first, second = list(islice(mutants(7), 50)), list(islice(mutants(7), 50))
    assert first == second
    assert sum(text not in SEEDS for text in first) >= 45
    assert any(not check_abc(text).valid for text in first)  # the mutations do break tunes


def test_a_mutation_changes_a_tune_in_one_place():
    draw = random.Random(3)
    changed = [mutate(SEEDS[0], draw) for _ in range(200)]
    assert sum(text != SEEDS[0] for text in changed) >= 180


def test_the_checker_parser_and_features_raise_nothing_on_mutated_tunes():
    assert find_crashes(SECONDS, seed=2026) == 0


def test_a_crash_is_counted_and_shown(capsys):
    def fails_on_bars(text):
        if "|" in text:
            raise ValueError("boom")

    assert find_crashes(0.5, seed=1, test=fails_on_bars) > 0
    assert "ValueError: boom" in capsys.readouterr().out


def test_the_constraint_raises_nothing_on_mutated_tunes():
    from charmony.pipeline.abc.grammar.constraint import AbcConstraint
    from charmony.pipeline.abc.profile import abc_profile
    from charmony.tests.abc_tunes import SOPRANO

    constraint = AbcConstraint(abc_profile(SOPRANO))
    end = time.monotonic() + SECONDS
    fed = 0
    for text in mutants(11):
        if time.monotonic() > end:
            break
        state = constraint.start()
        for char in text:
            state = constraint.feed(state, char)
            if state is None:
                break
            fed += 1
    assert fed > 0


def test_check_everything_accepts_the_seed_tunes():
    for text in SEEDS:
        check_everything(text)
