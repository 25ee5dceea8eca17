"""Revenue opportunities: under- and over-priced vehicles (actual vs listed daily rate), ranked by
their expected effect, and the anomaly events of the largest ones."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from apps.alerts.services import events_sync
from apps.common.sql import fetch_dicts, statement
from apps.common.templatetags.fmt import money
from apps.intelligence.config import intelligence_config

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

REVENUE_EVENT_DEFAULTS = {"EVENT_LIMIT": 25, "MIN_EVENT_EFFECT": 150}

SOURCE_REVENUE = "intelligence.revenue"
# What the revenue page shows of each opportunity, stored in the job's result: the page reads the
# nightly ranking instead of scanning 90 days of rentals on every view.
STORED_FIELDS = (
    "vehicle_id", "plate", "make", "model", "verdict", "list_rate", "actual_rate", "suggested_rate", "utilisation",
    "peer_utilisation", "idle_days", "rentals", "effect_30d", "reason",
)  # fmt: skip
STORED_DECIMALS = ("list_rate", "actual_rate", "suggested_rate", "utilisation", "peer_utilisation", "effect_30d")


def _rows(sql_name: str, params: dict) -> list[dict]:
    return fetch_dicts(statement(__name__, sql_name), params)


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
            f"completed rentals paid {money(actual, 2)}/day, {100 * (actual / list_rate - 1):.0f}% above the list"
            f" {money(list_rate, 2)} over {row['rentals']} rentals at {100 * utilisation:.0f}% utilisation"
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
        idle = row["idle_days"]
        reason = (
            f"{100 * utilisation:.0f}% utilisation at the list {money(list_rate, 2)} while its peers run at"
            f" {100 * peer:.0f}%" + (f"; standing idle {idle} day{'' if idle == 1 else 's'}" if idle else "")
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


@transaction.atomic
def revenue_opportunities_sync(*, as_of: dt.datetime | None = None) -> dict:
    """Ranks the revenue opportunities and keeps an `anomaly` event open for the largest ones
    (at most EVENT_LIMIT with an effect of at least MIN_EVENT_EFFECT over 30 days); the result
    holds every opportunity (`ranking`: STORED_FIELDS) for the revenue page."""
    cfg = intelligence_config("REVENUE_EVENTS", REVENUE_EVENT_DEFAULTS)
    horizon = intelligence_config("REVENUE", REVENUE_DEFAULTS)["HORIZON_DAYS"]
    as_of = as_of or timezone.now()
    ranked = vehicle_revenue_opportunities(as_of=as_of)
    biggest = [o for o in ranked if o["effect_30d"] >= cfg["MIN_EVENT_EFFECT"]][: cfg["EVENT_LIMIT"]]
    findings = [
        {
            "severity": "high" if o["effect_30d"] >= 1000 else "medium" if o["effect_30d"] >= 300 else "low",
            "entity_type": "fleet.vehicle",
            "entity_id": o["vehicle_id"],
            "title": (
                f"{o['plate']} {o['verdict'].replace('_', '-')}: list {o['list_rate']} → {o['suggested_rate']}"
                f" (+{o['effect_30d']} over {horizon} days)"
            ),
            "description": o["reason"],
            "metadata": {
                "revenue": {
                    k: o[k]
                    for k in (
                        "verdict",
                        "list_rate",
                        "actual_rate",
                        "suggested_rate",
                        "effect_30d",
                        "utilisation",
                        "peer_utilisation",
                        "idle_days",
                        "rentals",
                    )
                }
            },
            "score": float(o["effect_30d"]),
        }
        for o in biggest
    ]
    sync = events_sync(event_type="anomaly", findings=findings, source=SOURCE_REVENUE)
    return {
        "opportunities": len(ranked),
        "under_priced": sum(1 for o in ranked if o["verdict"] == "under_priced"),
        "over_priced": sum(1 for o in ranked if o["verdict"] == "over_priced"),
        "total_effect_30d": sum((o["effect_30d"] for o in ranked), start=0),
        "events": sync,
        "as_of": as_of.isoformat(),
        "window_days": intelligence_config("REVENUE", REVENUE_DEFAULTS)["WINDOW_DAYS"],
        "ranking": [{k: o[k] for k in STORED_FIELDS} for o in ranked],
    }
