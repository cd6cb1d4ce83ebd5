"""The 80% band's floor or ceiling, in seasonal scales of each history: found on forecasts before the held-out part."""

import numpy as np
import pytest

from charmony.pipeline.series.calibration import (HIGHEST, LOWEST, ORIGINS, Calibration, Forecasts, band_ceiling, band_floor,
                                                  calibration_origins, history_scale, narrow, needed, widen)
from charmony.pipeline.series.history import Document
from charmony.pipeline.series.reference_share import (SHARE_ORIGINS, SHARES, best_anchor, best_share, choose, errors_by_share,
                                                      reference_forecasts, scaled_error, share_origins, toward,
                                                      validation_truth)
from charmony.pipeline.series.target import Reference, from_target
from charmony.pipeline.series.windows import Parts


def _inside(paths: np.ndarray, truth: np.ndarray) -> np.ndarray:
    low, high = np.percentile(paths, (10, 90), axis=1)
    return (low <= truth) & (truth <= high)


def test_the_floor_follows_each_historys_scale_where_the_models_band_does_not():
    random = np.random.default_rng(0)
    scales = np.repeat([0.5, 4.0], 100)  # calm and wild histories; the model draws the same narrow band for both
    truth = random.normal(0, 1, (200, 12)) * scales[:, None]
    drawn = random.normal(0, 0.4, (200, 51, 12)) + random.normal(0, 0.1, (200, 1, 1))
    needs = needed(drawn, truth, scales)
    floors = needs.floors
    assert np.mean(floors == 0) < 0.5 and np.all(floors >= 0), "the band as drawn holds too few; held values need none"
    assert band_ceiling(needs.ceilings) is None, "a band that holds too few is never narrowed"
    floor = band_floor(floors)
    wide = widen(drawn, floor * scales)
    assert 0.77 <= np.mean(_inside(wide, truth)) <= 0.83
    assert np.mean(_inside(wide[100:], truth[100:])) > 0.7, "the wild histories' band grew with their scale"
    np.testing.assert_array_equal(np.median(wide, axis=1), np.median(drawn, axis=1))
    assert np.all(np.argsort(wide, axis=1) == np.argsort(drawn, axis=1)), "each step's samples keep their order"


def test_a_band_wide_enough_is_kept_as_drawn_and_a_skewed_one_keeps_its_skew():
    random = np.random.default_rng(1)
    truth = random.normal(0, 1, (100, 6))
    wide = random.normal(0, 3, (100, 50, 6))
    assert band_floor(needed(wide, truth, np.ones(100)).floors) == 0.0
    np.testing.assert_array_equal(widen(wide, 0.0), wide)
    skewed = np.exp(random.normal(0, 0.3, (1, 50, 6)))  # mostly reaches farther above its median than below
    median = np.median(skewed, axis=1)
    low, high = np.percentile(widen(skewed, 2.0), (10, 90), axis=1)
    np.testing.assert_allclose(np.minimum(median - low, high - median), 2.0, rtol=1e-9,
                               err_msg="the narrower side reaches the floor")
    old_low, old_high = np.percentile(skewed, (10, 90), axis=1)
    np.testing.assert_allclose((high - median) / (median - low), (old_high - median) / (median - old_low), rtol=1e-9)
    flat = np.ones((1, 50, 6))
    np.testing.assert_array_equal(widen(flat, 2.0), flat, err_msg="no spread to stretch: as drawn")


def test_a_band_that_holds_too_many_is_narrowed_where_it_is_wide_keeping_its_median_and_skew():
    random = np.random.default_rng(2)
    truth = random.normal(0, 1, (300, 6))
    # the model's band is wide after some histories and about right after others, all of one seasonal scale
    sizes = np.where(np.arange(300) < 150, 4.0, 1.8)[:, None, None]
    skewed = (np.exp(random.normal(0, 0.5, (300, 60, 6))) - 1) * sizes  # reaches farther above its median than below
    needs = needed(skewed, truth, np.ones(300))
    assert needs.held() > 0.82, "the band as drawn holds too many values"
    ceiling = band_ceiling(needs.ceilings)
    assert ceiling is not None and 0 < ceiling < 10
    calibration = Calibration(0.0, 300, needs.held(), Forecasts("best.pt", 1, 1, 1.0, 6), ceiling)
    narrowed = calibration.apply(skewed, np.ones(300), np.zeros((300, 6)))
    assert 0.79 <= np.mean(_inside(narrowed, truth)) <= 0.82
    median = np.median(skewed, axis=1)
    np.testing.assert_allclose(np.median(narrowed, axis=1), median, atol=1e-12)
    low, high = np.percentile(skewed, (10, 90), axis=1)
    new_low, new_high = np.percentile(narrowed, (10, 90), axis=1)
    wider = np.maximum(high - median, median - low)
    cut = wider > ceiling
    assert cut[:150].mean() > 0.9 and cut[150:].mean() < 0.1, "the wide bands are the ones narrowed"
    np.testing.assert_allclose(np.maximum(new_high - median, median - new_low)[cut], ceiling, rtol=1e-9)
    steps, drawn_steps = narrowed.transpose(0, 2, 1), skewed.transpose(0, 2, 1)  # (history, step, sample)
    np.testing.assert_array_equal(steps[~cut], drawn_steps[~cut], "a band already narrower than the ceiling: as drawn")
    np.testing.assert_allclose(((new_high - median) / (median - new_low))[cut], ((high - median) / (median - low))[cut], rtol=1e-9)
    assert band_ceiling(np.zeros(10)) == 0.0 and band_ceiling(np.array([0.5] * 8 + [np.inf] * 2)) is None, "80% held: as drawn"
    np.testing.assert_allclose(np.percentile(narrow(skewed[:1], 0.0), (10, 90), axis=1) - median[:1],
                               LOWEST * (np.stack([low, high])[:, :1] - median[:1]), rtol=1e-9,
                               err_msg="values all on the median: narrowed no further than LOWEST of its width")
    np.testing.assert_array_equal(calibration.apply(skewed, np.zeros(300), np.zeros((300, 6))), skewed,
                                  err_msg="after a history with no seasonal scale: as drawn")


def test_values_missing_or_after_a_flat_history_count_for_nothing():
    paths = np.tile(np.linspace(-1, 1, 21)[None, :, None], (3, 1, 2))
    truth = np.array([[5.0, np.nan], [0.0, -1.6], [9.0, 9.0]])
    needs = needed(paths, truth, np.array([1.0, 2.0, 0.0]))
    np.testing.assert_allclose(needs.floors, [5.0, 0.0, 0.8], err_msg="a symmetric band: the distance from the median, in scales")
    np.testing.assert_allclose(needs.ceilings, [np.inf, 0.0, np.inf], err_msg="only a value inside as drawn is held narrowed")
    held = needed(paths[:1, :, :1], np.array([[0.6]]), np.array([2.0]))
    np.testing.assert_allclose(held.ceilings, [0.3], err_msg="at 3/4 of the band's reach: 3/4 of its 0.8, in scales of 2")
    flat = np.ones((2, 20, 1))  # no spread: no floor reaches a value off it, and none is NaN
    unreachable = needed(flat, np.array([[3.0], [1.0]]), np.ones(2)).floors
    assert unreachable[0] == np.inf and unreachable[1] == 0.0 and band_floor(unreachable) == HIGHEST
    assert history_scale(np.arange(10.0), 3) == 3.0 and history_scale(np.arange(3.0), 3) == 0.0


def test_calibration_reads_origins_over_the_training_and_validation_parts_never_the_held_out_one():
    documents = [Document("a", np.arange(1000.0), 1000), Document("b", np.arange(300.0), 300)]
    origins = calibration_origins(documents, 0.2, 24, 50)
    assert len(origins) == ORIGINS
    for index, origin in origins:
        parts = Parts.of(len(documents[index].values), 0.2)
        assert 50 <= origin and origin + 24 <= parts.held_out
    assert origins[0] == (0, 50) and origins[-1] == (1, Parts.of(300, 0.2).held_out - 24)
    assert any(origin + 24 <= Parts.of(1000, 0.2).validation for _, origin in origins), "the training part is read too"


def test_the_share_toward_the_anchor_is_the_one_that_forecast_the_validation_part_best():
    random = np.random.default_rng(5)
    truth = random.normal(0, 1, (40, 12))
    references, scales = truth + random.normal(0, 0.3, (40, 12)), np.full(40, 2.0)
    drifting = truth + 0.5 * np.arange(12)  # a median that moves away step by step
    errors = errors_by_share(drifting, references, truth, scales)
    full = SHARE_ORIGINS  # as many validation origins as are ever read: any share may be chosen
    assert best_share(errors, full) == 1.0 and errors[0] > 2 * errors[-1]
    assert errors[-1] == pytest.approx(np.abs(references - truth).mean() / 2), "in seasonal scales"
    kept = errors_by_share(truth, references, truth, scales)
    assert best_share(kept, full) == 0.0, "a model better than its anchor is kept"
    assert best_share(kept, full - 1) == 0.5, "on fewer origins, no less than the mean of the model's and the anchor's"
    assert best_share(errors, full - 1) == 1.0
    off = references - truth
    assert best_share(errors_by_share(truth - 3 * off, references, truth, scales), 3) == 0.75, "the truth lies 3/4 of the way"
    assert best_share(errors_by_share(truth, truth, truth, scales), full) == 0.0, "the model's own on a tie"
    assert best_share(errors_by_share(truth, truth, truth, scales), 3) == 0.5
    unknown = errors_by_share(drifting, references, np.full((40, 12), np.nan), scales)
    assert np.isnan(unknown).all() and best_share(unknown, full) == 0.0 and best_share(unknown, 3) == 0.0
    flat = errors_by_share(drifting, references, truth, np.zeros(40))
    assert np.isnan(flat).all(), "no history with a seasonal scale: nothing scored"
    assert len(SHARES) == len(errors) and SHARES[0] == 0.0 and SHARES[-1] == 1.0


def test_the_anchor_is_the_one_whose_own_forecasts_erred_least():
    random = np.random.default_rng(7)
    truth, scales = random.normal(0, 1, (40, 12)), np.where(np.arange(40) < 30, 2.0, 0.0)
    closer, farther = truth + random.normal(0, 0.1, (40, 12)), truth + random.normal(0, 0.5, (40, 12))
    assert scaled_error(closer, truth, scales) == pytest.approx(np.abs(closer - truth)[:30].mean() / 2), "scale 0: left out"
    errors = {"reference": scaled_error(farther, truth, scales), "smoothing": scaled_error(closer, truth, scales)}
    assert best_anchor(errors) == "smoothing"
    assert best_anchor({**errors, "autoregression": errors["smoothing"] / 2}) == "autoregression"
    assert best_anchor({"reference": 0.5, "smoothing": 0.5, "autoregression": 0.5}) == "reference", "ANCHORS' order on a tie"
    assert best_anchor({"smoothing": 0.5, "autoregression": 0.5}) == "smoothing"
    assert best_anchor({"reference": float("nan"), "autoregression": 0.9}) == "autoregression", "NaN: not scored"
    assert best_anchor({"reference": float("nan")}) == "reference" and best_anchor({}) == "reference"
    # the anchor is the one the training and validation parts chose, though the validation part alone prefers another
    by_share = {"reference": np.array([1.0, 0.8, 0.6, 0.4, 0.3]), "smoothing": np.array([1.0, 0.9, 0.8, 0.85, 0.9])}
    assert choose({"reference": 0.7, "smoothing": 0.5}, by_share, SHARE_ORIGINS) == ("smoothing", 0.5)
    assert choose({"reference": 0.5, "smoothing": 0.7}, by_share, SHARE_ORIGINS) == ("reference", 1.0)
    assert choose({"reference": 0.5}, {"reference": np.array([0.2, 0.3, 0.4, 0.5, 0.6])}, 9) == ("reference", 0.5)


def test_moving_toward_the_reference_moves_every_sample_of_a_step_alike():
    random = np.random.default_rng(6)
    paths, references = random.normal(0, 1, (3, 50, 6)), random.normal(5, 1, (3, 6))
    np.testing.assert_array_equal(toward(paths, references, 0.0), paths)
    moved = toward(paths, references, 1.0)
    np.testing.assert_allclose(np.median(moved, axis=1), references)
    np.testing.assert_allclose(np.ptp(moved, axis=1), np.ptp(paths, axis=1), err_msg="the band keeps its width")
    half = toward(paths, references, 0.5)
    np.testing.assert_allclose(np.median(half, axis=1), (np.median(paths, axis=1) + references) / 2)


def test_the_share_is_chosen_on_the_validation_parts_values_alone():
    documents = [Document("a", np.arange(1000.0), 1000), Document("b", np.arange(300.0), 300)]
    origins = share_origins(documents, 0.2, 50)
    assert len(origins) == SHARE_ORIGINS and {index for index, _ in origins} == {0, 1}
    truth = validation_truth(documents, origins, 24, 0.2)
    for (index, origin), values in zip(origins, truth):
        parts = Parts.of(len(documents[index].values), 0.2)
        assert parts.validation <= origin < parts.held_out
        known = ~np.isnan(values)
        assert known[0] and known.sum() == min(24, parts.held_out - origin), "no held-out value is read"
        np.testing.assert_array_equal(values[known], documents[index].values[origin:origin + known.sum()])
    short = [Document("c", np.arange(60.0), 60)]  # a validation part of 6 values: every origin in it, a 24-step horizon
    assert share_origins(short, 0.2, 10) == [(0, origin) for origin in range(Parts.of(60, 0.2).validation, 48)]
    assert share_origins(short, 0.2, 50) == [], "no origin before `history` values"


def test_the_reference_forecast_is_a_forecast_of_zero_residuals():
    random = np.random.default_rng(7)
    history = np.cumsum(random.normal(0, 1, 200)) + np.tile(np.sin(np.arange(12) / 2), 17)[:200]
    for reference in (Reference("seasonal-difference", 12), Reference("seasonal-mean", 12, 3),
                      Reference("seasonal-shape", 12, 3), Reference("seasonal-change", 12, 2, 3),
                      Reference("combined", 12, parts=(Reference(), Reference("seasonal-change", 12, 1, 6)))):
        [forecast] = reference_forecasts(reference, [history], 30)
        np.testing.assert_allclose(forecast, from_target(history, np.zeros((1, 30)), reference)[0], err_msg=reference.name())
    [naive] = reference_forecasts(Reference("seasonal-difference", 12), [history], 12)
    np.testing.assert_array_equal(naive, history[-12:])
