"""Fast features-only simulator benchmark (issue 17): `simulate_trips --features-only` for 5,000
drivers x 180 days, end to end (customers, consent, devices, trips by COPY, claims, driver
features), against the per-second simulator measured in the same run on a small sample.

    DATABASE_URL=postgres://... .venv/bin/python bench/simulator.py [--drivers 5000 --days 180]

Own database (`fleetops_bench_simulator`), emptied of simulated drivers first. Target: under 3
minutes for 5,000 drivers x 180 days. The baseline is the per-second physics plus the feature
code, in memory (no storage at all), on `--baseline-drivers` drivers x the same days.
"""

import argparse
import datetime as dt
import io
import os
import sys
import time

os.environ.setdefault("FLEETOPS_BENCH_DB", "fleetops_bench_simulator")

from _common import peak_rss_mb, report, setup_django


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drivers", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--baseline-drivers", type=int, default=10)
    parser.add_argument("--baseline-days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    setup_django()
    import numpy as np
    from django.core.management import call_command
    from django.db import connection

    from apps.demo.trips.simulator import draw_traits, simulate_drivers
    from apps.telematics.features import compute_features

    load_before = os.getloadavg()
    with connection.cursor() as cursor:  # the benchmark's own database: start from no simulated driving
        cursor.execute("TRUNCATE telematics_trip, risk_claim, telematics_driverfeatures CASCADE")
    out = io.StringIO()
    start = time.perf_counter()
    call_command("simulate_trips", drivers=args.drivers, days=args.days, seed=args.seed, features_only=True,
                 stdout=out)  # fmt: skip
    fast_s = time.perf_counter() - start
    summary = out.getvalue().strip().splitlines()[-1]

    start = time.perf_counter()
    traits = draw_traits(np.random.default_rng(1), args.baseline_drivers)
    sim = simulate_drivers(traits=traits, days=args.baseline_days, rng=np.random.default_rng(2),
                           end_day=dt.date(2026, 6, 30))  # fmt: skip
    compute_features(sim.samples, sim.bounds)
    slow_s = time.perf_counter() - start
    load_after = os.getloadavg()
    fast_rate = args.drivers * args.days / fast_s
    slow_rate = args.baseline_drivers * args.baseline_days / slow_s
    report(
        "fast features-only simulator",
        [
            (f"simulate_trips --features-only {args.drivers:,} x {args.days} days", f"{fast_s:.1f} s = "
             f"{fast_rate:,.0f} driver-days/s (target < 180 s: {'met' if fast_s < 180 else 'MISSED'})"),
            ("  its summary", summary),
            (f"per-second simulator, in memory, {args.baseline_drivers} x {args.baseline_days} days",
             f"{slow_s:.1f} s = {slow_rate:,.0f} driver-days/s (physics + features, nothing stored)"),
            ("ratio", f"{fast_rate / slow_rate:,.0f}x the per-second simulator's driver-days per second"),
            ("per-second simulator for the same 5,000 x 180", f"{args.drivers * args.days / slow_rate / 3600:.1f} h"),
            ("peak RSS", f"{peak_rss_mb():.0f} MB"),
            ("load average (1 min)", f"{load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end"),
        ],
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
