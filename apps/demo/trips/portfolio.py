"""A simulated insurance portfolio held in memory, for the risk model to learn from: drivers of the
fast simulator (`fast`: the same traits, trips and emulated trip features that `simulate_trips
--features-only` stores), each driver's features over a window as `DriverFeatures` computes them
(apps/telematics/sql/driver_features.sql), and their claims over the following period by the same
Poisson process as `simulator.simulate_claims` (the claim rate on the kilometres driven then).

Why in memory: at a realistic claim frequency (about 0.1 a driver-year) a model needs thousands of
driver-years to see 200 claims in its training part; storing that many drivers' trips in the demo
world would take minutes and fill every page with drivers nobody looks at. The demo's own drivers
are simulated the same way (stored) and scored by the model trained here."""

import datetime as dt

import numpy as np
import pandas as pd

from apps.demo.trips import fast
from apps.demo.trips.simulator import claim_rate, draw_traits

CHUNK = 1_000  # drivers simulated at once (bounds the memory of a year of planned trips)


def driver_feature_frame(plan: fast.FastPlan, features: dict[str, np.ndarray], mask: np.ndarray, n: int
                         ) -> pd.DataFrame:  # fmt: skip
    """The drivers' window features (DriverFeatures' columns) from their trips where `mask`: shares
    of driving time (moving + idle), rates per 100 km, phone use per hour of driving."""
    d = plan.driver

    def total(column):
        return np.bincount(d[mask], np.asarray(features[column], dtype=float)[mask], n)

    km = total("distance_km")
    driving = total("moving_s") + total("idle_s")
    per_km, per_time = 100 / np.maximum(km, 1e-9), 1 / np.maximum(driving, 1e-9)
    return pd.DataFrame({
        "km": km,
        "harsh_brake_per_100km": total("harsh_brake_count") * per_km,
        "harsh_accel_per_100km": total("harsh_accel_count") * per_km,
        "harsh_corner_per_100km": total("harsh_corner_count") * per_km,
        "speeding_share": np.minimum(total("speeding_s") * per_time, 1),
        "night_share": np.minimum(total("night_s") * per_time, 1),
        "rush_hour_share": np.minimum(total("rush_hour_s") * per_time, 1),
        "highway_share": np.minimum(total("highway_s") * per_time, 1),
        "phone_use_per_hour": 3600 * total("phone_use_s") * per_time,
    })  # fmt: skip


def training_portfolio(
    *, drivers: int, seed: int, as_of: dt.date, frequency: float, window_days: int = 90, follow_days: int = 365,
    zone: str = "Europe/Berlin",
) -> tuple[pd.DataFrame, np.ndarray]:  # fmt: skip
    """`drivers` simulated drivers: features over the `window_days` ending `as_of`, claims over the
    `follow_days` after it. Returns (the training frame: driver_id, the features, claims,
    exposure in years; each driver's true expected claims over the follow period). Drivers
    without a kilometre in the window are left out, as the training data leaves out drivers
    without features."""
    from django.conf import settings

    coefficients = fast.load_coefficients()
    traits = draw_traits(np.random.default_rng(seed), drivers)
    first = as_of - dt.timedelta(days=window_days - 1)
    frames, truths = [], []
    for chunk_no, start in enumerate(range(0, drivers, CHUNK)):
        index = np.arange(start, min(start + CHUNK, drivers))
        chunk = traits.subset(index)
        rng = np.random.default_rng([seed, chunk_no, 1])
        plan = fast.plan_trips(rng, chunk, first_day=first, days=window_days, zone=zone)
        emulated = fast.emulate_features(rng, chunk, plan, coefficients, settings.TELEMATICS)
        frame = driver_feature_frame(plan, emulated, np.ones(len(plan.km), dtype=bool), len(index))
        follow = fast.plan_trips(rng, chunk, first_day=as_of + dt.timedelta(days=1), days=follow_days, zone=zone)
        km = np.bincount(follow.driver, follow.km * coefficients["distance_ratio"], len(index))
        truth = claim_rate(chunk, km, frequency)
        frame.insert(0, "driver_id", index)
        frame["claims"] = rng.poisson(truth)
        frame["exposure"] = follow_days / 365.25
        frames.append(frame)
        truths.append(truth)
    frame, truth = pd.concat(frames, ignore_index=True), np.concatenate(truths)
    keep = (frame["km"] > 0).to_numpy()
    return frame[keep].reset_index(drop=True), truth[keep]
