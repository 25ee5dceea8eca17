"""Builders of upload bodies with known answers."""

import datetime as dt
import math

from django.utils import timezone

M_PER_DEG_LAT = 111_195.0


def noon_two_days_ago() -> float:
    """Epoch seconds of 12:00 local two weekdays back (no night, no rush hour)."""
    day = timezone.localdate() - dt.timedelta(days=2)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(12), tzinfo=timezone.get_default_timezone()).timestamp()


def samples_from_speeds(
    speeds, *, t0=None, acc=None, lat0=52.52, lon0=13.405, limit=None, phone=None, times=None, acc_lat=None
) -> list[dict]:
    """Samples 1 s apart driving due north; positions integrate the mean speed of each second."""
    t0 = noon_two_days_ago() if t0 is None else t0
    out, lat = [], lat0
    for i, v in enumerate(speeds):
        if i:
            lat += (speeds[i - 1] + v) / 2 / M_PER_DEG_LAT
        sample = {
            "t": (times[i] if times else t0 + i),
            "lat": lat,
            "lon": lon0,
            "speed": float(v),
            "acc_lon": float(acc[i]) if acc else 0.0,
            "acc_lat": float(acc_lat[i]) if acc_lat else 0.0,
            "heading": 0.0,
        }
        if limit is not None:
            sample["speed_limit"] = limit[i] if isinstance(limit, list) else limit
        if phone is not None:
            sample["phone"] = phone[i] if isinstance(phone, list) else phone
        out.append(sample)
    return out


def hand_built_stop() -> list[dict]:
    """31 s at 20 m/s, a stop from 20 m/s in 4 s at -5 m/s², 10 s standing: 640 m, one harsh brake."""
    speeds = [20.0] * 31 + [15.0, 10.0, 5.0, 0.0] + [0.0] * 10
    acc = [0.0] * 31 + [-5.0] * 4 + [0.0] * 10
    return samples_from_speeds(speeds, acc=acc)


def cruise(n=60, v=12.0, **kwargs) -> list[dict]:
    return samples_from_speeds([v] * n, **kwargs)


def metres_north(lat_a, lat_b) -> float:
    return abs(lat_b - lat_a) * M_PER_DEG_LAT


def deg_per_m_lon(lat) -> float:
    return 1 / (M_PER_DEG_LAT * math.cos(math.radians(lat)))
