"""Maintenance, revenue and the forecast pages, and the performance reports as CSV."""

from apps.fleet.selectors import maintenance_queue
from apps.intelligence.reports import driver_performance_report, rows_to_csv, vehicle_performance_report
from apps.intelligence.selectors import demand_forecast_latest, revenue_opportunities_latest
from apps.regions.models import Store

__all__ = [
    "demand_forecast_latest",
    "maintenance_queue",
    "performance_report",
    "revenue_opportunities_latest",
    "rows_to_csv",
    "store_codes",
]


def performance_report(kind: str) -> list[dict]:
    return vehicle_performance_report() if kind == "vehicles" else driver_performance_report()


def store_codes(ids: list[int]) -> dict[int, str]:
    return dict(Store.objects.filter(pk__in=ids).values_list("pk", "code"))


def forecast_stores(*, history_days: int = 56) -> tuple[dict | None, list[dict]]:
    """Per store: the last `history_days` of vehicles on rent, the 7-day forecast with a band of
    the store's backtest error (WAPE) either side, and the fleet; stores short of cars first
    (two queries)."""
    import datetime as dt

    from apps.regions.models import StoreDailyMetrics

    forecast = demand_forecast_latest()
    if not forecast:
        return None, []
    ids = [int(k) for k in forecast["forecasts"]]
    stores = {s.pk: s for s in Store.objects.filter(pk__in=ids).select_related("region")}
    first_forecast = dt.date.fromisoformat(next(iter(forecast["forecasts"].values()))["days"][0])
    since = first_forecast - dt.timedelta(days=history_days)
    history: dict[int, dict[str, int]] = {}
    for store_id, day, on_rent in StoreDailyMetrics.objects.filter(
        store_id__in=ids, date__gte=since, date__lt=first_forecast
    ).values_list("store_id", "date", "active_rentals"):
        history.setdefault(store_id, {})[day.isoformat()] = on_rent
    past_days = [(since + dt.timedelta(days=n)).isoformat() for n in range(history_days)]
    backtests = forecast["backtest"]["stores"]
    rows = []
    for key, values in forecast["forecasts"].items():
        store = stores.get(int(key))
        # the band: the store's backtest error by volume (WAPE), else by day (MAPE)
        error = (backtests.get(key) or {}).get("model", {}).get("wape") or (backtests.get(key) or {}).get(
            "model", {}
        ).get("mape")
        share = (error or 0) / 100
        expected = values["expected_on_rent"]
        labels = past_days + values["days"]
        pad = [None] * len(past_days)
        chart = {
            "type": "line",
            "labels": labels,
            "unit": "",
            "datasets": [
                {
                    "label": "On rent (actual)",
                    "data": [history.get(int(key), {}).get(d) for d in past_days] + [None] * len(expected),
                },
                {"label": "On rent (forecast)", "data": pad + expected, "dashed": True},
                {"label": "Forecast low", "data": pad + [round(v * (1 - share), 1) for v in expected], "band": "low"},
                {"label": "Forecast high", "data": pad + [round(v * (1 + share), 1) for v in expected], "band": "high"},
                {"label": "Fleet", "data": [values["fleet"]] * len(labels), "fleet": True},
            ],
        }
        peak = max(expected) if expected else 0
        rows.append(
            {
                "store_id": int(key),
                "code": store.code if store else key,
                "name": store.name if store else key,
                "region": store.region.name if store else "",
                "fleet": values["fleet"],
                "peak": peak,
                "short_by": max(0.0, round(peak - values["fleet"], 1)),
                "short": peak > values["fleet"],
                "mape": (backtests.get(key) or {}).get("model", {}).get("mape"),
                "naive_mape": (backtests.get(key) or {}).get("naive", {}).get("mape"),
                "rentals_next_7": round(sum(values["rentals"]), 1),
                "chart": chart,
            }
        )
    rows.sort(key=lambda r: (not r["short"], -(r["peak"] / r["fleet"] if r["fleet"] else 0), r["code"]))
    return forecast, rows


def maintenance_chart(queue) -> dict:
    counts = {"overdue": 0, "due_soon": 0, "planned": 0, "ok": 0}
    for urgency in queue.values_list("urgency", flat=True):
        counts[urgency] = counts.get(urgency, 0) + 1
    return {
        "type": "bar",
        "labels": ["Overdue", "Due soon", "Planned", "OK"],
        "datasets": [{"label": "Vehicles", "data": list(counts.values())}],
        "unit": "",
        "counts": counts,
    }
