"""Server time of every ops page (issue 15: under 300 ms on the medium world).

Runs in the bench database (`FLEETOPS_BENCH_DB`, default fleetops_bench) and builds the medium
demo world there when it has none (with its first night: two million payments and every nightly
job, which takes a while). Each page is requested through Django's test client as an analyst,
once to warm up and then --repeat times; the figures are the server's time without the network,
with the number of queries. The payments dashboard is timed cold too (its cache cleared), since
the first visit after a refresh of the payments view pays the scans.

    .venv/bin/python bench/ops_pages.py                   # medium world
    FLEETOPS_BENCH_DB=fleetops .venv/bin/python bench/ops_pages.py --no-seed   # the make-run world
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import report, setup_django

TARGET_MS = 300.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-seed", action="store_true", help="time the database as it is")
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client

    from apps.accounts.models import User
    from apps.alerts.models import OperationalEvent
    from apps.fleet.models import Vehicle

    notes = []
    if not args.no_seed and Vehicle.objects.count() < 1000:
        notes.append("the bench database had no medium world: built it with `seed_demo --size medium`")
        call_command("seed_demo", size="medium")
    analyst = User.objects.filter(groups__name="analyst").first()
    client = Client()
    client.force_login(analyst)
    vehicle = Vehicle.objects.order_by("pk").values_list("pk", flat=True).first()
    alert = OperationalEvent.objects.order_by("pk").values_list("pk", flat=True).first()
    pages = [
        "/ops/", "/ops/?days=365", "/ops/alerts/", "/ops/jobs/", "/ops/fraud/payments/",
        "/ops/fraud/payments/?period=90&method=online", "/ops/fraud/payments/list/?hour=3&fraud_only=on",
        "/ops/fraud/rentals/", "/ops/fleet/", "/ops/risk/", "/ops/forecast/", "/ops/maintenance/", "/ops/revenue/",
    ]  # fmt: skip
    if vehicle:
        pages.append(f"/ops/fleet/{vehicle}/")
    if alert:
        pages.append(f"/ops/alerts/{alert}/")
    settings.DEBUG = True  # counts the queries
    rows, slow = [], []
    for path in pages:
        client.get(path)
        times = []
        for _ in range(args.repeat):
            reset_queries()
            start = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
        median = statistics.median(times)
        if median > TARGET_MS:
            slow.append(path)
        rows.append(
            (
                path,
                f"{response.status_code}  median {median:6.0f} ms  max {max(times):6.0f} ms"
                f"  {len(connection.queries):2d} queries",
            )
        )
    cache.delete_pattern("*ops:payments-*")
    start = time.perf_counter()
    client.get("/ops/fraud/payments/")
    rows.append(("/ops/fraud/payments/ (cache cleared)", f"{(time.perf_counter() - start) * 1000:6.0f} ms"))
    rows.append(("over the 300 ms target", ", ".join(slow) or "none"))
    report(f"Ops pages, server time ({Vehicle.objects.count():,} vehicles)", rows + [(n, "") for n in notes])


if __name__ == "__main__":
    main()
