"""Read queries over the fleet: revenue opportunities, the maintenance queue, vehicle reports."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from django.db.models import QuerySet
from django.utils import timezone

from apps.alerts.config import intelligence_config
from apps.fleet.models import MaintenanceForecast
from apps.jobs import sql as batch_sql

SQL_DIR = Path(__file__).resolve().parent / "sql"

REVENUE_DEFAULTS = {
    "WINDOW_DAYS": 90,
    "HORIZON_DAYS": 30,
    # under-priced: completed rentals pay at least this much above list, over enough rentals
    "UNDER_MARGIN": 0.10,
    "MIN_RENTALS": 3,
    "MAX_RAISE": 0.20,
    # over-priced: low utilisation at (about) the list price while its peers rent well
    "LOW_UTILISATION": 0.35,
    "PEER_GAP": 0.15,
    "MAX_CUT": 0.20,
    # how strongly a vehicle's utilisation answers its price against identical peers
    "ELASTICITY": 1.5,
}


def _rows(sql_name: str, params: dict) -> list[dict]:
    return batch_sql.fetch_dicts((SQL_DIR / sql_name).read_text(), params)


def _half_euro(value: float) -> Decimal:
    return (Decimal(str(value)) * 2).quantize(Decimal("1"), rounding=ROUND_HALF_UP) / 2


def vehicle_revenue_measures(*, as_of: dt.datetime | None = None, window_days: int | None = None) -> list[dict]:
    """Per vehicle: list vs actual daily rate, utilisation, idle days and peer utilisation (one query)."""
    cfg = intelligence_config("REVENUE", REVENUE_DEFAULTS)
    until = as_of or timezone.now()
    since = until - dt.timedelta(days=window_days or cfg["WINDOW_DAYS"])
    return _rows("vehicle_revenue.sql", {"since": since, "until": until})


def classify_revenue(row: dict, cfg: dict) -> dict | None:
    """Under-priced when completed rentals pay well above list: suggest what they pay (at most
    MAX_RAISE above list); the effect is the same rented days at the new list rate.
    Over-priced when utilisation is low at about the list price while peers rent well: under a
    constant-elasticity answer of utilisation to price (u ∝ p^-e against identical peers) the price
    that would bring it to its peers is p·(u/u_peer)^(1/e), cut by at most MAX_CUT; the effect is
    the modelled revenue at the new price minus the revenue now."""
    horizon = cfg["HORIZON_DAYS"]
    list_rate = float(row["list_rate"])
    utilisation = float(row["utilisation"])
    peer = float(row["peer_utilisation"] or 0)
    actual = float(row["actual_rate"]) if row["actual_rate"] is not None else None
    if list_rate <= 0:
        return None
    if actual is not None and row["rentals"] >= cfg["MIN_RENTALS"] and actual >= list_rate * (1 + cfg["UNDER_MARGIN"]):
        suggested = _half_euro(min(actual, list_rate * (1 + cfg["MAX_RAISE"])))
        effect = horizon * utilisation * (float(suggested) - list_rate)
        reason = (
            f"completed rentals paid {actual:.2f}/day, {100 * (actual / list_rate - 1):.0f}% above the list"
            f" {list_rate:.2f} over {row['rentals']} rentals at {100 * utilisation:.0f}% utilisation"
        )
        return {"verdict": "under_priced", "suggested_rate": suggested, "effect_30d": effect, "reason": reason}
    priced_at_list = actual is None or actual >= list_rate * 0.95
    if utilisation < cfg["LOW_UTILISATION"] and peer - utilisation >= cfg["PEER_GAP"] and priced_at_list:
        elasticity = cfg["ELASTICITY"]
        # a vehicle with no rented day at all counts as half a day, so the model has a base to scale
        base = max(utilisation, 0.5 / max(float(row["fleet_days"]), 1.0))
        target = list_rate * (base / peer) ** (1 / elasticity)
        suggested = _half_euro(max(target, list_rate * (1 - cfg["MAX_CUT"])))
        new_utilisation = min(peer, base * (float(suggested) / list_rate) ** (-elasticity))
        effect = horizon * (new_utilisation * float(suggested) - utilisation * list_rate)
        reason = (
            f"{100 * utilisation:.0f}% utilisation at the list {list_rate:.2f} while its peers run at"
            f" {100 * peer:.0f}%; idle {row['idle_days']} days"
        )
        return {"verdict": "over_priced", "suggested_rate": suggested, "effect_30d": effect, "reason": reason}
    return None


def vehicle_revenue_opportunities(
    *, as_of: dt.datetime | None = None, window_days: int | None = None, limit: int | None = None
) -> list[dict]:
    """Under- and over-priced vehicles with a suggested rate and the expected revenue effect over
    the next HORIZON_DAYS, ranked by that effect (largest first)."""
    cfg = intelligence_config("REVENUE", REVENUE_DEFAULTS)
    opportunities = []
    for row in vehicle_revenue_measures(as_of=as_of, window_days=window_days):
        verdict = classify_revenue(row, cfg)
        if verdict:
            verdict["effect_30d"] = Decimal(str(verdict["effect_30d"])).quantize(Decimal("0.01"))
            opportunities.append({**row, **verdict})
    opportunities.sort(key=lambda o: (-o["effect_30d"], o["vehicle_id"]))
    return opportunities[:limit] if limit else opportunities


def maintenance_queue(*, as_of: dt.date | None = None) -> QuerySet[MaintenanceForecast]:
    """The latest forecast per vehicle, most urgent first (overdue, due soon, planned, ok)."""
    as_of = as_of or (
        MaintenanceForecast.objects.order_by("-as_of").values_list("as_of", flat=True).first() or timezone.localdate()
    )
    urgency_order = ["overdue", "due_soon", "planned", "ok"]
    from django.db.models import Case, IntegerField, Value, When

    return (
        MaintenanceForecast.objects.filter(as_of=as_of)
        .select_related("vehicle", "vehicle__home_store")
        .annotate(
            urgency_rank=Case(
                *[When(urgency=u, then=Value(i)) for i, u in enumerate(urgency_order)], output_field=IntegerField()
            )
        )
        .order_by("urgency_rank", "predicted_service_on", "vehicle_id")
    )


def vehicle_performance_report(*, as_of: dt.datetime | None = None, days: int = 90) -> list[dict]:
    """Every vehicle graded best to worst (utilisation, revenue, incidents, harsh events), one query."""
    until = as_of or timezone.now()
    return _rows("vehicle_performance.sql", {"since": until - dt.timedelta(days=days), "until": until})


def vehicle_status_counts() -> dict:
    from django.db.models import Count

    from apps.fleet.models import Vehicle

    counts = dict.fromkeys(Vehicle.Status.values, 0)
    for row in Vehicle.objects.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    return counts
