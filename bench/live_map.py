"""The live fleet map's read: the last position of every vehicle with an active device.

    .venv/bin/python bench/live_map.py [--vehicles 2000] [--positions 300] [--months 3] [--runs 20]

Times the statement the page runs (apps/telematics/positions/sql/positions.sql `latest`: per
device a backward probe of the month partitions' (device, time) key, LIMIT 1) against the plain
DISTINCT ON over the positions table, on its own database (fleetops_bench_live_map unless
FLEETOPS_BENCH_DB is set) with `positions` per vehicle spread over `months` month partitions."""

import argparse
import os
import statistics
import subprocess
import time

os.environ.setdefault("FLEETOPS_BENCH_DB", "fleetops_bench_live_map")

from _common import report, setup_django

DISTINCT_ON = """
SELECT DISTINCT ON (p.device_id) p.device_id, p.recorded_at, p.latitude, p.longitude, p.speed_mps
FROM telematics_position p JOIN telematics_device d ON d.id = p.device_id
WHERE d.is_active AND d.revoked_at IS NULL AND d.vehicle_id IS NOT NULL
ORDER BY p.device_id, p.recorded_at DESC
"""


def build(vehicles: int, positions: int, months: int) -> None:
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from apps.fleet.models import Vehicle, VehicleCategory
    from apps.regions.models import Region, Store
    from apps.telematics.models import Device
    from apps.telematics.partitions import partitions_ensure
    from apps.telematics.positions.services import POSITIONS_TABLE

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE telematics_position, telematics_positioncursor")
    Device.objects.filter(serial__startswith="bench-map-").delete()
    Vehicle.objects.filter(plate__startswith="BM-").delete()
    region, _ = Region.objects.get_or_create(code="BM", defaults={"name": "Bench map"})
    store, _ = Store.objects.get_or_create(
        code="BM-1", defaults={"region": region, "name": "Bench", "city": "Berlin", "latitude": 52.5, "longitude": 13.4}
    )
    category, _ = VehicleCategory.objects.get_or_create(code="BM", defaults={"name": "Bench", "base_price_per_day": 40})
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"

    def vin(n: int) -> str:
        digits = []
        for _ in range(6):
            digits.append(alphabet[n % len(alphabet)])
            n //= len(alphabet)
        return "WBMBENCH000" + "".join(digits)

    cars = Vehicle.objects.bulk_create(
        Vehicle(
            vin=vin(i), plate=f"BM-{i}", make="Bench", model="Car", model_year=2024,
            category=category, home_store=store, price_per_day=40,
        )
        for i in range(vehicles)
    )  # fmt: skip
    devices = Device.objects.bulk_create(
        Device(serial=f"bench-map-{i}", vehicle=car, token_prefix=f"bm{i:08d}", token_hash=f"{i:064x}")
        for i, car in enumerate(cars)
    )
    now = timezone.now()
    first = now - dt.timedelta(days=30 * months)
    partitions_ensure(table=POSITIONS_TABLE, first=first.date(), last=now.date())
    step = (now - first).total_seconds() / positions
    with connection.cursor() as cursor:
        # Each vehicle reports over the whole period; every tenth stopped a month ago.
        cursor.execute(
            "INSERT INTO telematics_position (device_id, recorded_at, latitude, longitude, speed_mps) "
            "SELECT d.id, %s::timestamptz + (n * %s) * interval '1 second', 52.5 + n * 1e-5, 13.4, 10 "
            "FROM unnest(%s::bigint[]) AS d(id) CROSS JOIN generate_series(0, %s - 1) AS n "
            "WHERE d.id %% 10 <> 0 OR n < %s",
            [first, step, [d.pk for d in devices], positions, positions * (months - 1) // months],
        )
        cursor.execute("VACUUM ANALYZE telematics_position")


def timed(sql: str, runs: int) -> tuple[float, float, int]:
    from django.db import connection

    times, rows = [], 0
    with connection.cursor() as cursor:
        for _ in range(runs):
            start = time.perf_counter()
            cursor.execute(sql)
            rows = len(cursor.fetchall())
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, min(times) * 1000, rows


def _times(t: tuple[float, float, int]) -> str:
    return f"median {t[0]:.1f} ms, best {t[1]:.1f} ms, {t[2]:,} rows"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vehicles", type=int, default=2000)
    parser.add_argument("--positions", type=int, default=300)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from apps.common.sql import statement
    from apps.telematics.positions import selectors

    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    build(args.vehicles, args.positions, args.months)
    latest = statement(selectors.__name__, "positions.sql", "latest")
    lateral = timed(latest, args.runs)
    distinct = timed(DISTINCT_ON, max(args.runs // 4, 3))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM telematics_position")
        total = cursor.fetchone()[0]
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) " + latest)
        plan = [r[0] for r in cursor.fetchall()]
    command = f"bench/live_map.py --vehicles {args.vehicles} --positions {args.positions} --months {args.months}"
    report(
        "Live map: last position per vehicle",
        [
            ("command", command),
            ("load", load),
            ("positions", f"{total:,} in {args.months + 1} month partitions, {args.vehicles:,} vehicles"),
            ("page's statement (LATERAL, LIMIT 1)", _times(lateral)),
            ("DISTINCT ON over the positions", _times(distinct)),
            ("ratio", f"{distinct[0] / lateral[0]:.0f}x"),
        ],
    )
    print("\n".join(line for line in plan if "Buffers" in line or "Execution" in line or "Index" in line)[:1500])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
