"""Server time of every ops page (issue 15: under 300 ms on the medium world).

Runs in the bench database (`FLEETOPS_BENCH_DB`, default fleetops_bench) and builds the medium
demo world there when it has none (with its first night: two million payments and every nightly
job, which takes a while). First what an ingest's hook does for the payments pages is timed (its
dashboards precomputed); then each page is requested through Django's test client as an
analyst, cold (its first request in the process, after the web process's warm-up) and then --repeat
times warm; the figures are the server's time without the network, with the number of queries.
The payments dashboard is also timed with nothing precomputed (the cache lost), and each page's
first request in a fresh process that loads fleetops.wsgi as a gunicorn worker does (skip with
--no-first-requests). The load average is printed at the start and the end.

    .venv/bin/python bench/ops_pages.py                   # medium world
    FLEETOPS_BENCH_DB=fleetops .venv/bin/python bench/ops_pages.py --no-seed   # the make-run world
"""

from __future__ import annotations

import os
import time

from _common import first_request, medium_world, page_times, pages_bench_arguments, report, setup_django

TARGET_MS = 300.0


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = pages_bench_arguments()
    parser.add_argument("--no-first-requests", action="store_true", help="skip the fresh-process first requests")
    args = parser.parse_args()
    setup_django()
    from django.core.cache import cache
    from django.test import Client

    from apps.accounts.models import User
    from apps.alerts.models import OperationalEvent
    from apps.fleet.models import Vehicle

    notes = medium_world(no_seed=args.no_seed)
    from apps.common.warmup import warm_up

    warm_up()  # as fleetops.wsgi does in each web worker: a page's cold time is then its own
    analyst = User.objects.filter(groups__name="analyst").first()
    client = Client()
    client.force_login(analyst)
    vehicle = Vehicle.objects.order_by("pk").values_list("pk", flat=True).first()
    alert = OperationalEvent.objects.order_by("pk").values_list("pk", flat=True).first()
    pages = [
        "/ops/", "/ops/?days=365", "/ops/alerts/", "/ops/jobs/", "/ops/fraud/payments/",
        "/ops/fraud/payments/?period=90&method=online", "/ops/fraud/payments/?mcc=5411",
        "/ops/fraud/payments/list/", "/ops/fraud/payments/list/?hour=3&fraud_only=on",
        "/ops/fraud/rentals/", "/ops/fleet/", "/ops/map/", "/ops/risk/", "/ops/forecast/", "/ops/maintenance/",
        "/ops/revenue/",
    ]  # fmt: skip
    if vehicle:
        pages.append(f"/ops/fleet/{vehicle}/")
    if alert:
        pages.append(f"/ops/alerts/{alert}/")
    from apps.ops.selectors.payments import payments_dashboards_precompute

    # What an ingest's hook does after loading payments: from here
    # on a page's cold time is its first request after that, with the other ops caches emptied.
    load_at_start = _load()
    cache.delete_pattern("*ops:*")
    start = time.perf_counter()
    payments_dashboards_precompute()
    precompute = [("payments dashboards precomputed (the ingest hook's part)", f"{_ms(start):6.0f} ms")]
    # Nothing else of the ops pages is cached: a page's cold time is its first request in this process.
    rows, slow = page_times(
        lambda path: client, pages, repeat=args.repeat, target_ms=TARGET_MS, before_cold=lambda path: None
    )
    rows = [("load average at the start", load_at_start), *precompute, *rows]
    # The cache lost (Redis flushed): the first viewer computes the figures.
    for path in ("/ops/fraud/payments/", "/ops/fraud/payments/?mcc=5411"):
        cache.delete_pattern("*ops:payments-*")
        start = time.perf_counter()
        client.get(path)
        rows.append((f"{path} with nothing precomputed", f"{_ms(start):6.0f} ms"))
    # The first request of a fresh web process (fleetops.wsgi, its warm-up included) for each page,
    # with the payments figures precomputed again (as the next ingest would).
    if not args.no_first_requests:
        payments_dashboards_precompute()
        for path in pages:
            first = first_request(path, user={"groups__name": "analyst"})
            if first["first_ms"] > TARGET_MS:
                slow.append(f"{path} (first request after start)")
            rows.append(
                (f"{path} first request after start", f"{first['status']}  {first['first_ms']:6.0f} ms"
                 f"  (process start with warm-up {first['start_ms']:.0f} ms)")
            )  # fmt: skip
    rows.append(("over the 300 ms target", ", ".join(slow) or "none"))
    rows.append(("load average at the end", _load()))
    report(f"Ops pages, server time ({Vehicle.objects.count():,} vehicles)", rows + [(n, "") for n in notes])


if __name__ == "__main__":
    main()
