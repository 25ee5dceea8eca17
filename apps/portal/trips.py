"""Reads for the driver's trips: the list as cards, one trip with its route, speed profile and
the points it cost, and the trip in progress. Every read takes the driver's own customer id (from
the signed-in user, never from the URL); each page runs a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.portal import route as routes
from apps.telematics.models import Trip
from apps.telematics.selectors import trip_samples_load

KMH = 3.6

TRIP_LIST_FIELDS = (
    "id",
    "driver_id",
    "started_at",
    "ended_at",
    "distance_km",
    "duration_s",
    "feature_status",
    "score",
    "harsh_brake_count",
    "harsh_accel_count",
    "harsh_corner_count",
    "speeding_count",
    "phone_use_s",
    "score_deductions",
    "in_progress",
)

EVENT_LABELS = {
    "harsh_brake": "Harsh braking",
    "rapid_accel": "Harsh acceleration",
    "harsh_corner": "Harsh cornering",
    "speeding": "Speeding",
    "phone_use": "Phone use while moving",
}
DEDUCTION_LABELS = {**EVENT_LABELS, "night": "Night driving"}
# Marker colours on the map, one per kind of event (the legend on the page uses the same).
EVENT_COLOURS = {
    "harsh_brake": "#c62828",
    "rapid_accel": "#6a1b9a",
    "harsh_corner": "#1565c0",
    "phone_use": "#00695c",
    "speeding": "#e65100",
}


def driver_trip_list(*, driver_id: int) -> QuerySet[Trip]:
    """The driver's trips, newest first, without the samples or event documents."""
    return Trip.objects.filter(driver_id=driver_id).only(*TRIP_LIST_FIELDS).order_by("-started_at", "-id")


def driver_trip_get(*, driver_id: int, trip_id: int) -> Trip | None:
    """One of the driver's own trips (None for another driver's trip or no trip)."""
    return Trip.objects.filter(driver_id=driver_id, pk=trip_id).select_related("vehicle").first()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _amount_text(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds / 60:.1f} min".replace(".0 min", " min")


def deduction_text(deduction: dict) -> str:
    """What a deduction counts, in words: "2 harsh brakes", "1.5 min over the limit"."""
    reason, amount = deduction.get("reason"), float(deduction.get("amount") or 0)
    if reason == "harsh_brake":
        return _plural(round(amount), "harsh brake")
    if reason == "rapid_accel":
        return _plural(round(amount), "hard acceleration")
    if reason == "harsh_corner":
        return _plural(round(amount), "fast corner")
    if reason == "speeding":
        return f"{_amount_text(amount * 60)} over the limit"
    if reason == "phone_use":
        return f"{_amount_text(amount * 60)} on the phone while moving"
    if reason == "night":
        return f"{round(amount * 100)} % of the trip at night"
    return DEDUCTION_LABELS.get(reason, str(reason))


def trip_costs(trip: Trip) -> list[dict[str, Any]]:
    """The points each category cost on this trip, the largest first."""
    costs = [
        {
            "reason": d.get("reason"),
            "label": DEDUCTION_LABELS.get(d.get("reason"), d.get("reason")),
            "text": deduction_text(d),
            "points": float(d.get("points") or 0),
        }
        for d in trip.score_deductions or []
        if float(d.get("points") or 0) > 0
    ]
    costs.sort(key=lambda c: (-c["points"], c["label"]))
    top = max((c["points"] for c in costs), default=0.0)
    for c in costs:
        c["share"] = round(100 * c["points"] / top) if top else 0
    return costs


def trip_cards(trips) -> list[dict[str, Any]]:
    """The list's trips with what cost them points (the list reads no samples)."""
    return [{"trip": t, "costs": trip_costs(t)} for t in trips]


def _event_time(value: Any) -> dt.datetime | None:
    try:
        return timezone.localtime(dt.datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return None


def event_value(event: dict) -> str:
    """An event's strength as a driver reads it."""
    kind, magnitude = event.get("type"), float(event.get("magnitude") or 0)
    speed = round(float(event.get("speed_mps") or 0) * KMH)
    if kind in ("harsh_brake", "rapid_accel", "harsh_corner"):
        g = abs(magnitude) / 9.81
        return f"{abs(magnitude):.1f} m/s² ({g:.2f} g) at {speed} km/h"
    if kind == "speeding":
        limit = event.get("speed_limit_mps")
        if limit is None:
            return f"{round(magnitude * KMH)} km/h over the limit"
        return f"up to {round((float(limit) + magnitude) * KMH)} km/h where {round(float(limit) * KMH)} km/h is allowed"
    if kind == "phone_use":
        return f"{round(float(event.get('duration_s') or 0))} s at up to {round(magnitude * KMH)} km/h"
    return ""


def trip_events(trip: Trip) -> list[dict[str, Any]]:
    return [
        {
            "type": e.get("type"),
            "label": EVENT_LABELS.get(e.get("type"), e.get("type")),
            "at_local": _event_time(e.get("at")),
            "value": event_value(e),
            "duration_s": e.get("duration_s"),
            "colour": EVENT_COLOURS.get(e.get("type"), "#455a64"),
            "lat": e.get("lat"),
            "lon": e.get("lon"),
        }
        for e in trip.events or []
    ]


ROUTE_COLOUR = "#1e88e5"


def _end_points(line: list[list[float]], *, start_label: str, end_label: str) -> list[dict[str, Any]]:
    if not line:
        return []
    return [
        {"lat": line[0][0], "lon": line[0][1], "colour": "#2e7d32", "radius": 6, "label": start_label},
        {"lat": line[-1][0], "lon": line[-1][1], "colour": "#263238", "radius": 6, "label": end_label},
    ]


def trip_map(trip: Trip, samples, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The map's data island (the shared map drawing's format: lines, then points on top): the
    route, the speeding stretches coloured over it, start and end, and the other events."""
    line = routes.route(samples)
    stretches = [
        {
            "points": s["points"],
            "colour": EVENT_COLOURS["speeding"],
            "weight": 7,
            "label": (
                f"Speeding for {s['duration_s']} s: up to {s['peak_kmh']} km/h where {s['limit_kmh']} km/h is allowed"
                if s["limit_kmh"] is not None
                else f"Speeding for {s['duration_s']} s"
            ),
        }
        for s in routes.speeding_stretches(samples, trip.events or [])
    ]
    markers = [
        {
            "lat": e["lat"],
            "lon": e["lon"],
            "colour": e["colour"],
            "label": f"{e['label']}: {e['value']}" + (f" ({e['at_local']:%H:%M:%S})" if e["at_local"] else ""),
        }
        for e in events
        if e["type"] != "speeding" and e["lat"] is not None and e["lon"] is not None
    ]
    start = f"Start {timezone.localtime(trip.started_at):%H:%M}"
    end = f"End {timezone.localtime(trip.ended_at):%H:%M}"
    return {
        "lines": ([{"points": line, "colour": ROUTE_COLOUR, "weight": 4}] if line else []) + stretches,
        "points": _end_points(line, start_label=start, end_label=end) + markers,
    }


def speed_chart(profile: dict[str, Any]) -> dict[str, Any]:
    """The speed profile as the shared chart drawing's spec: speed and the posted limit, km/h."""
    datasets = [{"label": "Your speed", "data": profile["speed"], "colour": ROUTE_COLOUR}]
    if any(v is not None for v in profile["limit"]):
        datasets.append({"label": "Posted limit", "data": profile["limit"], "colour": "#c62828", "dashed": True})
    return {"type": "line", "labels": profile["labels"], "datasets": datasets, "unit": "km/h", "y_title": "km/h"}


def trip_detail(*, trip: Trip) -> dict[str, Any]:
    """The trip's features in the units people read (km/h, minutes), its events, the points
    lost per category, and its route and speed profile from its own samples (one query)."""
    _, samples = trip_samples_load(trips=[trip])
    events = trip_events(trip)
    profile = routes.speed_profile(samples)
    costs = trip_costs(trip)
    return {
        "trip": trip,
        "max_speed_kmh": round(trip.max_speed_mps * KMH),
        "mean_speed_kmh": round(trip.mean_speed_mps * KMH),
        "events": events,
        "colours": EVENT_COLOURS,
        "costs": costs,
        "points_lost": round(sum(c["points"] for c in costs), 1),
        "map": trip_map(trip, samples, events),
        "speed_chart": speed_chart(profile),
        "speed_step_s": profile["step_s"],
        "has_limits": any(v is not None for v in profile["limit"]),
    }


def driver_live_trip(*, driver_id: int, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """The trip the driver is on now: one detected from streamed positions and still open, else
    one uploaded whole in the last PORTAL_LIVE_TRIP_MINUTES that ended within the hour (not a
    backlog of old trips uploaded late); with its route so far and last position."""
    now = now or timezone.now()
    recent = now - dt.timedelta(minutes=settings.PORTAL_LIVE_TRIP_MINUTES)
    trip = (
        Trip.objects.filter(driver_id=driver_id)
        .filter(
            Q(in_progress=True)
            | Q(source=Trip.Source.UPLOAD, created_at__gte=recent, ended_at__gte=now - dt.timedelta(hours=1))
        )
        .only(*TRIP_LIST_FIELDS, "source", "created_at", "max_speed_mps")
        .order_by("-in_progress", "-started_at", "-id")
        .first()
    )
    if trip is None:
        return None
    _, samples = trip_samples_load(trips=[trip])
    line = routes.route(samples)
    live_map = None
    if line:
        last = {"lat": line[-1][0], "lon": line[-1][1], "colour": "#263238", "radius": 8, "label": "Last position"}
        live_map = {"lines": [{"points": line, "colour": ROUTE_COLOUR, "weight": 4}], "points": [last]}
    return {
        "trip": trip,
        "duration_s": (trip.ended_at - trip.started_at).total_seconds(),
        "last_at": trip.ended_at,
        "map": live_map,
    }
