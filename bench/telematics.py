"""Telematics benchmark: trip uploads through the HTTP API (gunicorn, concurrent clients), the
raw COPY ceiling for the same samples, trip-feature throughput, and the driver-feature refresh.

    .venv/bin/python bench/telematics.py [--trips 2000] [--samples 1200] [--clients 4] [--workers 3]
                                         [--drivers 10000]

Runs on its own database (fleetops_bench_telematics unless FLEETOPS_BENCH_DB is set) and sends
Celery messages and cache keys to Redis database 15, so no worker of a running dev stack picks
up its tasks. The trips come from the physics simulator: windows of exactly --samples fixes cut
from simulated trips, uploaded as columnar JSON (the row form is timed too, on a subset)."""

import argparse
import datetime as dt
import http.client
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("FLEETOPS_BENCH_DB", "fleetops_bench_telematics")
_REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:56379/0").rsplit("/", 1)[0] + "/15"
os.environ["REDIS_URL"] = _REDIS
os.environ["CELERY_BROKER_URL"] = _REDIS
os.environ["CELERY_RESULT_BACKEND"] = _REDIS
os.environ["CACHE_KEY_PREFIX"] = "fleetops-bench-telematics"

from _common import ROOT, peak_rss_mb, report, setup_django  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trips", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=1200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--drivers", type=int, default=10_000)
    parser.add_argument("--port", type=int, default=8765)
    args, _ = parser.parse_known_args()
    return args


def reset_tables():
    from django.db import connection

    from apps.telematics.partitions import SAMPLES_TABLE, partitions_list

    with connection.cursor() as cursor:
        for part in partitions_list(table=SAMPLES_TABLE):
            cursor.execute(f'DROP TABLE "{part.name}"')
        cursor.execute(
            "TRUNCATE telematics_driverfeatures, risk_claim, telematics_trip, telematics_device, "
            "customers_telematicsconsent RESTART IDENTITY CASCADE"
        )


def make_trip_windows(n_trips: int, n_samples: int):
    """Cuts windows of exactly n_samples fixes out of simulated trips (one window per trip)."""
    import numpy as np

    from apps.demo.trips.simulator import simulate

    end_day = dt.date.today() - dt.timedelta(days=1)
    windows = []
    seed = 0
    while len(windows) < n_trips:
        sim = simulate(drivers=200, days=5, seed=seed, end_day=end_day)
        lengths = np.diff(sim.bounds)
        for k in np.flatnonzero(lengths >= n_samples):
            a = int(sim.bounds[k])
            windows.append(sim.samples.take(slice(a, a + n_samples)))
            if len(windows) == n_trips:
                break
        seed += 1
    return windows


def body_columns(external_id: str, s) -> bytes:
    import orjson

    return orjson.dumps(
        {
            "external_id": external_id,
            "samples": {
                "t": (s.t / 1e6).tolist(),
                "lat": s.lat.round(7).tolist(),
                "lon": s.lon.round(7).tolist(),
                "speed": s.speed.round(2).tolist(),
                "acc_lon": s.acc_lon.round(3).tolist(),
                "acc_lat": s.acc_lat.round(3).tolist(),
                "heading": s.heading.round(1).tolist(),
                "speed_limit": s.speed_limit.round(2).tolist(),
                "phone": (s.phone == 1).tolist(),
            },
        }
    )


def body_rows(external_id: str, s) -> bytes:
    import orjson

    cols = orjson.loads(body_columns(external_id, s))["samples"]
    rows = [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]
    return orjson.dumps({"external_id": external_id, "samples": rows})


def start_gunicorn(port: int, workers: int, *, threads: int = 0, env: dict | None = None) -> subprocess.Popen:
    """gunicorn with sync workers, or with `threads` the Procfile's web process (gthread workers
    and its config file, access log included)."""
    # Connections kept for the whole run, so the database backends measured are the ones that did the work.
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="fleetops.settings.base",
        DJANGO_DEBUG="0",
        DATABASE_CONN_MAX_AGE="3600",
        **(env or {}),
    )
    procfile = ["--worker-class", "gthread", "--threads", str(threads), "--config", "fleetops/gunicorn_conf.py"]
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "fleetops.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "120",
            *(procfile if threads else []),
        ],
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return wait_healthy(proc, port, "gunicorn")


def wait_healthy(proc: subprocess.Popen, port: int, name: str, *, tries: int = 300) -> subprocess.Popen:
    """The server process once its /healthz answers 200 (killed, and the run stopped, if never)."""
    for _ in range(tries):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{name} did not start: " + proc.stderr.read().decode()[-2000:])


def cpu_ticks(patterns: tuple[str, ...]) -> dict[int, int]:
    """utime + stime (clock ticks) of every process whose command line contains a pattern."""
    ticks = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if not any(p in cmd for p in patterns):
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return ticks


def cpu_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    return sum(t - before.get(pid, 0) for pid, t in after.items()) / os.sysconf("SC_CLK_TCK")


def upload_all(port: int, jobs: list[tuple[str, bytes]], clients: int) -> tuple[float, int, list[int]]:
    """Posts every (token, body) with `clients` keep-alive connections; returns wall time,
    samples stored and trip ids."""
    import orjson

    work: queue.Queue = queue.Queue()
    for job in jobs:
        work.put(job)
    stored, trip_ids, errors = [], [], []
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            try:
                token, body = work.get_nowait()
            except queue.Empty:
                return
            conn.request(
                "POST",
                "/api/v1/telematics/trips",
                body=body,
                headers={"Content-Type": "application/json", "Authorization": f"Device {token}"},
            )
            response = conn.getresponse()
            data = response.read()
            with lock:
                if response.status in (200, 201):
                    result = orjson.loads(data)
                    stored.append(result["samples"]["stored"])
                    trip_ids.append(result["trip_id"])
                else:
                    errors.append((response.status, data[:300]))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{len(errors)} uploads failed, first: {errors[0]}")
    return elapsed, sum(stored), trip_ids


def raw_copy(windows, clients: int, first_trip_id: int) -> float:
    """The ceiling: the same samples, pre-encoded, COPYed by `clients` connections, one
    transaction per trip as the API does, with no HTTP, parsing or cleaning."""
    import numpy as np
    import psycopg
    from django.db import connection

    from apps.telematics.ingest import COPY_COLUMNS, copy_payload
    from apps.telematics.partitions import SAMPLES_TABLE

    db = connection.settings_dict
    payloads = [copy_payload(np.full(len(s), first_trip_id + i, dtype=np.int64), s) for i, s in enumerate(windows)]
    work: queue.Queue = queue.Queue()
    for p in payloads:
        work.put(p)

    conns = [
        psycopg.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], password=db.get("PASSWORD") or None
        )
        for _ in range(clients)
    ]

    def client(conn):
        while True:
            try:
                payload = work.get_nowait()
            except queue.Empty:
                return
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY {SAMPLES_TABLE} ({COPY_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.write(payload)

    threads = [threading.Thread(target=client, args=(conn,)) for conn in conns]
    pattern = (f"postgres: {db['USER']} {db['NAME']} ",)
    before = cpu_ticks(pattern)
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(before, cpu_ticks(pattern))
    for conn in conns:
        conn.close()
    return elapsed, cpu


def seed_driver_trips(n_drivers: int, trips_per_driver: int, as_of: dt.date) -> int:
    """Trip rows for the driver-feature refresh: generated in SQL (this times the aggregation,
    not the simulator), spread over the 90 days before as_of plus some outside the window."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO customers_customer (created_at, updated_at, first_name, last_name, email, phone, gender,
                                            city, postal_area)
            SELECT now(), now(), 'Bench', 'Driver ' || g, 'bench' || g || '@drivers.fleetops.test', '', 'unknown',
                   'Berlin', ''
            FROM generate_series(1, %s) g
            RETURNING id
            """,
            [n_drivers],
        )
        ids = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            """
            INSERT INTO customers_telematicsconsent (customer_id, given_at, terms_version, source)
            SELECT unnest(%s::bigint[]), now() - interval '200 days', '2026-01', 'bench'
            """,
            [ids],
        )
        cursor.execute("SELECT id FROM telematics_device ORDER BY id LIMIT 1")
        device_id = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO telematics_trip (
                created_at, updated_at, device_id, external_id, driver_id, started_at, ended_at,
                samples_received, samples_stored, samples_dropped, feature_status, distance_km, duration_s,
                moving_s, idle_s, gap_s, max_speed_mps, mean_speed_mps, harsh_brake_count, harsh_accel_count,
                harsh_corner_count, speeding_count, speeding_s, phone_use_s, night_s, rush_hour_s, highway_s,
                score, events, score_deductions, measurable)
            SELECT now(), now(), %(device)s, 'bench-' || d.id || '-' || k, d.id,
                   s.start, s.start + interval '20 minutes',
                   1200, 1200, '{}', 'done', 3 + random() * 30, 1200, 1000, 200, 0, 30, 14,
                   (random() * 4)::int, (random() * 2)::int, (random() * 2)::int, (random() * 2)::int,
                   random() * 200, random() * 60, random() * 300, random() * 600, random() * 600,
                   60 + (random() * 40)::int, '[]', '[]', '{}'
            FROM unnest(%(ids)s::bigint[]) AS d(id)
            CROSS JOIN generate_series(1, %(per)s) AS k
            CROSS JOIN LATERAL (
                SELECT (%(as_of)s::date + interval '1 day') - random() * interval '120 days' + k * interval '1 second'
                    AS start
            ) s
            """,
            {"device": device_id, "ids": ids, "per": trips_per_driver, "as_of": as_of},
        )
        cursor.execute("ANALYZE telematics_trip")
    return len(ids)


def main() -> int:
    args = parse_args()
    setup_django()
    from django.db import connection

    from apps.customers.models import Customer, TelematicsConsent
    from apps.telematics import services
    from apps.telematics.models import Device, Trip
    from apps.telematics.partitions import SAMPLES_TABLE, partitions_ensure

    reset_tables()
    rows = []
    t0 = time.perf_counter()
    windows = make_trip_windows(args.trips, args.samples)
    simulate_s = time.perf_counter() - t0
    total_samples = args.trips * args.samples

    drivers = Customer.objects.bulk_create(
        [Customer(first_name="Bench", last_name=f"Upload {i}", email=f"upload{i}@bench.test") for i in range(50)]
    )
    TelematicsConsent.objects.bulk_create([TelematicsConsent(customer=c) for c in drivers])
    tokens = []
    for i, customer in enumerate(drivers):
        _device, raw = services.device_create(serial=f"BENCH-{i}", kind=Device.Kind.PHONE, customer=customer)
        tokens.append(raw)
    first = min(int(w.t[0]) for w in windows) / 1e6
    last = max(int(w.t[-1]) for w in windows) / 1e6
    partitions_ensure(
        table=SAMPLES_TABLE,
        first=dt.datetime.fromtimestamp(first, tz=dt.UTC).date(),
        last=dt.datetime.fromtimestamp(last, tz=dt.UTC).date() + dt.timedelta(days=1),
    )

    t0 = time.perf_counter()
    jobs = [(tokens[i % len(tokens)], body_columns(f"bench-{i}", w)) for i, w in enumerate(windows)]
    encode_s = time.perf_counter() - t0
    body_mb = sum(len(b) for _, b in jobs) / 1e6
    row_jobs = [(tokens[i % len(tokens)], body_rows(f"bench-rows-{i}", w)) for i, w in enumerate(windows[:300])]
    connection.close()

    server = start_gunicorn(args.port, args.workers)
    watched = (
        "gunicorn fleetops.wsgi",
        f"postgres: {connection.settings_dict['USER']} {connection.settings_dict['NAME']} ",
    )
    try:
        # Warm-up, not timed: each worker imports the URLconf, DRF and the apps on its first requests.
        warm = [(tokens[0], body_columns(f"warm-{i}", w)) for i, w in enumerate(windows[: 4 * args.workers])]
        _, warm_stored, _ = upload_all(args.port, warm, args.clients)
        cpu_before, own_before = cpu_ticks(watched), time.process_time()
        api_s, stored, trip_ids = upload_all(args.port, jobs, args.clients)
        cpu_after = cpu_ticks(watched)
        api_cpu = cpu_seconds(cpu_before, cpu_after)
        web_cpu = cpu_seconds(
            {p: t for p, t in cpu_before.items() if p in cpu_ticks(watched[:1])},
            {p: t for p, t in cpu_after.items() if p in cpu_ticks(watched[:1])},
        )
        client_cpu = time.process_time() - own_before
        rows_s, rows_stored, _ = upload_all(args.port, row_jobs, args.clients)
        replay_s, _, replay_ids = upload_all(args.port, jobs[:200], args.clients)  # idempotent: 200, no new rows
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert set(replay_ids) <= set(trip_ids), "a re-upload must return the stored trip"
    api_rate = stored / api_s
    rows_rate = rows_stored / rows_s
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {SAMPLES_TABLE}")
        in_table = cursor.fetchone()[0]
    assert in_table == warm_stored + stored + rows_stored, (in_table, stored, rows_stored)

    # The raw COPY ceiling: same samples, same concurrency, new trip ids.
    copy_s, copy_cpu = raw_copy(windows, args.clients, first_trip_id=10_000_000)
    copy_rate = total_samples / copy_s
    copy1_s, _ = raw_copy(windows[:500], 1, first_trip_id=20_000_000)
    copy1_rate = 500 * args.samples / copy1_s

    # Trip features: the task uploads queue (every pending trip, chunks of 500), the batch job's
    # recompute of the same trips (chunks of 500), and the single-trip path.
    t0 = time.perf_counter()
    pending_trips = services.trip_features_compute_pending()
    pending_s = time.perf_counter() - t0
    ids = sorted(trip_ids)
    t0 = time.perf_counter()
    for start in range(0, len(ids), 500):
        services.trip_features_compute_many(trip_ids=ids[start : start + 500])
    batch_s = time.perf_counter() - t0
    single = ids[:200]
    t0 = time.perf_counter()
    for trip_id in single:
        services.trip_features_compute(trip_id=trip_id)
    single_s = time.perf_counter() - t0
    done = Trip.objects.filter(pk__in=ids, feature_status="done").count()
    assert done == len(ids), done

    # Driver features for --drivers drivers.
    as_of = dt.date.today() - dt.timedelta(days=1)
    per_driver = 60
    t0 = time.perf_counter()
    n_drivers = seed_driver_trips(args.drivers, per_driver, as_of)
    seed_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    refreshed = services.driver_features_refresh(as_of=as_of)
    refresh_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    services.driver_features_refresh(as_of=as_of)
    refresh2_s = time.perf_counter() - t0

    import redis

    redis.Redis.from_url(_REDIS).delete("celery")
    rows += [
        ("machine", f"{os.cpu_count()} cores; gunicorn --workers {args.workers}, {args.clients} concurrent clients"),
        ("trips x samples", f"{args.trips} x {args.samples} = {total_samples:,} samples ({body_mb:.0f} MB JSON)"),
        ("simulate + encode (untimed)", f"{simulate_s:.1f} s + {encode_s:.1f} s"),
        (
            "API upload (columnar JSON)",
            f"{api_s:.2f} s -> {api_rate:,.0f} samples/s stored ({args.trips / api_s:.0f} trips/s)",
        ),
        ("API upload (row JSON, 300 trips)", f"{rows_s:.2f} s -> {rows_rate:,.0f} samples/s stored"),
        ("API re-upload (200 trips, idempotent)", f"{replay_s:.2f} s -> {200 / replay_s:.0f} trips/s, nothing stored"),
        ("raw COPY ceiling", f"{copy_s:.2f} s -> {copy_rate:,.0f} samples/s ({args.clients} connections)"),
        ("raw COPY, 1 connection", f"{copy1_rate:,.0f} samples/s"),
        ("ratio API / raw COPY", f"{api_rate / copy_rate:.2f}x  (target >= 0.3x)"),
        (
            "API CPU (gunicorn + PostgreSQL)",
            f"{api_cpu:.1f} s = {api_cpu / total_samples * 1e6:.1f} us/sample (web {web_cpu:.1f} s, "
            f"database {api_cpu - web_cpu:.1f} s); HTTP clients {client_cpu:.1f} s; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        ),
        (
            "  capacity on 2 idle cores",
            f"{2 * total_samples / (api_cpu + client_cpu):,.0f} samples/s (projection from CPU cost, not measured)",
        ),
        ("raw COPY CPU (PostgreSQL)", f"{copy_cpu:.1f} s = {copy_cpu / total_samples * 1e6:.1f} us/sample"),
        ("API target 100,000 samples/s", "met" if api_rate >= 100_000 else "MISSED"),
        (
            "trip features, task queued by uploads",
            f"{pending_trips} pending trips in {pending_s:.2f} s -> "
            f"{pending_trips * args.samples / pending_s:,.0f} samples/s",
        ),
        (
            "trip features, batch job (recompute)",
            f"{len(ids)} trips in {batch_s:.2f} s -> {total_samples / batch_s:,.0f} samples/s",
        ),
        (
            "trip features, one trip at a time",
            f"{len(single)} trips in {single_s:.2f} s -> {len(single) * args.samples / single_s:,.0f} samples/s",
        ),
        ("driver features seed (SQL rows)", f"{n_drivers} drivers x {per_driver} trips in {seed_s:.1f} s"),
        ("driver-feature refresh", f"{refreshed} drivers in {refresh_s:.2f} s (again, upsert: {refresh2_s:.2f} s)"),
        ("peak RSS (bench process)", f"{peak_rss_mb():.0f} MB"),
    ]
    report("Telematics (bench/telematics.py)", rows)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
