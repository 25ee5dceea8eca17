"""The live fleet map: where every vehicle with an active tracker is, moving or stopped."""

import datetime as dt

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from apps.telematics.positions.selectors import VehiclePosition, positions_latest


def _moving(position: VehiclePosition, now: dt.datetime) -> bool:
    """Moving: reported within the stop time at a moving speed, or, from a tracker that sends no
    speed, while its trip is in progress."""
    if (now - position.recorded_at).total_seconds() > settings.TELEMATICS["TRIP_STOP_MINUTES"] * 60:
        return False
    if position.speed_mps is not None:
        return position.speed_mps >= settings.TELEMATICS["MOVING_SPEED_MPS"]
    return position.trip_id is not None


def fleet_positions(*, now: dt.datetime | None = None) -> dict:
    """The map's data (plain, JSON-ready): one entry per vehicle, plus the counts and the rules
    the page applies to live updates (one query)."""
    now = now or timezone.now()
    vehicles = []
    for p in positions_latest():
        url = reverse("ops:vehicle", args=[p.vehicle_id])
        vehicles.append(
            {
                "vehicle": p.vehicle_id,
                "device": p.device_id,
                "plate": p.plate,
                "name": f"{p.make} {p.model}".strip(),
                "t": int(p.recorded_at.timestamp()),
                "at": p.recorded_at,
                "lat": round(p.latitude, 6),
                "lon": round(p.longitude, 6),
                "speed": None if p.speed_mps is None else round(p.speed_mps, 2),
                "moving": _moving(p, now),
                "url": url,
                "trip_url": f"{url}#trip" if p.trip_id else None,
            }
        )
    vehicles.sort(key=lambda v: (not v["moving"], v["plate"]))
    moving = sum(v["moving"] for v in vehicles)
    return {
        "vehicles": vehicles,
        "moving": moving,
        "stopped": len(vehicles) - moving,
        "now": int(now.timestamp()),
        "moving_speed": settings.TELEMATICS["MOVING_SPEED_MPS"],
        "stop_seconds": settings.TELEMATICS["TRIP_STOP_MINUTES"] * 60,
    }
