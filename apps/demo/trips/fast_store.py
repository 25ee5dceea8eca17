"""Stores the fast simulator's trips (apps.demo.trips.fast) and their claims: the numeric columns
in one binary COPY into a temporary table, then one INSERT ... SELECT that names the trips, sets
their times and writes the score deductions, so 5,000 drivers x 180 days (about 3 million trips)
never go through a Python loop per trip. The emulated trips stand for the 1 Hz simulator's, so
they are sampled every second and every event feature is measurable."""

import datetime as dt
import math
from decimal import Decimal

import numpy as np
from django.db import connection, transaction

from apps.common.sql import pgcopy_encode
from apps.demo.trips.fast import FastPlan
from apps.demo.trips.simulator import DriverTraits, simulate_claims

NUMERIC = [
    ("k", ">i8"), ("device_id", ">i8"), ("driver_id", ">i8"), ("vehicle_id", ">i8"), ("start_us", ">i8"),
    ("duration_s", ">f8"), ("distance_km", ">f8"), ("moving_s", ">f8"), ("idle_s", ">f8"), ("max_speed_mps", ">f8"),
    ("mean_speed_mps", ">f8"), ("harsh_brake_count", ">i4"), ("harsh_accel_count", ">i4"),
    ("harsh_corner_count", ">i4"), ("speeding_count", ">i4"), ("speeding_s", ">f8"), ("phone_use_s", ">f8"),
    ("night_s", ">f8"), ("rush_hour_s", ">f8"), ("highway_s", ">f8"), ("score", ">i4"),
    ("lost_harsh_brake", ">f8"), ("lost_rapid_accel", ">f8"), ("lost_harsh_corner", ">f8"), ("lost_speeding", ">f8"),
    ("lost_phone_use", ">f8"), ("lost_night", ">f8"),
]  # fmt: skip

_DEDUCTION = """CASE WHEN s.lost_{r} > 0 THEN jsonb_build_object('reason', '{r}',
    'amount', round(({amount})::numeric, {digits}), 'points', round(s.lost_{r}::numeric, 1),
    'events', '[]'::jsonb) END"""
_AMOUNTS = {
    "harsh_brake": "s.harsh_brake_count",
    "rapid_accel": "s.harsh_accel_count",
    "harsh_corner": "s.harsh_corner_count",
    "speeding": "s.speeding_s / 60",
    "phone_use": "s.phone_use_s / 60",
    "night": "s.night_s / nullif(s.moving_s + s.idle_s, 0)",
}
_DEDUCTIONS = ", ".join(_DEDUCTION.format(r=r, amount=a, digits=3 if r == "night" else 2) for r, a in _AMOUNTS.items())
INSERT = f"""
INSERT INTO telematics_trip (created_at, updated_at, device_id, external_id, driver_id, vehicle_id, started_at,
    ended_at, samples_received, samples_stored, samples_dropped, feature_status, features_computed_at, distance_km,
    duration_s, moving_s, idle_s, max_speed_mps, mean_speed_mps, harsh_brake_count, harsh_accel_count,
    harsh_corner_count, speeding_s, phone_use_s, night_s, rush_hour_s, highway_s, gap_s, speeding_count, score,
    events, score_deductions, sampling_interval_s, measurable)
SELECT now(), now(), s.device_id, 'sim-' || %(seed)s || '-' || s.driver_id || '-' || (s.start_us / 1000000),
    s.driver_id, nullif(s.vehicle_id, 0), to_timestamp(s.start_us / 1e6),
    to_timestamp(s.start_us / 1e6 + s.duration_s), 0, 0, '{{"emulated_features_only": true}}'::jsonb, 'done', now(),
    s.distance_km, s.duration_s, s.moving_s, s.idle_s, s.max_speed_mps, s.mean_speed_mps, s.harsh_brake_count,
    s.harsh_accel_count, s.harsh_corner_count, s.speeding_s, s.phone_use_s, s.night_s, s.rush_hour_s, s.highway_s,
    0, s.speeding_count, s.score, '[]'::jsonb,
    (SELECT coalesce(jsonb_agg(d), '[]'::jsonb) FROM unnest(ARRAY[{_DEDUCTIONS}]::jsonb[]) d WHERE d IS NOT NULL),
    1.0, '{{"harsh_brake": true, "rapid_accel": true, "harsh_corner": true, "speeding": true,
           "phone_use": true}}'::jsonb
FROM sim_fast_trips s
ORDER BY s.k
"""


def _lost(features: dict, config: dict) -> dict[str, np.ndarray]:
    driving = features["moving_s"] + features["idle_s"]
    night_share = np.divide(features["night_s"], driving, out=np.zeros(len(driving)), where=driving > 0)
    return {
        "lost_harsh_brake": np.minimum(features["harsh_brake_count"] * config["SCORE_HARSH_BRAKE_POINTS"],
                                       config["SCORE_HARSH_BRAKE_CAP"]),
        "lost_rapid_accel": np.minimum(features["harsh_accel_count"] * config["SCORE_RAPID_ACCEL_POINTS"],
                                       config["SCORE_RAPID_ACCEL_CAP"]),
        "lost_harsh_corner": np.minimum(features["harsh_corner_count"] * config["SCORE_HARSH_CORNER_POINTS"],
                                        config["SCORE_HARSH_CORNER_CAP"]),
        "lost_speeding": np.minimum(features["speeding_s"] / 60 * config["SCORE_SPEEDING_POINTS_PER_MIN"],
                                    config["SCORE_SPEEDING_CAP"]),
        "lost_phone_use": np.minimum(features["phone_use_s"] / 60 * config["SCORE_PHONE_POINTS_PER_MIN"],
                                     config["SCORE_PHONE_CAP"]),
        "lost_night": night_share * config["SCORE_NIGHT_POINTS_FULL_SHARE"],
    }  # fmt: skip


@transaction.atomic
def store_fast_trips(
    *, plan: FastPlan, features: dict, keep: np.ndarray, device_ids, driver_ids, vehicle_ids, seed: int, config: dict
) -> int:
    """Writes the kept trips (`keep`: trip indexes); returns how many."""
    if not len(keep):
        return 0
    d = plan.driver[keep]
    values = {
        "k": np.arange(len(keep)),
        "device_id": device_ids[d],
        "driver_id": driver_ids[d],
        "vehicle_id": vehicle_ids[d],
        "start_us": plan.start_us[keep],
        **{name: features[name][keep] for name, _ in NUMERIC[5:21]},
        **{name: value[keep] for name, value in _lost(features, config).items()},
    }
    with connection.cursor() as cursor:
        columns = ", ".join(f"{name} {'bigint' if kind == '>i8' else 'integer' if kind == '>i4' else 'float8'}"
                            for name, kind in NUMERIC)  # fmt: skip
        # ON COMMIT DROP does not drop it between two calls inside the seed's one transaction
        # (the medium world writes its drivers in several chunks): drop the previous chunk's.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.sim_fast_trips")
        cursor.execute(f"CREATE TEMPORARY TABLE sim_fast_trips ({columns}) ON COMMIT DROP")
        with cursor.copy("COPY sim_fast_trips FROM STDIN (FORMAT binary)") as copy:
            copy.write(pgcopy_encode(NUMERIC, values))
        cursor.execute(INSERT, {"seed": str(int(seed))})
        return cursor.rowcount


def store_fast_claims(rng, traits: DriverTraits, *, plan: FastPlan, features: dict, keep: np.ndarray, customer_ids,
                      vehicle_ids, window, frequency: float, seed: int, now: dt.datetime) -> int:  # fmt: skip
    """The per-second simulator's claim process (simulate_claims) on the kept trips."""
    from apps.risk.models import Claim
    from apps.telematics.models import Trip

    if not len(keep):
        return 0
    us = 1_000_000
    starts = plan.start_us[keep]
    ends = starts + (features["duration_s"][keep] * us).astype(np.int64)
    claims = simulate_claims(rng, traits, trip_driver=plan.driver[keep], trip_km=features["distance_km"][keep],
                             trip_start_us=starts, trip_end_us=ends, window=window, frequency=frequency)  # fmt: skip
    now_us = int(now.timestamp() * us)
    on_trip = {c.trip for c in claims if c.trip is not None}
    names = {k: f"sim-{seed}-{int(customer_ids[plan.driver[keep[k]]])}-{int(starts[k]) // us}" for k in on_trip}
    trip_ids = dict(Trip.objects.filter(external_id__in=names.values()).values_list("external_id", "id"))
    rows = []
    for c in claims:
        occurred = dt.datetime.fromtimestamp(c.occurred_us / us, tz=dt.UTC)
        reported = max(min(occurred + dt.timedelta(days=float(rng.exponential(3.0))), now), occurred)
        settled = (now_us - c.occurred_us) / us / 86400 > 30 and rng.random() < 0.9
        rows.append(
            Claim(
                driver_id=int(customer_ids[c.driver]),
                vehicle_id=int(vehicle_ids[c.driver]) or None,
                trip_id=trip_ids.get(names[c.trip]) if c.trip is not None else None,
                occurred_at=occurred,
                reported_at=reported,
                kind=c.kind,
                status=Claim.Status.SETTLED if settled else Claim.Status.OPEN,
                amount=Decimal(str(round(c.amount, 2))) if math.isfinite(c.amount) else Decimal("0"),
            )
        )
    Claim.objects.bulk_create(rows, batch_size=2_000)
    return len(rows)
