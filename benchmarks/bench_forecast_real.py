"""The forecaster on real series that ship inside installed packages, beside every seasonal naive forecast and MSTL.

    python benchmarks/bench_forecast_real.py [--minutes 5] [--seeds 0,1,2] [--series co2,elnino,...]

For each series: write it as a CSV, `prepare` it (its last 20% held out for evaluate, the validation part
before that), train the `forecast` recipe for at most --minutes on one thread, and score best.pt as
`charmony evaluate --run RUN --origins 16` does, with statsforecast's MSTL where it is installed. Prints,
per series and seed, the model's MASE, CRPS and 80% coverage beside each seasonal naive's MASE, then the
seeds' spread of the model's MAE and the time of one rolling evaluation. The real series come from
statsmodels' datasets, statsforecast's AirPassengers and pmdarima's bundled series (installed, never
downloaded); a series whose package is missing is skipped. `fertility` is one file of 192 yearly series, read
and trained together as one run, scored over all of their held-out parts.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charmony.corpora.household_load import household_load
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.plugin.manager import get_corpus
from charmony.pipeline.plugin.recipes import apply_recipe
from charmony.pipeline.run.config import ForecastScoreConfig, PrepareConfig, TrainConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.series.score import score_forecasts
from charmony.pipeline.training.train import train

ORIGINS = 16


@dataclass(frozen=True)
class RealSeries:
    """A named series, its seasons, and how to load its values."""

    name: str
    periods: tuple[int, ...]
    load: Callable[[], np.ndarray | dict[str, np.ndarray]]  # one series, or several as named columns of one file
    package: str = "statsmodels"


def _co2() -> np.ndarray:
    from statsmodels.datasets import co2
    return co2.load_pandas().data["co2"].interpolate().bfill().to_numpy()  # weekly Mauna Loa CO2, 1958-2001


def _elnino() -> np.ndarray:
    from statsmodels.datasets import elnino
    return elnino.load_pandas().data.drop(columns="YEAR").to_numpy().ravel()  # monthly sea temperature, 1950-2010


def _sunspots() -> np.ndarray:
    from statsmodels.datasets import sunspots
    return sunspots.load_pandas().data["SUNACTIVITY"].to_numpy()  # yearly, 1700-2008


def _elec_equip() -> np.ndarray:
    from statsmodels.datasets import elec_equip
    return elec_equip.load_pandas().data.iloc[:, 0].to_numpy()  # monthly euro-area electrical equipment orders, 1995-2016


def _german(column: str) -> Callable[[], np.ndarray]:
    """A column of statsmodels' quarterly German inflation (Dp) and interest rate (R), 1972-1998."""
    def load() -> np.ndarray:
        from statsmodels.datasets import interest_inflation
        return interest_inflation.load_pandas().data[column].to_numpy()
    return load


def _danish(column: str) -> Callable[[], np.ndarray]:
    """A column of statsmodels' `danish_data` (Johansen and Juselius' money demand, quarterly, 1974-1987)."""
    def load() -> np.ndarray:
        from statsmodels.datasets import danish_data
        return np.asarray(danish_data.load_pandas().data[column], dtype=float)
    return load


def _macrodata(column: str) -> Callable[[], np.ndarray]:
    """A column of statsmodels' quarterly US macroeconomic data, 1959-2009 (seasonally adjusted)."""
    def load() -> np.ndarray:
        from statsmodels.datasets import macrodata
        return macrodata.load_pandas().data[column].to_numpy(dtype=float)
    return load


def _nile() -> np.ndarray:
    from statsmodels.datasets import nile
    return nile.load_pandas().data["volume"].to_numpy()  # the Nile's yearly flow at Aswan, 1871-1970


def _msft() -> np.ndarray:
    from pmdarima import datasets
    return datasets.load_msft()["Close"].to_numpy(dtype=float)  # Microsoft's daily closing price, 1986-2017


def _air_passengers() -> np.ndarray:
    from statsforecast.utils import AirPassengers
    return np.asarray(AirPassengers, dtype=float)  # monthly airline passengers in thousands, 1949-1960


def _stock(column: str) -> Callable[[], np.ndarray]:
    """A monthly closing price (the first of each month, 1990-2022) from the sample data matplotlib ships."""
    def load() -> np.ndarray:
        from matplotlib import cbook
        with open(cbook.get_sample_data("Stocks.csv", asfileobj=False), newline="") as file:
            rows = [row for row in csv.reader(file) if row and not row[0].startswith("#")]
        index = rows[0].index(column)
        return np.array([float(row[index]) for row in rows[1:] if row[0].endswith("-01") and row[index]])
    return load


def _google() -> np.ndarray:
    """Google's daily adjusted close, 2004-2008, from the sample data matplotlib ships."""
    from matplotlib import cbook
    return np.asarray(np.load(cbook.get_sample_data("goog.npz", asfileobj=False))["price_data"]["adj_close"], dtype=float)


def _fertility() -> dict[str, np.ndarray]:
    """Births per woman, yearly 1960-2013, in each of the 192 countries of statsmodels' `fertility` (World Bank) known
    every year to 2011: one column a country, whose last two years (2012 and 2013) are empty, as the file has them."""
    from statsmodels.datasets import fertility
    data = fertility.load_pandas().data.set_index("Country Name").loc[:, "1960":"2013"]
    known = data.loc[:, "1960":"2011"].notna().all(axis=1)
    return {str(country): row.to_numpy(dtype=float) for country, row in data[known].iterrows()}


def _pmdarima(name: str) -> Callable[[], np.ndarray]:
    """A series pmdarima ships inside its package (its loaders that download are not used)."""
    def load() -> np.ndarray:
        from pmdarima import datasets
        return np.asarray(getattr(datasets, f"load_{name}")(), dtype=float)
    return load


ANCHOR_NAMES = {"reference": "its reference", "smoothing": "Holt-Winters", "autoregression": "the autoregression"}
SERIES = {
    "co2": RealSeries("co2", (52,), _co2),
    "elnino": RealSeries("elnino", (12,), _elnino),
    "sunspots": RealSeries("sunspots", (11,), _sunspots),
    "generated": RealSeries("generated", (24, 168), lambda: household_load(1461), package="numpy"),
    "airpassengers": RealSeries("airpassengers", (12,), _air_passengers, package="statsforecast"),
    # half-hourly electricity demand in England and Wales, 12 weeks of 2000 (Taylor, 2003)
    "taylor": RealSeries("taylor", (48, 336), _pmdarima("taylor"), package="pmdarima"),
    "wineind": RealSeries("wineind", (12,), _pmdarima("wineind"), package="pmdarima"),  # monthly wine sales, 1980-1994
    "ausbeer": RealSeries("ausbeer", (4,), _pmdarima("ausbeer"), package="pmdarima"),  # quarterly beer production
    # monthly sunspot numbers, 1749-1983: a cycle of about 11 years (132 months), not a fixed season
    "sunspots-monthly": RealSeries("sunspots-monthly", (132,), _pmdarima("sunspots"), package="pmdarima"),
    # added after every choice above was made, and scored once: series no setting was chosen on
    "elec-equip": RealSeries("elec-equip", (12,), _elec_equip),
    "woolyrnq": RealSeries("woolyrnq", (4,), _pmdarima("woolyrnq"), package="pmdarima"),  # quarterly wool production
    # yearly lynx trappings on the Mackenzie River, 1821-1934: a cycle of about 10 years, not a fixed season
    "lynx": RealSeries("lynx", (10,), _pmdarima("lynx"), package="pmdarima"),
    # added in the tenth round, scored once: quarterly, with little season (unemployment is seasonally adjusted)
    "austres": RealSeries("austres", (4,), _pmdarima("austres"), package="pmdarima"),  # Australian residents, 1971-1993
    "unemployment": RealSeries("unemployment", (4,), _macrodata("unemp")),  # the rate (%)
    # added in the eleventh round, after its rule was written, and scored once
    "inflation-de": RealSeries("inflation-de", (4,), _german("Dp")),
    "cpi": RealSeries("cpi", (4,), _macrodata("cpi")),  # the consumer price index
    # twelfth round: the Nile (no season) was tried as a user would, and its band led to the round's rule
    "nile": RealSeries("nile", (1,), _nile),
    # added after the twelfth round's rule was written, and scored once
    "realgdp": RealSeries("realgdp", (4,), _macrodata("realgdp")),
    "heartrate": RealSeries("heartrate", (1,), _pmdarima("heartrate"), package="pmdarima"),  # 150 beats, no season
    "msft": RealSeries("msft", (5,), _msft, package="pmdarima"),  # trading days: a week of 5
    # added after the thirteenth round's anchor (an autoregression) was written, and scored once
    "tbilrate": RealSeries("tbilrate", (4,), _macrodata("tbilrate")),  # the 3-month Treasury bill rate (%)
    "realinv": RealSeries("realinv", (4,), _macrodata("realinv")),  # real private investment
    "infl": RealSeries("infl", (4,), _macrodata("infl")),  # inflation (%), annualised quarter by quarter
    "interest-de": RealSeries("interest-de", (4,), _german("R")),  # Germany's interest rate
    # added after the level target's reference (its last value) was written, and scored once
    "m1": RealSeries("m1", (4,), _macrodata("m1")),  # the US money stock M1
    "realint": RealSeries("realint", (4,), _macrodata("realint")),  # the real interest rate (%)
    # added in the fifteenth round, before any change of that round, and scored once
    "realcons": RealSeries("realcons", (4,), _macrodata("realcons")),  # real personal consumption
    "realdpi": RealSeries("realdpi", (4,), _macrodata("realdpi")),  # real disposable personal income
    "realgovt": RealSeries("realgovt", (4,), _macrodata("realgovt")),  # real government spending
    "pop": RealSeries("pop", (4,), _macrodata("pop")),  # the US population
    # added in the fifteenth round after its rule (the anchor chosen on the training and validation parts) was written
    "sp500": RealSeries("sp500", (12,), _stock("^GSPC"), package="matplotlib"),  # the S&P 500 index, monthly
    "ibm": RealSeries("ibm", (12,), _stock("IBM"), package="matplotlib"),  # IBM's share price, monthly
    "goog": RealSeries("goog", (5,), _google, package="matplotlib"),  # trading days: a week of 5
    "money-dk": RealSeries("money-dk", (4,), _danish("lrm")),  # Denmark's real money (log), quarterly, 55 values
    # added in the sixteenth round, tried as a user would, and scored once: 192 short series read together
    "fertility": RealSeries("fertility", (1,), _fertility),
}


def write_csv(path: Path, values: np.ndarray | dict[str, np.ndarray]) -> dict[str, str]:
    """The series as a CSV file (a missing value an empty cell), and the `--option column=` that reads every column."""
    columns = values if isinstance(values, dict) else {"value": values}
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(zip(*(["" if np.isnan(value) else f"{value:.6g}" for value in column] for column in columns.values())))
    named = io.StringIO()
    csv.writer(named).writerow(columns)
    return {"column": named.getvalue().strip()}


def run_one(folder: Path, series: RealSeries, values: np.ndarray | dict[str, np.ndarray], seed: int, minutes: float,
            mstl: bool, changes: dict, options: dict) -> dict:
    """Prepare, train and score one series (or one file of several) for one seed; its figures."""
    source = folder / f"{series.name}.csv"
    columns = write_csv(source, values)
    run = Run(folder / "runs" / f"{series.name}-{seed}")
    periods = ",".join(map(str, series.periods))
    prepare(run, PrepareConfig("series", (source,), options={"period": periods, **columns, **options}))
    settings = apply_recipe(get_corpus("series").recipe("forecast"), changes)
    config = TrainConfig().with_settings(**settings).with_settings(max_minutes=minutes, device="cpu", threads=1, seed=seed)
    started = time.perf_counter()
    result = train(run, config)
    trained = time.perf_counter() - started
    started = time.perf_counter()
    score = score_forecasts(run, ForecastScoreConfig(origins=ORIGINS, device="cpu", threads=1))
    scored = time.perf_counter() - started
    if mstl:  # scored again with MSTL beside: the same seed draws the same samples
        score = score_forecasts(run, ForecastScoreConfig(origins=ORIGINS, device="cpu", threads=1, baselines=("mstl",)))
    return {"steps": result.step, "train_s": trained, "score_s": scored, "score": score}


def _number(text: str) -> int | float:
    return float(text) if "." in text or "e" in text else int(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget per run (wall clock, one thread)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--series", default=",".join(SERIES))
    parser.add_argument("--no-mstl", action="store_true", help="leave statsforecast's MSTL out even where installed")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a training setting over the recipe's, such as hidden=64 (repeatable)")
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="a series corpus option for prepare, such as target=level (repeatable)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the runs in DIR instead of a temporary folder")
    args = parser.parse_args(argv)
    mstl = not args.no_mstl and importlib.util.find_spec("statsforecast") is not None
    seeds = [int(seed) for seed in args.seeds.split(",")]
    changes = {name: _number(value) for name, _, value in (item.partition("=") for item in args.set)}
    options = dict(item.partition("=")[::2] for item in args.option)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-forecast-real-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for name in args.series.split(","):
            series = SERIES[name]
            if importlib.util.find_spec(series.package) is None:
                print(f"{name}: skipped, {series.package} is not installed")
                continue
            values = series.load()
            size = (f"{len(values):,} series of {len(next(iter(values.values()))):,} rows" if isinstance(values, dict)
                    else f"{len(values):,} values")
            maes = []
            for seed in seeds:
                found = run_one(folder, series, values, seed, args.minutes, mstl and max(series.periods) > 1, changes, options)
                figures = found["score"].figures
                model = figures["model"]
                maes.append(model.mae)
                others = ", ".join(f"{key} {value.mase:.3f}" for key, value in figures.items() if key != "model" and value.mase is not None)
                score = found["score"]
                likely = "{:.0%}-{:.0%} over resampled origins".format(*model.coverage_range) if model.coverage_range else "too few origins for a range"
                before = "n/a" if score.uncalibrated_coverage is None else f"{score.uncalibrated_coverage:.0%}"
                band = (f"band at most {score.interval_ceiling:.2f} seasonal scales" if score.interval_ceiling is not None
                        else f"band at least {score.interval_floor:.2f} seasonal scales")
                print(f"{name} ({size}, periods {series.periods}) seed {seed}: {found['steps']} steps in "
                      f"{found['train_s'] / 60:.1f} min; step {score.step} chosen; median moved {score.toward_reference:.0%} "
                      f"toward {ANCHOR_NAMES[score.anchor]}; model MASE {model.mase:.3f}, "
                      f"CRPS {model.crps:.4g}, 80% coverage {model.coverage:.0%} ({likely}; {band}, "
                      f"from {score.calibration_windows} training and validation origins; {before} "
                      f"before); {others}; "
                      f"model's evaluation of {score.windows} origins {found['score_s']:.1f} s", flush=True)
            spread = (max(maes) - min(maes)) / np.mean(maes) if len(maes) > 1 else 0.0
            print(f"{name}: model MAE over seeds {min(maes):.4g}..{max(maes):.4g}, spread {spread:.0%} of the mean", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
