"""Reads of the streamed positions: where each vehicle is now."""

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from apps.common.sql import statement


@dataclass(frozen=True)
class VehiclePosition:
    vehicle_id: int
    plate: str
    make: str
    model: str
    device_id: int
    recorded_at: dt.datetime
    latitude: float
    longitude: float
    speed_mps: float | None
    heading_deg: float | None
    trip_id: int | None  # the device's trip in progress
    trip_started_at: dt.datetime | None


def positions_latest() -> list[VehiclePosition]:
    """The last known position of every vehicle with an active device, by vehicle (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(statement(__name__, "positions.sql", "latest"))
        return [VehiclePosition(*row) for row in cursor.fetchall()]


def positions_route(*, device_id: int, since: dt.datetime, points: int = 300) -> list[list[float]]:
    """The device's positions from `since` on (a trip in progress so far), thinned to at most
    `points` in the database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT latitude, longitude FROM ("
            "  SELECT latitude, longitude, recorded_at, row_number() OVER (ORDER BY recorded_at) AS n,"
            "         count(*) OVER () AS total"
            "  FROM telematics_position WHERE device_id = %s AND recorded_at >= %s"
            ") p WHERE (n - 1) %% GREATEST(total / %s, 1) = 0 OR n = total ORDER BY recorded_at",
            [device_id, since, points],
        )
        return [[round(lat, 5), round(lon, 5)] for lat, lon in cursor.fetchall()]
