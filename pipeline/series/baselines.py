"""The forecasts a user gets for free, to score the model beside: persistence, seasonal naive, and statsforecast's.

statsforecast is optional and imported only when `--baseline` names one of its methods.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from charmony.pipeline.series.values import persistence, seasonal_persistence
from charmony.pipeline.system.errors import ConfigError

# --baseline name: the statsforecast model class
STATSFORECAST_METHODS = {"ets": "AutoETS", "arima": "AutoARIMA", "theta": "AutoTheta", "ces": "AutoCES", "mstl": "MSTL"}

Forecaster = Callable[[np.ndarray, int], np.ndarray]  # (history, horizon) -> point forecast


@dataclass(frozen=True)
class Baseline:
    """A named point forecaster."""

    name: str
    forecast: Forecaster


def free_baselines(periods: tuple[int, ...]) -> list[Baseline]:
    """Persistence and the seasonal naive forecast at every period."""
    return [Baseline("persistence", persistence)] + [Baseline(f"seasonal naive {period}", _seasonal_naive(period))
                                                     for period in periods]


def _seasonal_naive(period: int) -> Forecaster:
    """The forecaster that repeats the last `period` values."""
    def forecast(history: np.ndarray, horizon: int) -> np.ndarray:
        return seasonal_persistence(history, horizon, period)

    return forecast


def check_baseline_names(names: tuple[str, ...]) -> None:
    """A ConfigError for a --baseline name that is not one of statsforecast's methods known here."""
    for name in names:
        if name not in STATSFORECAST_METHODS:
            raise ConfigError(f"--baseline {name}: statsforecast has no method by that name here; "
                              f"choose from {', '.join(STATSFORECAST_METHODS)}")


def statsforecast_baselines(names: tuple[str, ...], periods: tuple[int, ...]) -> list[Baseline]:
    """statsforecast's models for `names`, or a ConfigError in one line when it is missing or lacks one."""
    check_baseline_names(names)
    if not names:
        return []
    try:
        models = importlib.import_module("statsforecast.models")
    except ImportError:
        raise ConfigError(f"--baseline {','.join(names)} needs statsforecast, which is not installed; "
                          "pip install statsforecast, or leave --baseline out") from None
    baselines = []
    for name in names:
        model_class = getattr(models, STATSFORECAST_METHODS[name], None)
        if model_class is None:
            raise ConfigError(f"--baseline {name}: this statsforecast has no {STATSFORECAST_METHODS[name]}; "
                              "upgrade statsforecast, or leave it out")
        baselines.append(Baseline(name, _statsforecast_forecaster(model_class, _mstl_seasons(periods) if name == "mstl" else periods[0])))
    return baselines


def _mstl_seasons(periods: tuple[int, ...]) -> list[int]:
    """MSTL's seasons: the periods longer than one step, or a ConfigError in one line where there are none (MSTL
    without a season needs a package statsforecast does not install, and is a trend smoother, not MSTL)."""
    seasons = [period for period in periods if period > 1]
    if not seasons:
        raise ConfigError(f"--baseline mstl needs a season longer than one step; this evaluation's periods are "
                          f"{','.join(map(str, periods))}: give --option period=N, or leave mstl out")
    return seasons


def _statsforecast_forecaster(model_class, season) -> Forecaster:
    """A forecaster that fits a fresh statsforecast model to each history."""
    def forecast(history: np.ndarray, horizon: int) -> np.ndarray:
        fitted = model_class(season_length=season)
        return np.asarray(fitted.forecast(y=np.asarray(history, dtype=np.float64), h=horizon)["mean"], dtype=np.float64)

    return forecast
