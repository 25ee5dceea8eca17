"""Position streams with known trips, stored through the positions service."""

import datetime as dt

import numpy as np

from apps.telematics.ingest import US
from apps.telematics.positions.parse import PositionBatch
from apps.telematics.positions.services import positions_store
from tests.telematics.helpers import M_PER_DEG_LAT


def legs(t0: dt.datetime, plan: list[tuple[float, float]], *, every: float = 10.0, lat0: float = 52.5):
    """Positions `every` seconds along a plan of (seconds, speed m/s) legs driving due north:
    speed 0 legs stand still. Returns (t µs, lat, lon, speed) arrays."""
    times, speeds = [], []
    clock = 0.0
    for seconds, speed in plan:
        n = round(seconds / every)
        for _ in range(n):
            times.append(clock)
            speeds.append(speed)
            clock += every
    times.append(clock)
    speeds.append(plan[-1][1])
    secs = np.array(times)
    v = np.array(speeds, dtype=float)
    # position = integral of the leg speeds (each interval at the speed of its start)
    dist = np.concatenate([[0.0], np.cumsum(v[:-1] * np.diff(secs))])
    t = (t0.timestamp() + secs) * US
    return t.astype(np.int64), lat0 + dist / M_PER_DEG_LAT, np.full(len(secs), 13.4), v


def store(device, t, lat, lon, speed, *, accuracy=5.0, max_age_days=0):
    n = len(t)
    batch = PositionBatch(
        identifiers=[device.serial],
        device=np.zeros(n, dtype=np.int64),
        t=np.asarray(t, dtype=np.int64),
        lat=np.asarray(lat, dtype=float),
        lon=np.asarray(lon, dtype=float),
        speed=np.asarray(speed, dtype=float),
        heading=np.zeros(n),
        altitude=np.full(n, np.nan),
        accuracy=np.full(n, accuracy),
        battery=np.full(n, np.nan),
    )
    return positions_store(batch=batch, devices={0: device}, max_age_days=max_age_days)
