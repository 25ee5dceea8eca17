"""The command center: KPI cards against the previous period, daily trends by region, the alert
feed, the fleet by status and the forecast backtest."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from apps.alerts.models import OperationalEvent
from apps.alerts.selectors import event_live_counts
from apps.fleet.selectors import vehicle_status_counts
from apps.intelligence.selectors import customer_segments_latest, demand_forecast_latest
from apps.regions.selectors import company_metrics, region_metrics_rollup

PERIODS = (7, 30, 90, 365)
TREND_METRICS = {"revenue": "Revenue", "rentals": "Rentals started", "utilisation": "Utilisation"}
LIVE = ("open", "acknowledged")


def period_bounds(days: int, *, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last `days` complete days (up to yesterday: today's KPIs are computed tonight)."""
    last = (today or timezone.localdate()) - dt.timedelta(days=1)
    return last - dt.timedelta(days=days - 1), last


def _change(now, before) -> float | None:
    if before in (None, 0) or now is None:
        return None
    return float((Decimal(now) - Decimal(before)) / Decimal(before))


def kpi_cards(*, days: int) -> dict:
    """Revenue, rentals, utilisation and average rate of the period, each with its change against
    the period of the same length before it (two queries)."""
    first, last = period_bounds(days)
    now = company_metrics(first_day=first, last_day=last)
    before = company_metrics(first_day=first - dt.timedelta(days=days), last_day=first - dt.timedelta(days=1))
    cards = []
    for key, label, fmt in (
        ("revenue", "Revenue", "money"),
        ("rentals", "Rentals started", "thousands"),
        ("utilisation", "Utilisation", "pct"),
        ("average_daily_rate", "Average daily rate", "money"),
    ):
        cards.append(
            {
                "key": key,
                "label": label,
                "value": now[key],
                "fmt": fmt,
                "change": _change(now[key], before[key]),
                "has_data": bool(now["fleet_days"]),
            }
        )
    return {"first": first, "last": last, "cards": cards, "has_data": bool(now["fleet_days"])}


def kpi_trends(*, days: int) -> list[dict]:
    """The trend charts (revenue, rentals, utilisation), each per day and region over the period,
    from one query (one pass over its rows: 2,190 of them for 365 days of six regions)."""
    first, last = period_bounds(days)
    rows = region_metrics_rollup(first_day=first, last_day=last, by_day=True)
    size = (last - first).days + 1
    labels = [(first + dt.timedelta(days=n)).isoformat() for n in range(size)]
    series: dict[str, dict[str, list]] = {metric: {} for metric in TREND_METRICS}
    for row in rows:
        day, region = (row["date"] - first).days, row["region_name"]
        for metric, by_region in series.items():
            value = row[metric]
            by_region.setdefault(region, [None] * size)[day] = (
                round(float(value) * 100, 1) if metric == "utilisation" else float(value)
            )
    charts = []
    for metric, title in TREND_METRICS.items():
        chart = {
            "type": "line",
            "labels": labels,
            "datasets": [{"label": name, "data": values} for name, values in sorted(series[metric].items())],
            "unit": {"revenue": "€", "rentals": "", "utilisation": "%"}[metric],
            "title": title,
        }
        charts.append({"key": metric, "chart": chart})
    return charts


def alert_feed(*, limit: int = 12) -> list[OperationalEvent]:
    """The live events, newest first (one query)."""
    return list(OperationalEvent.objects.filter(status__in=LIVE).order_by("-last_seen_at", "-id")[:limit])


def alert_counts() -> dict:
    return event_live_counts()


def fleet_status_chart() -> dict:
    counts = vehicle_status_counts()
    return {
        "type": "doughnut",
        "labels": [status.replace("_", " ").capitalize() for status in counts],
        "datasets": [{"label": "Vehicles", "data": list(counts.values())}],
        "total": sum(counts.values()),
        "counts": counts,
    }


def forecast_backtest_words() -> str | None:
    """The demand forecast's backtest as one sentence, or None before the first forecast."""
    forecast = demand_forecast_latest()
    if not forecast:
        return None
    overall = forecast["backtest"]["overall"]
    model, naive = overall["model"], overall["naive"]
    measure = "wape" if "wape" in model and "wape" in naive else "mape"
    better = "better" if model[measure] < naive[measure] else "worse"
    return (
        f"Over the last {overall['weeks']} weeks ({overall.get('store_days', 0):,} store-days) the forecast missed "
        f"the rentals by {model[measure]:.0f} % ({measure.upper()}), {better} than repeating last week's numbers "
        f"({naive[measure]:.0f} %); it ran {abs(model['bias']):.0f} % "
        f"{'high' if model['bias'] > 0 else 'low'} on average."
    )


def customer_segments() -> dict | None:
    """Customers by RFM segment over the last 12 months, as the nightly segments job stored them
    (one query; None before its first run). No page view ranks the customers: on a world of
    100,000 rentals that took seconds."""
    return customer_segments_latest()
