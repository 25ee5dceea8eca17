"""Predictive maintenance: the next service of every vehicle (MaintenanceForecast rows, owned by
fleet) and the maintenance events of the vehicles due or overdue."""

import datetime as dt
import math
import statistics

from django.db import connection, transaction
from django.utils import timezone

from apps.alerts.services import events_sync
from apps.common.sql import fetch_dicts, statement
from apps.intelligence.config import intelligence_config

MAINTENANCE_DEFAULTS = {
    "WINDOW_DAYS": 90,
    "SERVICE_INTERVAL_KM": 15000,
    "SERVICE_INTERVAL_DAYS": 365,
    # harsh driving wears brakes and tyres: each 100 % above the fleet median shortens the km
    # interval by HARSH_WEIGHT (as a divisor), never below MIN_WEAR_FACTOR of it
    "HARSH_WEIGHT": 0.5,
    "MIN_WEAR_FACTOR": 0.6,
    "MIN_TRIP_KM": 100,
    # a vehicle standing this long gets a check (battery, tyres, brakes) before its next rental
    "IDLE_CHECK_DAYS": 45,
    "DUE_SOON_DAYS": 7,
    "PLANNED_DAYS": 30,
}

SOURCE_MAINTENANCE = "intelligence.maintenance"


def _rows(sql_name: str, params: dict) -> list[dict]:
    return fetch_dicts(statement(__name__, sql_name), params)


def _end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=timezone.get_current_timezone())


def predict_service(row: dict, *, as_of: dt.date, fleet_median_harsh: float | None, cfg: dict) -> dict:
    """The next service date of one vehicle from the earliest of three limits (distance at its
    current pace, shortened by a harsh-event load above the fleet median; time since the last
    service; standing idle), with the reason in words."""
    window = cfg["WINDOW_DAYS"]
    km_per_day = max(float(row["rental_km"]), float(row["trip_km"])) / window
    if row["last_service_km"] is not None and row["next_due_km"] is not None:
        interval_km = max(row["next_due_km"] - row["last_service_km"], 1)
    else:
        interval_km = cfg["SERVICE_INTERVAL_KM"]
    wear = 1.0
    harsh = row["harsh_per_100km"]
    if harsh is not None and fleet_median_harsh:
        excess = max(0.0, float(harsh) / fleet_median_harsh - 1)
        wear = max(cfg["MIN_WEAR_FACTOR"], 1 / (1 + cfg["HARSH_WEIGHT"] * excess))
    effective_km = round(interval_km * wear)
    remaining_km = effective_km - row["km_since_service"]

    candidates = []
    if remaining_km <= 0:
        overdue_days = math.ceil(-remaining_km / km_per_day) if km_per_day > 0 else 1
        km_date = as_of - dt.timedelta(days=overdue_days)
    elif km_per_day > 0:
        km_date = as_of + dt.timedelta(days=math.ceil(remaining_km / km_per_day))
    else:
        km_date = None
    if km_date is not None:
        why = f"{row['km_since_service']:,} km since service of a {effective_km:,} km interval"
        if wear < 1:
            why += f" (shortened from {interval_km:,} km: harsh-event load {float(harsh):.1f}/100 km"
            why += f" vs fleet median {fleet_median_harsh:.1f})"
        why += f", driving {km_per_day:.0f} km/day"
        candidates.append((km_date, "distance", why))
    time_date = row["next_due_on"] or (row["counted_from"] + dt.timedelta(days=cfg["SERVICE_INTERVAL_DAYS"]))
    candidates.append((time_date, "time", f"{row['days_since_service']} days since service, due by {time_date}"))
    if row["idle_days"] >= cfg["IDLE_CHECK_DAYS"] and row["status"] != "rented":
        idle_date = as_of - dt.timedelta(days=row["idle_days"] - cfg["IDLE_CHECK_DAYS"])
        candidates.append((idle_date, "idle", f"standing idle {row['idle_days']} days: battery, tyre and brake check"))
    predicted, driver, reason = min(candidates, key=lambda c: (c[0], c[1]))

    days_left = (predicted - as_of).days
    if days_left < 0:
        urgency = "overdue"
    elif days_left <= cfg["DUE_SOON_DAYS"]:
        urgency = "due_soon"
    elif days_left <= cfg["PLANNED_DAYS"]:
        urgency = "planned"
    else:
        urgency = "ok"
    return {
        "predicted_service_on": predicted,
        "urgency": urgency,
        "driver": driver,
        "reason": reason,
        "days_left": days_left,
        "km_per_day": round(km_per_day, 1),
        "wear_factor": round(wear, 3),
    }


def _severity(prediction: dict) -> str:
    days_left = prediction["days_left"]
    if days_left < -30:
        return "critical"
    if days_left < 0:
        return "high"
    return "medium" if days_left <= 3 else "low"


@transaction.atomic
def maintenance_forecast_refresh(*, as_of: dt.date | None = None) -> dict:
    """Predicts the next service of every vehicle, upserts one MaintenanceForecast per vehicle for
    `as_of` (one bulk statement) and syncs maintenance events for vehicles due within DUE_SOON_DAYS
    or overdue; events of vehicles serviced since close themselves (auto-resolved)."""
    cfg = intelligence_config("MAINTENANCE", MAINTENANCE_DEFAULTS)
    as_of = as_of or timezone.localdate()
    until = _end_of_day(as_of)
    rows = _rows(
        "vehicle_maintenance.sql",
        {
            "as_of": as_of,
            "until": until,
            "since": until - dt.timedelta(days=cfg["WINDOW_DAYS"]),
            "window_days": cfg["WINDOW_DAYS"],
            "min_trip_km": cfg["MIN_TRIP_KM"],
        },
    )
    loads = [float(r["harsh_per_100km"]) for r in rows if r["harsh_per_100km"] is not None]
    fleet_median_harsh = statistics.median(loads) if loads else None
    forecasts = [
        (row, predict_service(row, as_of=as_of, fleet_median_harsh=fleet_median_harsh, cfg=cfg)) for row in rows
    ]

    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            statement(__name__, "maintenance_forecast_upsert.sql"),
            {
                "as_of": as_of,
                "now": now,
                "vehicle": [r["vehicle_id"] for r, _ in forecasts],
                "predicted": [p["predicted_service_on"] for _, p in forecasts],
                "km": [r["km_since_service"] for r, _ in forecasts],
                "days": [max(r["days_since_service"], 0) for r, _ in forecasts],
                "util": [float(r["utilisation"]) for r, _ in forecasts],
                "idle": [max(r["idle_days"], 0) for r, _ in forecasts],
                "harsh": [
                    float(r["harsh_per_100km"]) if r["harsh_per_100km"] is not None else None for r, _ in forecasts
                ],
                "urgency": [p["urgency"] for _, p in forecasts],
                "reason": [p["reason"] for _, p in forecasts],
            },
        )
    findings = [
        {
            "severity": _severity(p),
            "entity_type": "fleet.vehicle",
            "entity_id": r["vehicle_id"],
            "title": (
                f"{r['plate']}: service overdue since {p['predicted_service_on']}"
                if p["urgency"] == "overdue"
                else f"{r['plate']}: service due {p['predicted_service_on']}"
            ),
            "description": p["reason"],
            "metadata": {
                "maintenance": {
                    "predicted_service_on": p["predicted_service_on"],
                    "driver": p["driver"],
                    "km_since_service": r["km_since_service"],
                    "days_since_service": r["days_since_service"],
                    "km_per_day": p["km_per_day"],
                    "wear_factor": p["wear_factor"],
                    "idle_days": r["idle_days"],
                }
            },
            "score": float(-p["days_left"]),
        }
        for r, p in forecasts
        if p["urgency"] in ("overdue", "due_soon") and r["status"] != "maintenance"  # already in the workshop
    ]
    sync = events_sync(event_type="maintenance", findings=findings, source=SOURCE_MAINTENANCE)
    by_urgency = {
        u: sum(1 for _, p in forecasts if p["urgency"] == u) for u in ("overdue", "due_soon", "planned", "ok")
    }
    return {
        "as_of": as_of.isoformat(),
        "vehicles": len(forecasts),
        "by_urgency": by_urgency,
        "fleet_median_harsh_per_100km": round(fleet_median_harsh, 2) if fleet_median_harsh else None,
        "events": sync,
    }
