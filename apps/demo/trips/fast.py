"""The fast features-only simulator: the drivers of `simulator` (same latent traits), their trips
planned the same way but for every driver-day at once, and each trip's features drawn from an
emulator of the per-second physics instead of simulating it.

The emulator is log-linear in the driver's traits and the trip's length, rush hour and length
class (urban < 5 km, rural < 20 km, highway beyond), with gamma noise for durations and
gamma-Poisson counts for events, fitted on trips of the per-second simulator
(`bench/calibrate_fast_simulator.py` writes `fast_emulator.json`); night and rush-hour time come
from the trip's start hour and duration as in the feature code. Claims follow the same Poisson
process on the kilometres driven (`simulator.simulate_claims`). A test compares the drivers'
feature distributions with the per-second simulator's on a small sample."""

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from apps.demo.trips.simulator import DriverTraits

COEFFICIENTS = Path(__file__).with_name("fast_emulator.json")
US = 1_000_000


@dataclass
class FastPlan:
    driver: np.ndarray  # driver index per trip
    start_us: np.ndarray
    start_hour: np.ndarray  # local hour of the start (may pass 24 for a late last trip)
    weekday: np.ndarray  # 0 = Monday, of the trip's day
    rush: np.ndarray
    km: np.ndarray


def _start_hours(rng, night_trait, weekend):
    """The per-second simulator's start hours (simulator._start_hours), for arrays of trips."""
    n = len(night_trait)
    night = rng.random(n) < (0.01 + 0.35 * night_trait)
    kind = rng.random(n)
    weekday_hours = np.where(
        kind < 0.35, rng.normal(7.8, 0.6, n), np.where(kind < 0.7, rng.normal(17.3, 0.9, n), rng.uniform(9, 22, n))
    )
    hours = np.where(weekend, rng.uniform(8, 23, n), weekday_hours)
    hours = np.where(night, rng.uniform(0, 4, n), hours)
    return np.clip(hours, 0, 23.99)


def plan_trips(rng: np.random.Generator, traits: DriverTraits, *, first_day: dt.date, days: int, zone: str) -> FastPlan:
    """simulator.plan_trips for every driver-day at once: daily km, a Poisson number of trips of
    lognormal lengths, start hours sorted and spaced so one driver drives one trip at a time."""
    n = len(traits)
    day_dates = [first_day + dt.timedelta(days=d) for d in range(days)]
    weekend_day = np.array([d.weekday() >= 5 for d in day_dates])
    daily_km = traits.annual_km[None, :] / 365 * np.where(weekend_day, 0.8, 1.08)[:, None]
    daily_km = daily_km * rng.gamma(4, 0.25, (days, n))
    n_trips = rng.poisson(np.maximum(daily_km, 0.1) / 11.0)
    day_of, driver_of = np.nonzero(n_trips)
    counts = n_trips[day_of, driver_of]
    group = np.repeat(np.arange(len(counts)), counts)  # one group per driver-day, in (day, driver) order
    day = day_of[group]
    driver = driver_of[group]
    k = counts[group]
    km = np.clip(rng.lognormal(np.log(daily_km[day, driver] / k), 0.6), 1.0, 150.0)
    weekend = weekend_day[day]
    hours = _start_hours(rng, traits.night[driver], weekend)
    # sort within the driver-day, then space: h'_j = max(h_j, h'_{j-1} + km_{j-1}/40 + 0.05),
    # i.e. h'_j = S_j + max_{i<=j}(h_i - S_i) with S the running sum of the gaps.
    order = np.lexsort((hours, group))
    hours, km = hours[order], km[order]
    first = np.r_[True, group[1:] != group[:-1]]
    gap = km / 40.0 + 0.05
    running = np.cumsum(gap) - gap  # sum of gaps before each trip, over the whole array
    start_of_group = np.maximum.accumulate(np.where(first, np.arange(len(group)), 0))
    s = running - running[start_of_group]
    shifted = hours - s + group * 1_000.0  # groups kept apart for the running maximum
    hours = s + np.maximum.accumulate(shifted) - group * 1_000.0
    tz = ZoneInfo(zone)
    midnight = np.array([dt.datetime.combine(d, dt.time(), tzinfo=tz).timestamp() for d in day_dates])
    start_us = ((midnight[day] + hours * 3600) * US).astype(np.int64)
    weekday = np.array([d.weekday() for d in day_dates])[day]
    rush = ~weekend & (((hours >= 7) & (hours < 9)) | ((hours >= 16) & (hours < 19)))
    return FastPlan(driver=driver, start_us=start_us, start_hour=hours, weekday=weekday, rush=rush, km=km)


def design(traits: DriverTraits, plan: FastPlan) -> np.ndarray:
    """The emulator's inputs per trip."""
    d = plan.driver
    return np.column_stack(
        [
            np.ones(len(d)),
            traits.aggressiveness[d],
            traits.speeding[d],
            traits.night[d],
            traits.phone[d],
            np.log(plan.km),
            plan.rush.astype(float),
            (plan.km >= 5).astype(float),
            (plan.km >= 20).astype(float),
            traits.aggressiveness[d] ** 2,
            traits.speeding[d] ** 2,
        ]
    )


def load_coefficients(path: Path = COEFFICIENTS) -> dict:
    return json.loads(Path(path).read_text())


def _hours_in(start: np.ndarray, hours: np.ndarray, ranges) -> np.ndarray:
    """Hours of [start, start + hours) falling in the daily [a, b) ranges (local time)."""
    total = np.zeros(len(start))
    end = start + hours
    for a, b in ranges:
        for day in (0, 24, 48):
            total += np.clip(np.minimum(end, b + day) - np.maximum(start, a + day), 0, None)
    return total


def emulate_features(rng: np.random.Generator, traits: DriverTraits, plan: FastPlan, coefficients: dict,
                     config: dict) -> dict[str, np.ndarray]:  # fmt: skip
    """Every trip's features (the Trip columns) from the emulator."""
    X = design(traits, plan)
    n = len(X)

    def mean(name):
        c = coefficients[name]
        return np.exp(X @ np.asarray(c["coef"])) * (plan.km if c["per_km"] else 1.0)

    def gamma(name, mu):
        disp = coefficients[name]["dispersion"]  # variance = dispersion x mean
        return rng.gamma(np.maximum(mu / disp, 1e-6), disp)

    def counts(name, mu):
        phi = coefficients[name]["overdispersion"]  # gamma-Poisson: variance = mu + phi mu^2
        lam = mu * rng.gamma(1 / phi, phi, n) if phi > 0 else mu
        return rng.poisson(lam)

    out = {"distance_km": plan.km * coefficients["distance_ratio"]}
    out["moving_s"] = gamma("moving_s", mean("moving_s"))
    out["idle_s"] = gamma("idle_s", mean("idle_s"))
    out["gap_s"] = np.zeros(n)
    out["duration_s"] = out["moving_s"] + out["idle_s"]
    out["highway_s"] = np.where(plan.km >= 5, np.minimum(gamma("highway_s", mean("highway_s")), out["moving_s"]), 0)
    for name in ("harsh_brake_count", "harsh_accel_count", "harsh_corner_count", "speeding_count"):
        out[name] = counts(name, mean(name))
    # speeding time only on trips with a speeding event, as in the feature code
    out["speeding_s"] = np.where(
        out["speeding_count"] > 0, gamma("speeding_s_when_speeding", mean("speeding_s_when_speeding")), 0.0
    )
    out["speeding_s"] = np.minimum(out["speeding_s"], out["moving_s"])
    session = coefficients["phone_session_s"]
    sessions = rng.poisson(mean("phone_use_s") / session)
    out["phone_use_s"] = np.minimum(np.where(sessions > 0, rng.gamma(np.maximum(sessions, 1), session), 0.0),
                                    out["moving_s"])  # fmt: skip
    out["max_speed_mps"] = gamma("max_speed_mps", mean("max_speed_mps"))
    out["mean_speed_mps"] = np.divide(out["distance_km"] * 1000, out["moving_s"], out=np.zeros(n),
                                      where=out["moving_s"] > 0)  # fmt: skip
    out["max_speed_mps"] = np.maximum(out["max_speed_mps"], out["mean_speed_mps"])
    duration_h = out["duration_s"] / 3600
    night = [(config["NIGHT_START_HOUR"], config["NIGHT_END_HOUR"])]
    out["night_s"] = _hours_in(plan.start_hour, duration_h, night) * 3600
    rush_ranges = [tuple(int(x) for x in part.split("-")) for part in config["RUSH_HOURS"].split(",")]
    out["rush_hour_s"] = np.where(plan.weekday < 5, _hours_in(plan.start_hour, duration_h, rush_ranges) * 3600, 0.0)
    out["score"] = _scores(out, config)
    return out


def _scores(f: dict, c: dict) -> np.ndarray:
    """features.trip_score's score for every trip at once (the deductions are written by the store)."""
    driving = f["moving_s"] + f["idle_s"]
    night_share = np.divide(f["night_s"], driving, out=np.zeros(len(driving)), where=driving > 0)
    lost = [
        np.minimum(f["harsh_brake_count"] * c["SCORE_HARSH_BRAKE_POINTS"], c["SCORE_HARSH_BRAKE_CAP"]),
        np.minimum(f["harsh_accel_count"] * c["SCORE_RAPID_ACCEL_POINTS"], c["SCORE_RAPID_ACCEL_CAP"]),
        np.minimum(f["harsh_corner_count"] * c["SCORE_HARSH_CORNER_POINTS"], c["SCORE_HARSH_CORNER_CAP"]),
        np.minimum(f["speeding_s"] / 60 * c["SCORE_SPEEDING_POINTS_PER_MIN"], c["SCORE_SPEEDING_CAP"]),
        np.minimum(f["phone_use_s"] / 60 * c["SCORE_PHONE_POINTS_PER_MIN"], c["SCORE_PHONE_CAP"]),
        night_share * c["SCORE_NIGHT_POINTS_FULL_SHARE"],
    ]
    total = sum(np.round(value, 1) for value in lost)
    return np.rint(np.maximum(0.0, 100.0 - total)).astype(int)
