"""Server time of the driver portal's trip pages (issue 16: under 200 ms, fixed query counts).

Signs in as driver1 of the demo world through Django's test client and times the trips list (first
and a later page), the trip-in-progress panel, and the trip pages of driver1's longest trip (the
most samples) and newest trip. The very first request of the process is timed apart (imports,
templates and connections cold), then each page once to warm up and --repeat times; the figures
are the server's time without the network, with the number of queries.

    FLEETOPS_BENCH_DB=fleetops .venv/bin/python bench/portal_trips.py --no-seed   # the make-run world
    .venv/bin/python bench/portal_trips.py                                       # builds a small world
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from _common import report, setup_django

TARGET_MS = 200.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--no-seed", action="store_true", help="time the database as it is")
    parser.add_argument("--driver", default="driver1")
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client

    from apps.accounts.models import User
    from apps.telematics.models import Trip

    notes = []
    if not args.no_seed and not User.objects.filter(username=args.driver).exists():
        notes.append("the bench database had no demo world: built it with `seed_demo --size small`")
        call_command("seed_demo", size="small")
    user = User.objects.get(username=args.driver)
    trips = Trip.objects.filter(driver__user=user)
    longest = trips.order_by("-samples_stored", "pk").values_list("pk", "samples_stored").first()
    newest = trips.order_by("-started_at", "-pk").values_list("pk", flat=True).first()
    client = Client()
    client.force_login(user)
    settings.DEBUG = True  # counts the queries
    pages = ["/portal/trips/", "/portal/trips/?page=3", "/portal/trips/live/"]
    if longest:
        pages.append(f"/portal/trips/{longest[0]}/")
        notes.append(f"longest trip: {longest[1]:,} samples")
    if newest:
        pages.append(f"/portal/trips/{newest}/")
    rows = []
    start = time.perf_counter()
    first = client.get(pages[-1])
    cold_ms = (time.perf_counter() - start) * 1000
    rows.append((f"first request of the process ({pages[-1]})", f"{first.status_code}  {cold_ms:6.0f} ms"))
    slow = []
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
                f"{response.status_code}  median {median:6.1f} ms  max {max(times):6.1f} ms"
                f"  {len(connection.queries):2d} queries  {len(response.content) / 1024:5.0f} KiB",
            )
        )
    rows.append(("over the 200 ms target", ", ".join(slow) or "none"))
    rows.append(("load average (1, 5, 15 min)", " ".join(f"{v:.1f}" for v in os.getloadavg())))
    report(f"Portal trip pages of {args.driver} ({trips.count():,} trips)", rows + [(n, "") for n in notes])


if __name__ == "__main__":
    main()
