"""Streamed positions benchmark: the gateway batch endpoint (positions/s) and single OsmAnd
requests over keep-alive (requests/s), through gunicorn, side by side with a raw COPY of the
same positions into the same table (the ceiling: no HTTP, parsing, cleaning or consent check).

    .venv/bin/python bench/positions.py [--devices 500] [--batches 40] [--batch 5000]
                                        [--singles 4000] [--clients 4] [--workers 2]

Targets (issue 19): 20,000 positions/s through the batch endpoint, 2,000 single requests/s.
Runs on its own database (fleetops_bench_positions unless FLEETOPS_BENCH_DB is set), with
Celery messages and cache keys on Redis database 15. Prints `uptime` before and after: the
machine is shared, so the load average belongs next to every figure."""

import argparse
import datetime as dt
import http.client
import os
import queue
import subprocess
import threading
import time
import urllib.parse

os.environ.setdefault("FLEETOPS_BENCH_DB", "fleetops_bench_positions")
_REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:56379/0").rsplit("/", 1)[0] + "/15"
os.environ["REDIS_URL"] = _REDIS
os.environ["CELERY_BROKER_URL"] = _REDIS
os.environ["CELERY_RESULT_BACKEND"] = _REDIS
os.environ["CACHE_KEY_PREFIX"] = "fleetops-bench-positions"

from _common import report, setup_django  # noqa: E402
from telematics import cpu_seconds, cpu_ticks, start_gunicorn  # noqa: E402

TARGET_BATCH = 20_000
TARGET_SINGLE = 2_000


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=5000, help="positions per batch request")
    parser.add_argument("--singles", type=int, default=4000, help="single OsmAnd requests")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=int(os.environ.get("WEB_PORT", "8766")))
    return parser.parse_args()


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def make_devices(n: int):
    from django.db import connection

    from apps.customers.models import Customer, TelematicsConsent
    from apps.telematics.models import Device
    from apps.telematics.services import device_create

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE telematics_position, telematics_positioncursor")
    devices = []
    for i in range(n):
        serial = f"bench-pos-{i:05d}"
        Device.objects.filter(serial=serial).delete()
        customer = Customer.objects.create(first_name="Bench", last_name=f"Driver {i}", email=f"pos{i}@bench.test")
        TelematicsConsent.objects.create(customer=customer)
        device, raw = device_create(serial=serial, kind=Device.Kind.PHONE, customer=customer)
        devices.append((device, raw))
    return devices


def batch_bodies(devices, batches: int, size: int, t0: float) -> list[bytes]:
    """Each batch holds `size` positions spread over the devices, 10 s apart per device, moving."""
    import orjson

    keys = {d.serial: raw for d, raw in devices}
    bodies, clock = [], 0
    per_device = max(size // len(devices), 1)
    for _ in range(batches):
        ids, ts, lats, lons, speeds = [], [], [], [], []
        for k, (device, _) in enumerate(devices):
            for j in range(per_device):
                step = clock + j
                ids.append(device.serial)
                ts.append(t0 + step * 10)
                lats.append(48.0 + k * 0.01 + step * 0.001)
                lons.append(11.0)
                speeds.append(11.0)
        clock += per_device
        body = {"keys": keys, "positions": {"id": ids, "t": ts, "lat": lats, "lon": lons, "speed": speeds}}
        bodies.append(orjson.dumps(body))
    return bodies, clock


def post_all(port: int, jobs: list, clients: int, send) -> tuple[float, int]:
    work: queue.Queue = queue.Queue()
    for job in jobs:
        work.put(job)
    errors, done = [], [0]
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            try:
                job = work.get_nowait()
            except queue.Empty:
                return
            status, data = send(conn, job)
            with lock:
                if status == 200:
                    done[0] += 1
                else:
                    errors.append((status, data[:300]))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, first: {errors[0]}")
    return elapsed, done[0]


def send_batch(conn, body):
    conn.request("POST", "/api/v1/telematics/positions", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, response.read()


def send_single(conn, query):
    conn.request("GET", "/api/v1/telematics/osmand?" + query)
    response = conn.getresponse()
    return response.status, response.read()


def raw_copy(n: int, t0: float, clients: int) -> tuple[float, float]:
    """The same number of positions COPYed (binary) straight into telematics_position."""
    import numpy as np
    import psycopg
    from django.db import connection

    from apps.common.sql import pgcopy_encode

    columns = [("device_id", ">i8"), ("recorded_at", ">i8"), ("latitude", ">f8"), ("longitude", ">f8")]
    per = n // clients
    payloads = []
    pg_epoch = 946_684_800 * 1_000_000
    for c in range(clients):
        # Device ids no real device has (the table has no foreign key), so nothing conflicts
        # with the positions the API stored; 1,000 devices per client, a fix a second each.
        idx = np.arange(per)
        payloads.append(
            pgcopy_encode(
                columns,
                {
                    "device_id": 10_000_000 + c * 1000 + idx % 1000,
                    "recorded_at": ((t0 + idx // 1000) * 1_000_000 - pg_epoch).astype(np.int64),
                    "latitude": 48.0 + idx * 1e-5,
                    "longitude": np.full(per, 11.0),
                },
            )
        )
    db = connection.settings_dict
    conns = [
        psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"]) for _ in range(clients)
    ]

    def client(conn, payload):
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(
                "COPY telematics_position (device_id, recorded_at, latitude, longitude) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.write(payload)

    pattern = (f"postgres: {db['USER']} {db['NAME']} ",)
    before = cpu_ticks(pattern)
    threads = [threading.Thread(target=client, args=(conns[c], payloads[c])) for c in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(before, cpu_ticks(pattern))
    for conn in conns:
        conn.close()
    return elapsed, cpu, per * clients


def main() -> int:
    args = parse_args()
    setup_django()
    from apps.telematics.partitions import partitions_ensure
    from apps.telematics.positions.services import POSITIONS_TABLE

    load_before = uptime()
    devices = make_devices(args.devices)
    now = time.time()
    t0 = now - 5 * 86400  # inside the 7-day window, room for every position before now
    partitions_ensure(table=POSITIONS_TABLE, first=dt.date.fromtimestamp(t0), last=dt.date.today())
    bodies, clock = batch_bodies(devices, args.batches, args.batch, t0)
    per_batch = max(args.batch // args.devices, 1) * args.devices
    positions = args.batches * per_batch
    singles = []
    for i in range(args.singles):
        device, raw = devices[i % len(devices)]
        singles.append(
            urllib.parse.urlencode(
                {
                    "id": device.serial,
                    "key": raw,
                    "timestamp": int(t0 + (clock + i // len(devices) + 1) * 10),
                    "lat": 48.0 + i * 1e-5,
                    "lon": 11.0,
                    "speed": 20.0,
                }
            )
        )

    server = start_gunicorn(args.port, args.workers)
    try:
        post_all(args.port, bodies[:1], 1, send_batch)  # warm-up: connections, prepared device reads
        batch_s, _ = post_all(args.port, bodies[1:], args.clients, send_batch)
        batch_rate = per_batch * (args.batches - 1) / batch_s
        single_s, done = post_all(args.port, singles, args.clients, send_single)
        single_rate = done / single_s
    finally:
        server.terminate()
        server.wait(timeout=30)
    copy_s, copy_cpu, copied = raw_copy(positions, t0, args.clients)
    load_after = uptime()
    report(
        "Streamed positions",
        [
            (
                "command",
                f"bench/positions.py --devices {args.devices} --batches {args.batches} --batch {args.batch} "
                f"--singles {args.singles} --clients {args.clients} --workers {args.workers}",
            ),
            ("load before", load_before),
            (
                "batch endpoint",
                f"{batch_rate:,.0f} positions/s (target {TARGET_BATCH:,}; {batch_rate / TARGET_BATCH:.2f} of it)",
            ),
            (
                "single OsmAnd requests",
                f"{single_rate:,.0f} requests/s over keep-alive (target {TARGET_SINGLE:,}; "
                f"{single_rate / TARGET_SINGLE:.2f} of it)",
            ),
            ("raw COPY, same table", f"{copied / copy_s:,.0f} positions/s ({copy_cpu:.1f} s PostgreSQL CPU)"),
            ("batch / raw COPY", f"{batch_rate / (copied / copy_s):.2f}"),
            ("load after", load_after),
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
