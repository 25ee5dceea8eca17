"""Fits the fast simulator's emulator (apps/demo/trips/fast_emulator.json) on trips of the
per-second simulator, so the fast features-only path draws features as the physics would.

    .venv/bin/python bench/calibrate_fast_simulator.py [--drivers 400 --days 4 --seed 7]

Pure numpy and scikit-learn, no database. Prints each fitted quantity's mean on the sample, and
the emulator's mean on the same trips, side by side."""

import argparse
import datetime as dt
import json
import sys
import time

import numpy as np
from _common import ROOT

TARGETS = {  # name: (per km, kind)
    "moving_s": (True, "gamma"),
    "idle_s": (True, "gamma"),
    "highway_s": (True, "gamma"),
    "max_speed_mps": (False, "gamma"),
    "harsh_brake_count": (True, "count"),
    "harsh_accel_count": (True, "count"),
    "harsh_corner_count": (True, "count"),
    "speeding_count": (True, "count"),
    "phone_use_s": (True, "mean"),
}


def fit(X, y, base, weight_mask=None):
    from sklearn.linear_model import PoissonRegressor

    mask = np.ones(len(y), dtype=bool) if weight_mask is None else weight_mask
    model = PoissonRegressor(alpha=1e-6, max_iter=2000, fit_intercept=False).fit(
        X[mask], y[mask] / base[mask], sample_weight=base[mask]
    )
    return model.coef_, np.exp(X @ model.coef_) * base


def calibrate(sim, features) -> dict:
    from apps.demo.trips.fast import FastPlan, design

    km = sim.plan.length_m / 1000
    plan = FastPlan(driver=sim.plan.driver, start_us=sim.plan.start_us, start_hour=np.zeros(len(km)),
                    weekday=np.zeros(len(km)), rush=sim.plan.rush, km=km)  # fmt: skip
    X = design(sim.traits, plan)
    get = {name: np.array([f[name] for f in features], dtype=float) for name in [*TARGETS, "distance_km",
                                                                                  "speeding_s"]}  # fmt: skip
    out = {"distance_ratio": float(np.mean(get["distance_km"] / km)), "fitted_on_trips": len(km)}
    report = []
    for name, (per_km, kind) in TARGETS.items():
        y = get[name]
        mask = km >= 5 if name == "highway_s" else None  # urban trips never reach a 100 km/h road
        coef, mu = fit(X, y, km if per_km else np.ones(len(km)), mask)
        m = np.ones(len(y), dtype=bool) if mask is None else mask
        entry = {"coef": coef.round(6).tolist(), "per_km": per_km}
        if kind == "gamma":
            entry["dispersion"] = float(np.sum((y[m] - mu[m]) ** 2 / mu[m]) / m.sum())
        elif kind == "count":
            entry["overdispersion"] = float(max(0.0, np.sum((y - mu) ** 2 - mu) / np.sum(mu**2)))
        out[name] = entry
        report.append((name, float(y[m].mean()), float(mu[m].mean())))
    # speeding time, on the trips with a speeding event (the others have none)
    has = get["speeding_count"] > 0
    seconds = get["speeding_s"]
    coef, mu = fit(X, seconds, np.ones(len(km)), has)
    dispersion = float(np.sum((seconds[has] - mu[has]) ** 2 / mu[has]) / has.sum())
    out["speeding_s_when_speeding"] = {"coef": coef.round(6).tolist(), "per_km": False, "dispersion": dispersion}
    report.append(("speeding_s (speeding trips)", float(seconds[has].mean()), float(mu[has].mean())))
    # phone sessions: the mean session length that reproduces the share of trips without phone use
    mu = np.exp(X @ np.asarray(out["phone_use_s"]["coef"])) * km
    zero_share = float(np.mean(get["phone_use_s"] == 0))
    low, high = 1.0, 2_000.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if np.mean(np.exp(-mu / mid)) < zero_share else (low, mid)
    out["phone_session_s"] = (low + high) / 2
    return out, report


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drivers", type=int, default=400)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "apps" / "demo" / "trips" / "fast_emulator.json"))
    args = parser.parse_args()
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetops.settings.base")
    import django

    django.setup()
    from apps.demo.trips.simulator import simulate
    from apps.telematics.features import compute_features

    start = time.perf_counter()
    sim = simulate(drivers=args.drivers, days=args.days, seed=args.seed, end_day=dt.date(2026, 6, 30))
    features = compute_features(sim.samples, sim.bounds)
    coefficients, report = calibrate(sim, features)
    coefficients["calibration"] = {"drivers": args.drivers, "days": args.days, "seed": args.seed}
    with open(args.out, "w") as handle:
        json.dump(coefficients, handle, indent=1)
    print(f"{len(sim.plan.driver):,} trips of {args.drivers} drivers x {args.days} days "
          f"in {time.perf_counter() - start:.0f} s; written {args.out}")  # fmt: skip
    for name, observed, fitted in report:
        print(f"  {name:<20} physics mean {observed:10.3f}   emulator mean {fitted:10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
