"""Server time of the driver portal's pages (issue 16: under 200 ms on the medium world, the first
request after start included).

Runs in the bench database (`FLEETOPS_BENCH_DB`, default fleetops_bench) and builds the medium
demo world there when it has none. The pages are requested through Django's test client as
`driver1` (the demo's first driver login; --driver for another), once to warm up and then --repeat times; figures are
the server's time without the network, with the number of queries. The first request after start
is measured in a fresh Python process per page that loads the application as the web process does
(`fleetops.wsgi`, which warms it) and times that page's first request.

    .venv/bin/python bench/portal_pages.py                   # medium world
    FLEETOPS_BENCH_DB=fleetops .venv/bin/python bench/portal_pages.py --no-seed   # the make-run world
"""

from __future__ import annotations

import os

from _common import first_request, medium_world, page_times, pages_bench_arguments, report, setup_django

TARGET_MS = 200.0
PAGES = ["/portal/", "/portal/rewards/", "/portal/notifications/", "/portal/privacy/", "/portal/password/",
         "/portal/login/", "/portal/trips/0/"]  # fmt: skip


def main() -> None:
    parser = pages_bench_arguments()
    parser.add_argument("--no-warm-up", action="store_true", help="first requests without fleetops.wsgi's warm-up")
    parser.add_argument("--driver", default="driver1", help="whose pages (a demo driver login)")
    args = parser.parse_args()
    setup_django()
    from django.test import Client

    from apps.accounts.models import User
    from apps.fleet.models import Vehicle

    notes = medium_world(no_seed=args.no_seed)
    driver = User.objects.get(username=args.driver).customer
    # The trip pages: the list (first and a later page), the trip-in-progress panel, the trip with
    # the most samples and the newest trip.
    longest = driver.trips.order_by("-samples_stored", "pk").values_list("pk", "samples_stored").first()
    newest = driver.trips.order_by("-started_at", "-pk").values_list("pk", flat=True).first()
    PAGES.extend(["/portal/trips/", "/portal/trips/?page=3", "/portal/trips/live/"])
    if longest:
        PAGES.append(f"/portal/trips/{longest[0]}/")
        notes.append(f"/portal/trips/{longest[0]}/ is {args.driver}'s longest trip: {longest[1]:,} samples")
    if newest:
        PAGES.append(f"/portal/trips/{newest}/")
    client, anonymous = Client(), Client()
    client.force_login(driver.user)
    rows, slow = page_times(
        lambda path: anonymous if path == "/portal/login/" else client, PAGES, repeat=args.repeat, target_ms=TARGET_MS
    )
    for path in PAGES:
        first = first_request(path, user={"username": args.driver}, warm=not args.no_warm_up)
        if first["first_ms"] > TARGET_MS:
            slow.append(f"{path} (first request)")
        rows.append(
            (f"{path} first request after start", f"{first['status']}  {first['first_ms']:6.0f} ms"
             f"  (process start{'' if args.no_warm_up else ' with warm-up'} {first['start_ms']:.0f} ms)")
        )  # fmt: skip
    trips = driver.trips.count()
    rows.append((f"over the {TARGET_MS:.0f} ms target", ", ".join(slow) or "none"))
    rows.append(("load average (1, 5, 15 min)", " ".join(f"{x:.2f}" for x in os.getloadavg())))
    scored = driver.risk_scores.exists()
    policies = ", ".join(driver.policies.filter(status="active").values_list("kind", flat=True)) or "no policy"
    title = (
        f"Portal pages, server time ({args.driver}: {trips:,} trips, {'a score' if scored else 'no score'},"
        f" {policies}; {Vehicle.objects.count():,} vehicles)"
    )
    report(title, rows + [(n, "") for n in notes])


if __name__ == "__main__":
    main()
