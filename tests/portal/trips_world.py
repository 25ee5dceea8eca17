"""Trips with real samples for the portal's trip pages: uploaded through the telematics ingest
service and scored by the trip-features service, as a device's upload would be."""

import datetime as dt
import math

import orjson
from django.utils import timezone

from apps.telematics.ingest import parse_json
from apps.telematics.models import Trip
from apps.telematics.services import trip_features_compute, trip_ingest
from tests.customers.factories import TelematicsConsentFactory
from tests.telematics.factories import DeviceFactory
from tests.telematics.helpers import M_PER_DEG_LAT, noon_two_days_ago

LIMIT_MPS = 13.89  # 50 km/h


def winding_samples(n: int = 600, *, t0: float | None = None, lat0=52.52, lon0=13.405) -> list[dict]:
    """`n` seconds at 1 Hz on a winding road posted at 50 km/h: 30 s at 18 m/s (65 km/h) from
    the 100th second, a harsh brake (-5 m/s² for 3 s) at the 300th, 12 m/s otherwise."""
    t0 = noon_two_days_ago() if t0 is None else t0
    speeds = [12.0] * n
    acc = [0.0] * n
    for i in range(100, min(130, n)):
        speeds[i] = 18.0
    for i in range(300, min(303, n)):
        acc[i] = -5.0
        speeds[i] = 12.0 - 3 * (i - 299)
    out, x, y = [], 0.0, 0.0
    for i, v in enumerate(speeds):
        heading = math.radians(45 * math.sin(i / 40))  # a road that bends left and right
        x += v * math.sin(heading)
        y += v * math.cos(heading)
        out.append(
            {
                "t": t0 + i,
                "lat": lat0 + y / M_PER_DEG_LAT,
                "lon": lon0 + x / (M_PER_DEG_LAT * math.cos(math.radians(lat0))),
                "speed": v,
                "acc_lon": acc[i],
                "acc_lat": 0.0,
                "heading": math.degrees(heading) % 360,
                "speed_limit": LIMIT_MPS,
            }
        )
    return out


def driven_trip(driver, *, n: int = 600, t0: float | None = None, device=None, external_id: str | None = None) -> Trip:
    """A trip of `driver` with `n` stored samples and computed features."""
    if device is None:
        if not driver.telematics_consents.filter(withdrawn_at__isnull=True).exists():
            TelematicsConsentFactory(customer=driver)
        device = DeviceFactory(customer=driver)
    body = {"external_id": external_id or f"portal-{n}-{t0}", "samples": winding_samples(n, t0=t0)}
    result = trip_ingest(device=device, upload=parse_json(orjson.dumps(body)), enqueue_features=False)
    return trip_features_compute(trip_id=result.trip_id)


def minutes_ago(minutes: float) -> float:
    return (timezone.now() - dt.timedelta(minutes=minutes)).timestamp()
