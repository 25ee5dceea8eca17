"""A trip's samples made small enough for a phone: the route line simplified (Ramer-Douglas-Peucker
in metres), the speeding stretches cut from it, and the speed profile in at most a few hundred
steps. Pure numpy over the arrays the telematics selector reads; no queries here."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
from django.utils import timezone

from apps.telematics.ingest.samples import US, SampleArrays

EARTH_M = 6_371_000.0
ROUTE_TOLERANCE_M = 5.0
MAX_ROUTE_POINTS = 600
MAX_PROFILE_POINTS = 300
KMH = 3.6


def _metres(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points in metres on a plane tangent at the first point (exact enough within a trip)."""
    lat0 = math.radians(float(lat[0]))
    x = np.radians(lon - lon[0]) * math.cos(lat0) * EARTH_M
    y = np.radians(lat - lat[0]) * EARTH_M
    return np.column_stack([x, y])


def _rdp(xy: np.ndarray, tolerance: float) -> np.ndarray:
    """Indexes of the points Ramer-Douglas-Peucker keeps (iterative: no recursion limit)."""
    n = len(xy)
    if n < 3:
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        start, end = xy[a], xy[b]
        inner = xy[a + 1 : b]
        chord = end - start
        length = math.hypot(*chord)
        if length == 0:
            dist = np.hypot(*(inner - start).T)
        else:
            dist = np.abs(chord[0] * (inner[:, 1] - start[1]) - chord[1] * (inner[:, 0] - start[0])) / length
        i = int(np.argmax(dist))
        if dist[i] > tolerance:
            k = a + 1 + i
            keep[k] = True
            stack.append((a, k))
            stack.append((k, b))
    return np.flatnonzero(keep)


def simplify(lat: np.ndarray, lon: np.ndarray, *, max_points: int = MAX_ROUTE_POINTS) -> np.ndarray:
    """Indexes of a simplified line: within ROUTE_TOLERANCE_M of the original, the tolerance
    doubled until at most `max_points` remain."""
    if len(lat) <= 2:
        return np.arange(len(lat))
    xy = _metres(lat, lon)
    tolerance = ROUTE_TOLERANCE_M
    while True:
        kept = _rdp(xy, tolerance)
        if len(kept) <= max_points:
            return kept
        tolerance *= 2


def _point(lat: float, lon: float) -> list[float]:
    return [round(float(lat), 5), round(float(lon), 5)]


def _parse_us(value) -> int | None:
    try:
        return int(dt.datetime.fromisoformat(value).timestamp() * US)
    except (TypeError, ValueError):
        return None


def _kmh(mps) -> int | None:
    return None if mps is None or not math.isfinite(float(mps)) else round(float(mps) * KMH)


def speeding_stretches(samples: SampleArrays, events: list[dict]) -> list[dict]:
    """Each speeding event as the piece of route it covered, with its peak speed and the limit."""
    out = []
    for event in events:
        if event.get("type") != "speeding":
            continue
        start = _parse_us(event.get("at"))
        if start is None:
            continue
        end = start + int((float(event.get("duration_s") or 0) + 1) * US)
        idx = np.flatnonzero((samples.t >= start) & (samples.t <= end))
        limit = event.get("speed_limit_mps")
        peak = float(limit) + float(event.get("magnitude") or 0) if limit is not None else None
        if len(idx) >= 2:
            kept = idx[simplify(samples.lat[idx], samples.lon[idx], max_points=60)]
            points = [_point(samples.lat[i], samples.lon[i]) for i in kept]
        else:
            points = [_point(event["lat"], event["lon"])] if "lat" in event and "lon" in event else []
        if not points:
            continue
        out.append(
            {
                "points": points,
                "peak_kmh": _kmh(peak),
                "limit_kmh": _kmh(limit),
                "over_kmh": _kmh(event.get("magnitude")),
                "duration_s": round(float(event.get("duration_s") or 0)),
            }
        )
    return out


def speed_profile(samples: SampleArrays) -> dict:
    """At most MAX_PROFILE_POINTS steps: in each, the sample with the highest speed (so a
    stretch over the limit is never averaged away) and the limit posted there, in km/h."""
    n = len(samples)
    if not n:
        return {"labels": [], "speed": [], "limit": [], "step_s": 0}
    speed = np.where(np.isfinite(samples.speed), samples.speed, -1.0)
    edges = np.linspace(0, n, min(n, MAX_PROFILE_POINTS) + 1).astype(int)
    picks = [a + int(np.argmax(speed[a:b])) for a, b in itertools.pairwise(edges.tolist()) if b > a]
    zone = timezone.get_current_timezone()
    labels, speeds, limits = [], [], []
    for i in picks:
        at = dt.datetime.fromtimestamp(int(samples.t[i]) / US, tz=dt.UTC).astimezone(zone)
        labels.append(at.strftime("%H:%M:%S"))
        speeds.append(_kmh(samples.speed[i]))
        limits.append(_kmh(samples.speed_limit[i]))
    span_s = (int(samples.t[-1]) - int(samples.t[0])) / US
    return {"labels": labels, "speed": speeds, "limit": limits, "step_s": round(span_s / max(len(picks), 1))}


def route(samples: SampleArrays) -> list[list[float]]:
    """The simplified route line as [lat, lon] pairs."""
    if not len(samples):
        return []
    return [_point(samples.lat[i], samples.lon[i]) for i in simplify(samples.lat, samples.lon)]
