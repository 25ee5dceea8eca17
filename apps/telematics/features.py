"""Trip features from cleaned samples, vectorised over a batch of trips.

The samples of k trips are concatenated (each trip sorted by time) with `bounds` marking where
each trip starts (len k+1). An *interval* runs from one sample to the next of the same trip; an
interval longer than GAP_S is a gap: it splits the trip's moving time (neither moving nor idle)
and no event run crosses it. The same function serves one uploaded trip (k = 1), the batch job
and the simulator's in-memory path."""

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings

from apps.telematics.ingest import US, SampleArrays, haversine_m
from apps.telematics.sampling import (
    EVENT_SPACING_S,
    MEASURABLE_SHARE,
    derived_accelerations,
    gap_threshold_s,
    interval_motion,
    window_seconds,
)

EVENT_TYPES = ("harsh_brake", "rapid_accel", "harsh_corner", "speeding", "phone_use")


def _cfg() -> dict:
    return settings.TELEMATICS


def _rush_ranges(text: str) -> list[tuple[int, int]]:
    ranges = []
    for part in str(text).split(","):
        if part.strip():
            start, end = part.split("-")
            ranges.append((int(start), int(end)))
    return ranges


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time_us(t: np.ndarray, zone_name: str) -> np.ndarray:
    """UTC µs → local wall-clock µs, using the zone's offset for each distinct UTC hour."""
    if not len(t):
        return t
    zone = _zone(zone_name)
    hours = t // (3600 * US)
    unique, inverse = np.unique(hours, return_inverse=True)
    offsets = np.array(
        [
            int(dt.datetime.fromtimestamp(int(h) * 3600, tz=dt.UTC).astimezone(zone).utcoffset().total_seconds())
            for h in unique
        ],
        dtype=np.int64,
    )
    return t + offsets[inverse] * US


def _runs(mask: np.ndarray, connected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) sample indexes of runs of True in `mask`, where consecutive
    samples i, i+1 belong to one run only if connected[i]."""
    n = len(mask)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    link = np.zeros(n, dtype=bool)
    link[1:] = mask[:-1] & mask[1:] & connected
    starts = np.flatnonzero(mask & ~link)
    ends_mask = np.zeros(n, dtype=bool)
    ends_mask[:-1] = mask[:-1] & ~(mask[1:] & connected)
    ends_mask[-1] = mask[-1]
    ends = np.flatnonzero(ends_mask) + 1
    return starts, ends


def _iso(t_us: int) -> str:
    return dt.datetime.fromtimestamp(t_us / US, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def compute_features(s: SampleArrays, bounds: np.ndarray) -> list[dict]:
    """One dict of trip features (the Trip model's feature fields plus rates) per trip."""
    c = _cfg()
    k = len(bounds) - 1
    n = len(s)
    lengths = np.diff(bounds)
    if k == 0:
        return []
    trip_of = np.repeat(np.arange(k), lengths)

    # Intervals i -> i+1 (length n-1; the last sample of each trip starts no interval).
    same_trip = np.zeros(max(n - 1, 0), dtype=bool)
    if n > 1:
        same_trip = trip_of[1:] == trip_of[:-1]
    secs = np.where(same_trip, np.diff(s.t) / US, 0.0)
    owner = trip_of[:-1] if n > 1 else np.zeros(0, dtype=np.int64)
    # Sampling: each trip's typical spacing, and gaps relative to it (a tracker reporting every
    # minute has no gap every minute).
    sampling_s = np.zeros(k)
    gap = np.zeros(len(secs), dtype=bool)
    for i in range(k):
        a, b = int(bounds[i]), int(bounds[i + 1]) - 1  # the trip's intervals are a .. b-1
        if b > a:
            sampling_s[i] = float(np.median(secs[a:b]))
            gap[a:b] = secs[a:b] > gap_threshold_s(secs[a:b])
    gap &= same_trip
    valid = same_trip & ~gap
    step_m = np.where(same_trip, haversine_m(s.lat[:-1], s.lon[:-1], s.lat[1:], s.lon[1:]), 0.0)
    moving, moving_secs, v_interval = interval_motion(secs, step_m, s.speed[:-1], s.speed[1:])
    moving &= valid
    moving_secs = np.where(moving, moving_secs, 0.0)

    def per_trip(weights: np.ndarray) -> np.ndarray:
        return np.bincount(owner, weights=weights, minlength=k)[:k]

    # Distance over moving intervals and gaps (the vehicle did cover that ground), not over idle
    # ones, where the fixes only wander with GPS error.
    distance_m = per_trip(step_m * (moving | gap))
    moving_s = per_trip(moving_secs)
    idle_s = per_trip(np.where(valid, secs, 0.0) - moving_secs)
    gap_s = per_trip(secs * gap)
    firsts, lasts = bounds[:-1], bounds[1:] - 1
    duration_s = (s.t[lasts] - s.t[firsts]) / US
    max_speed = np.nan_to_num(np.fmax.reduceat(s.speed, firsts))
    # Mean moving speed: reported speeds at short spacing, the ground covered over longer spacing
    # (an interval with a stop inside has a low mean of its end speeds but a short moving time).
    moved_m = np.where(secs <= EVENT_SPACING_S, v_interval * moving_secs, step_m * moving)
    mean_speed = np.divide(per_trip(moved_m), moving_s, out=np.zeros(k), where=moving_s > 0)

    # Time of day, local, by clock time: each interval's seconds are split at the windows' edges.
    local = local_time_us(s.t[:-1], c["LOCAL_TIME_ZONE"]) if n > 1 else np.zeros(0, dtype=np.int64)
    valid_secs_ = np.where(valid, secs, 0.0)
    night_s = per_trip(window_seconds(local, valid_secs_, [(c["NIGHT_START_HOUR"], c["NIGHT_END_HOUR"])]))
    rush_s = per_trip(window_seconds(local, valid_secs_, _rush_ranges(c["RUSH_HOURS"]), weekdays_only=True))
    limit_start = s.speed_limit[:-1]
    highway = valid & np.where(
        np.isnan(limit_start), v_interval >= c["HIGHWAY_LIMIT_MPS"], limit_start >= c["HIGHWAY_LIMIT_MPS"] - 1e-6
    )
    highway_s = per_trip(secs * highway)
    phone_moving = moving & (s.phone[:-1] == 1)
    phone_s = per_trip(secs * phone_moving)

    # Harsh events need accelerometer values, or speed differences at <= 2 s spacing; a trip
    # where less than MEASURABLE_SHARE of the moving time has either cannot be judged on them.
    lon_est, lat_est = derived_accelerations(s.t, s.speed, s.heading, trip_of)
    acc_lon = np.where(np.isnan(s.acc_lon), lon_est, s.acc_lon)
    acc_lat = np.where(np.isnan(s.acc_lat), lat_est, s.acc_lat)

    def measurable(values: np.ndarray) -> np.ndarray:
        covered = per_trip(moving_secs * ~np.isnan(values[1:]))
        return np.where(moving_s > 0, covered >= MEASURABLE_SHARE * moving_s, True)

    brake_ok, corner_ok = measurable(acc_lon), measurable(acc_lat)
    speeding_ok = np.bincount(trip_of, weights=~np.isnan(s.speed_limit), minlength=k)[:k] > 0
    phone_ok = np.bincount(trip_of, weights=s.phone >= 0, minlength=k)[:k] > 0

    # Events: runs of samples over a threshold, not crossing a gap or a trip boundary.
    connected = valid
    valid_secs = np.concatenate([np.where(valid, secs, 0.0), [0.0]])
    cum_secs = np.concatenate([[0.0], np.cumsum(valid_secs)])
    events: list[list[dict]] = [[] for _ in range(k)]

    def add_events(kind: str, mask: np.ndarray, values: np.ndarray, pick, min_s: float = 0.0, extra=None):
        starts, ends = _runs(mask, connected)
        counts = np.zeros(k, dtype=np.int64)
        total = np.zeros(k)
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            duration = float(cum_secs[b] - cum_secs[a])
            if duration < min_s:
                continue
            at = a + int(pick(values[a:b]))
            trip = int(trip_of[a])
            event = {
                "type": kind,
                "at": _iso(int(s.t[a])),
                "lat": round(float(s.lat[at]), 6),
                "lon": round(float(s.lon[at]), 6),
                "magnitude": round(float(values[at]), 2),
                "duration_s": round(duration, 1),
                "speed_mps": round(float(s.speed[a]), 2),
            }
            if extra:
                event.update(extra(a, b, at))
            events[trip].append(event)
            counts[trip] += 1
            total[trip] += duration
        return counts, total

    brake_n, _ = add_events("harsh_brake", acc_lon <= c["HARSH_BRAKE_MPS2"], acc_lon, np.argmin)
    accel_n, _ = add_events("rapid_accel", acc_lon >= c["RAPID_ACCEL_MPS2"], acc_lon, np.argmax)
    corner_n, _ = add_events(
        "harsh_corner", np.abs(acc_lat) >= c["HARSH_CORNER_MPS2"], acc_lat, lambda v: np.argmax(np.abs(v))
    )
    excess = s.speed - s.speed_limit
    over = ~np.isnan(s.speed_limit) & (excess > c["SPEEDING_MARGIN_MPS"])
    speeding_n, speeding_s = add_events(
        "speeding",
        over,
        np.where(over, excess, 0.0),
        np.argmax,
        min_s=c["SPEEDING_MIN_S"],
        extra=lambda a, b, at: {"speed_limit_mps": round(float(s.speed_limit[at]), 2)},
    )
    phone_sample = (s.phone == 1) & (s.speed >= c["MOVING_SPEED_MPS"])
    add_events("phone_use", phone_sample, s.speed, np.argmax, min_s=c["PHONE_EVENT_MIN_S"])

    out = []
    for i in range(k):
        km = float(distance_m[i]) / 1000
        driving_s = float(moving_s[i] + idle_s[i])
        unmeasured = {
            kind
            for kind, ok in (("harsh_brake", brake_ok[i]), ("rapid_accel", brake_ok[i]), ("harsh_corner", corner_ok[i]))
            if not ok
        }
        trip_events = sorted((e for e in events[i] if e["type"] not in unmeasured), key=lambda e: (e["at"], e["type"]))
        features = {
            "distance_km": km,
            "duration_s": float(duration_s[i]),
            "moving_s": float(moving_s[i]),
            "idle_s": float(idle_s[i]),
            "gap_s": float(gap_s[i]),
            "max_speed_mps": float(max_speed[i]),
            "mean_speed_mps": float(mean_speed[i]),
            # None: not measurable for this trip (never a clean zero).
            "harsh_brake_count": int(brake_n[i]) if brake_ok[i] else None,
            "harsh_accel_count": int(accel_n[i]) if brake_ok[i] else None,
            "harsh_corner_count": int(corner_n[i]) if corner_ok[i] else None,
            "speeding_count": int(speeding_n[i]),
            "speeding_s": float(speeding_s[i]),
            "phone_use_s": float(phone_s[i]),
            "night_s": float(night_s[i]),
            "rush_hour_s": float(rush_s[i]),
            "highway_s": float(highway_s[i]),
            "events": trip_events,
            "sampling_interval_s": round(float(sampling_s[i]), 3),
            "measurable": {
                "harsh_brake": bool(brake_ok[i]),
                "rapid_accel": bool(brake_ok[i]),
                "harsh_corner": bool(corner_ok[i]),
                "speeding": bool(speeding_ok[i]),
                "phone_use": bool(phone_ok[i]),
            },
        }
        features["rates"] = trip_rates(features, km=km, driving_s=driving_s)
        score, deductions = trip_score(features, trip_events, driving_s=driving_s)
        features["score"] = score
        features["score_deductions"] = deductions
        out.append(features)
    return out


def trip_rates(features: dict, *, km: float, driving_s: float) -> dict:
    per_100 = 100 / km if km > 0 else 0.0
    share = 1 / driving_s if driving_s > 0 else 0.0
    return {
        "harsh_brake_per_100km": _per(features["harsh_brake_count"], per_100),
        "harsh_accel_per_100km": _per(features["harsh_accel_count"], per_100),
        "harsh_corner_per_100km": _per(features["harsh_corner_count"], per_100),
        "speeding_per_100km": features["speeding_count"] * per_100,
        "speeding_share": min(features["speeding_s"] * share, 1.0),
        "night_share": min(features["night_s"] * share, 1.0),
        "rush_hour_share": min(features["rush_hour_s"] * share, 1.0),
        "highway_share": min(features["highway_s"] * share, 1.0),
        "phone_use_per_hour": features["phone_use_s"] * share * 3600,
    }


def _per(count: int | None, per_100: float) -> float | None:
    return None if count is None else count * per_100


def trip_score(features: dict, events: list[dict], *, driving_s: float) -> tuple[int, list[dict]]:
    """100 minus capped deductions; each deduction names the events that cost the points."""
    c = _cfg()

    def indexes(kind: str) -> list[int]:
        return [i for i, e in enumerate(events) if e["type"] == kind]

    rules = [
        # An unmeasurable count costs nothing here; the driver features leave it out (missing).
        ("harsh_brake", features["harsh_brake_count"] or 0, c["SCORE_HARSH_BRAKE_POINTS"], c["SCORE_HARSH_BRAKE_CAP"]),
        ("rapid_accel", features["harsh_accel_count"] or 0, c["SCORE_RAPID_ACCEL_POINTS"], c["SCORE_RAPID_ACCEL_CAP"]),
        (
            "harsh_corner",
            features["harsh_corner_count"] or 0,
            c["SCORE_HARSH_CORNER_POINTS"],
            c["SCORE_HARSH_CORNER_CAP"],
        ),
        ("speeding", features["speeding_s"] / 60, c["SCORE_SPEEDING_POINTS_PER_MIN"], c["SCORE_SPEEDING_CAP"]),
        ("phone_use", features["phone_use_s"] / 60, c["SCORE_PHONE_POINTS_PER_MIN"], c["SCORE_PHONE_CAP"]),
    ]
    deductions = []
    for reason, amount, points, cap in rules:
        lost = min(amount * points, cap)
        if lost > 0:
            deductions.append(
                {
                    "reason": reason,
                    "amount": round(float(amount), 2),
                    "points": round(lost, 1),
                    "events": indexes(reason),
                }
            )
    night_share = features["night_s"] / driving_s if driving_s > 0 else 0.0
    if night_share > 0:
        lost = night_share * c["SCORE_NIGHT_POINTS_FULL_SHARE"]
        deductions.append({"reason": "night", "amount": round(night_share, 3), "points": round(lost, 1), "events": []})
    total = sum(d["points"] for d in deductions)
    return round(max(0.0, 100.0 - total)), deductions


def bounds_from_trip_ids(trip_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct trip ids in order, bounds) for samples sorted by trip then time."""
    if not len(trip_ids):
        return np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64)
    change = np.flatnonzero(trip_ids[1:] != trip_ids[:-1]) + 1
    starts = np.concatenate([[0], change])
    return trip_ids[starts], np.concatenate([starts, [len(trip_ids)]])
