"""The 7-day demand forecast per store, backtested against seasonal-naive, and the demand_surge
events of the stores whose expected vehicles on rent exceed their fleet."""

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from apps.common.sql import statement
from apps.intelligence.config import intelligence_config

# --- Demand forecast -------------------------------------------------------------------------
#
# Rentals started per store and day for the next 7 days. Model: Holt-Winters (statsmodels
# ExponentialSmoothing) with a damped additive trend and an additive weekly season, fitted per store
# on the last year of a series from which a yearly day-of-year factor has been divided out; the
# forecast is multiplied by that factor again. Why the factor instead of a 365-day Holt-Winters
# season: a yearly season inside Holt-Winters needs several years of every store and 365 seasonal
# states per store (slow, and noisy with one or two years), while the yearly shape is shared by
# the whole business, so it is estimated once from the pooled daily total of all stores (its
# 7-day mean over its centred 365-day mean, averaged by day of year and smoothed over ±7 days).
# With less than two years of history there is no yearly factor (1 everywhere): a single year
# cannot tell the season from that year's trend.
#
# Backtest: rolling origin over the last BACKTEST_WEEKS weeks; at each weekly origin the factor
# and the model are fitted only on data before it and forecast the next 7 days, against the
# seasonal-naive forecast (same weekday one week earlier). MAPE (over days with rentals), WAPE and
# bias (sum(forecast)/sum(actual) - 1) per store and overall are stored with the forecast.

FORECAST_DEFAULTS = {
    "HORIZON_DAYS": 7,
    "HISTORY_DAYS": 730,
    "FIT_DAYS": 364,
    "BACKTEST_WEEKS": 8,
    "MIN_HISTORY_DAYS": 28,
    "DURATION_WINDOW_DAYS": 90,
}


def _daily_starts(*, first_day: dt.date, last_day: dt.date):
    """A days x stores matrix (pandas DataFrame) of rentals started per local day, zeros filled."""
    import pandas as pd

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # see apps.common.sql
        cursor.execute(
            statement(__name__, "demand_forecast.sql", "daily_starts"),
            {"first_day": first_day, "last_day": last_day},
        )
        rows = cursor.fetchall()
        cursor.execute("SELECT id FROM regions_store WHERE is_active ORDER BY id")
        store_ids = [row[0] for row in cursor.fetchall()]
    index = pd.date_range(first_day, last_day, freq="D")
    frame = pd.DataFrame(rows, columns=["store_id", "day", "n"])
    if frame.empty:
        return pd.DataFrame(0.0, index=index, columns=store_ids)
    frame["day"] = pd.to_datetime(frame["day"])
    matrix = frame.pivot_table(index="day", columns="store_id", values="n", aggfunc="sum")
    return matrix.reindex(index=index, columns=store_ids).fillna(0.0).astype(float)


def yearly_factor(total, *, smooth_days: int = 7):
    """Multiplicative day-of-year factor (index 1..366) from a pooled daily series (pandas Series
    with a DatetimeIndex): its centred 7-day mean over its centred 365-day mean, averaged per day of
    year, smoothed circularly; days never seen get 1. Mean 1 over the year. Needs two years of
    history from the first rental on (each day of the year then has a full centred year around
    it); with less it is 1 everywhere."""
    import numpy as np
    import pandas as pd

    started = total.cumsum() > 0
    total = total[started]  # days before the business had any rental are not zero demand
    if len(total) < 730:
        # One year shows one value per day of year, inseparable from that year's trend and noise.
        return pd.Series(1.0, index=range(1, 367))
    level = total.rolling(365, center=True, min_periods=365).mean()
    ratio = (total.rolling(7, center=True, min_periods=7).mean() / level).replace([np.inf, -np.inf], np.nan)
    by_day = ratio.groupby(np.minimum(ratio.index.day_of_year, 365)).mean().reindex(range(1, 366))
    if by_day.notna().sum() == 0:
        return pd.Series(1.0, index=range(1, 367))
    padded = pd.concat([by_day.iloc[-smooth_days:], by_day, by_day.iloc[:smooth_days]])
    smoothed = padded.rolling(2 * smooth_days + 1, center=True, min_periods=1).mean().iloc[smooth_days:-smooth_days]
    smoothed.index = range(1, 366)
    factor = smoothed.fillna(1.0).clip(0.5, 2.0)
    factor = factor / factor.mean()
    factor.loc[366] = factor.loc[365]
    return factor


HW_PARAMS = ("smoothing_level", "smoothing_trend", "smoothing_seasonal", "damping_trend")


def holt_winters_forecast(history, horizon: int, params: dict | None = None):
    """Damped additive trend + additive weekly season (statsmodels). With `params` the smoothing
    parameters are fixed (only the states run over the data); without, they are optimised.
    Returns (forecast, params). Falls back to the weekly profile of the last four weeks when the
    series is too short or flat to fit."""
    import warnings

    import numpy as np
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    values = np.asarray(history, dtype=float)
    if len(values) < 28 or np.allclose(values, values[0]):
        tail = values[-28:] if len(values) >= 7 else np.resize(values, 7)
        weeks = tail[-(len(tail) // 7) * 7 :].reshape(-1, 7)
        profile = weeks.mean(axis=0)
        return np.array([profile[h % 7] for h in range(horizon)]), params
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on flat or tiny series
        model = ExponentialSmoothing(
            values,
            trend="add",
            damped_trend=True,
            seasonal="add",
            seasonal_periods=7,
            initialization_method="heuristic",
        )
        fitted = model.fit(**params, optimized=False) if params else model.fit(use_brute=False)
        forecast = fitted.forecast(horizon)
    used = {name: float(fitted.params[name]) for name in HW_PARAMS}
    return np.clip(np.nan_to_num(forecast, nan=0.0), 0.0, None), used


def store_forecast(series, factor, *, horizon: int, fit_days: int, params: dict | None = None):
    """Forecast of one store's daily starts (pandas Series with a DatetimeIndex) for the next
    `horizon` days: divide out the yearly factor, Holt-Winters, multiply it back.
    Returns (forecast, days, params)."""
    import numpy as np
    import pandas as pd

    started = series.cumsum() > 0  # days before a store's first rental are not zero demand
    recent = series[started].iloc[-fit_days:] if started.any() else series.iloc[-fit_days:]
    past_factor = factor.reindex(recent.index.day_of_year).to_numpy()
    future_days = pd.date_range(recent.index[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")
    future_factor = factor.reindex(future_days.day_of_year).to_numpy()
    adjusted = recent.to_numpy() / past_factor
    forecast, params = holt_winters_forecast(adjusted, horizon, params)
    return np.clip(forecast * future_factor, 0.0, None), future_days, params


def forecast_errors(forecast, actual) -> dict:
    """MAPE over days with rentals, WAPE and bias of paired arrays (percentages)."""
    import numpy as np

    forecast, actual = np.asarray(forecast, float), np.asarray(actual, float)
    total = actual.sum()
    positive = actual > 0
    return {
        "mape": round(float(np.mean(np.abs(forecast[positive] - actual[positive]) / actual[positive]) * 100), 2)
        if positive.any()
        else None,
        "wape": round(float(np.abs(forecast - actual).sum() / total * 100), 2) if total else None,
        "bias": round(float((forecast.sum() - total) / total * 100), 2) if total else None,
        "days": len(actual),
    }


def demand_backtest(matrix, *, weeks: int, horizon: int, fit_days: int) -> dict:
    """Rolling-origin backtest over the last `weeks` weeks of the matrix (days x stores): the
    model vs the seasonal-naive forecast, per store and overall. Nothing after an origin is used
    to forecast from it: each store's smoothing parameters are optimised once on the data before
    the first origin and then kept fixed while its states run on to each later origin (a
    fixed-parameter rolling origin, 8x cheaper than re-optimising every week)."""
    import numpy as np

    per_store: dict = {store: {"model": [], "naive": [], "actual": []} for store in matrix.columns}
    fitted_params: dict = {}
    days = len(matrix)
    for week in range(weeks, 0, -1):
        origin = days - week * 7  # first forecast day's position
        if origin < 28:
            continue
        past = matrix.iloc[:origin]
        factor = yearly_factor(past.sum(axis=1))
        future = matrix.iloc[origin : origin + horizon]
        for store in matrix.columns:
            history = past[store]
            if history.sum() == 0:
                continue
            model, _, fitted_params[store] = store_forecast(
                history, factor, horizon=len(future), fit_days=fit_days, params=fitted_params.get(store)
            )
            naive = matrix[store].to_numpy()[origin - 7 : origin - 7 + len(future)]
            per_store[store]["model"].extend(model)
            per_store[store]["naive"].extend(naive)
            per_store[store]["actual"].extend(future[store].to_numpy())
    stores = {}
    everything = {"model": [], "naive": [], "actual": []}
    for store, series in per_store.items():
        if not series["actual"]:
            continue
        stores[str(store)] = {
            "model": forecast_errors(series["model"], series["actual"]),
            "naive": forecast_errors(series["naive"], series["actual"]),
        }
        for key in everything:
            everything[key].extend(series[key])
    overall = {
        "model": forecast_errors(everything["model"], everything["actual"]) if everything["actual"] else None,
        "naive": forecast_errors(everything["naive"], everything["actual"]) if everything["actual"] else None,
    }
    if overall["model"] and overall["naive"] and overall["naive"]["wape"] is not None:
        overall["model_beats_naive_wape"] = bool(overall["model"]["wape"] < overall["naive"]["wape"])
        mapes = (overall["model"]["mape"], overall["naive"]["mape"])
        overall["model_beats_naive_mape"] = bool(None not in mapes and mapes[0] < mapes[1])
    overall["weeks"] = weeks
    overall["stores"] = len(stores)
    overall["store_days"] = int(np.asarray(everything["actual"]).size)
    return {"overall": overall, "stores": stores}


def _fleet_and_duration(*, as_of: dt.date, window_days: int) -> dict[int, tuple[int, float]]:
    """Per store: vehicles available to rent (home fleet, available or rented) and the mean rental
    length in days of its completed rentals over the window."""
    until = dt.datetime.combine(as_of, dt.time.min, tzinfo=timezone.get_current_timezone())
    with connection.cursor() as cursor:
        cursor.execute(
            statement(__name__, "demand_forecast.sql", "fleet_and_duration"),
            {"since": until - dt.timedelta(days=window_days), "until": until},
        )
        return {row[0]: (row[1], float(row[2]) if row[2] is not None else 1.0) for row in cursor.fetchall()}


def demand_forecast_run(*, as_of: dt.date | None = None, progress=None) -> dict:
    """Forecasts the next HORIZON_DAYS of rentals per active store from history up to the day
    before `as_of` (default today), backtests the model against seasonal-naive, and keeps a
    demand_surge event open for every store whose expected vehicles on rent (forecast starts x
    mean rental length, Little's law) exceed its available fleet on some day. Returns everything
    (stored as the job run's result)."""
    from apps.alerts.services import events_sync

    cfg = intelligence_config("DEMAND_FORECAST", FORECAST_DEFAULTS)
    as_of = as_of or timezone.localdate()
    last_day = as_of - dt.timedelta(days=1)
    first_day = last_day - dt.timedelta(days=cfg["HISTORY_DAYS"] - 1)
    matrix = _daily_starts(first_day=first_day, last_day=last_day)
    horizon = cfg["HORIZON_DAYS"]

    backtest = demand_backtest(matrix, weeks=cfg["BACKTEST_WEEKS"], horizon=horizon, fit_days=cfg["FIT_DAYS"])
    if progress:
        progress("backtest done")
    factor = yearly_factor(matrix.sum(axis=1))
    capacity = _fleet_and_duration(as_of=as_of, window_days=cfg["DURATION_WINDOW_DAYS"])
    forecasts, findings = {}, []
    for store in matrix.columns:
        history = matrix[store]
        active_days = int((history.cumsum() > 0).sum())
        if active_days < cfg["MIN_HISTORY_DAYS"]:
            continue
        values, days, _ = store_forecast(history, factor, horizon=horizon, fit_days=cfg["FIT_DAYS"])
        fleet, mean_days = capacity.get(store, (0, 1.0))
        on_rent = values * max(mean_days, 1.0)
        forecasts[str(store)] = {
            "days": [d.date().isoformat() for d in days],
            "rentals": [round(float(v), 2) for v in values],
            "expected_on_rent": [round(float(v), 1) for v in on_rent],
            "fleet": fleet,
            "mean_rental_days": round(mean_days, 2),
        }
        peak = int(on_rent.argmax())
        if on_rent[peak] > fleet:
            ratio = on_rent[peak] / fleet if fleet else float("inf")
            findings.append(
                {
                    "severity": "critical" if ratio >= 1.5 else "high" if ratio >= 1.25 else "medium",
                    "entity_type": "regions.store",
                    "entity_id": store,
                    "title": f"Demand surge at store {store}: {on_rent[peak]:.0f} vehicles needed on"
                    f" {days[peak].date()}, {fleet} available",
                    "description": (
                        f"Forecast {values[peak]:.1f} rentals starting on {days[peak].date()} x mean rental length"
                        f" {mean_days:.1f} days ≈ {on_rent[peak]:.0f} vehicles on rent; the store has {fleet}."
                    ),
                    "metadata": {"demand": {"day": days[peak].date(), "forecast": forecasts[str(store)]}},
                    "score": round(min(ratio, 99.0), 2),
                }
            )
    sync = events_sync(event_type="demand_surge", findings=findings, source="intelligence.demand_forecast")
    return {
        "as_of": as_of.isoformat(),
        "history": {"first_day": first_day.isoformat(), "last_day": last_day.isoformat()},
        "model": "Holt-Winters (damped additive trend, additive weekly season) x pooled day-of-year factor",
        "backtest": backtest,
        "forecasts": forecasts,
        "events": sync,
    }
