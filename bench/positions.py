"""Streamed positions benchmark: the gateway batch endpoint (positions/s) and single OsmAnd
requests over keep-alive (requests/s), side by side with a raw COPY of the same positions into
the same table (the ceiling: no HTTP, parsing, cleaning or consent check).

Single requests are measured four ways: buffered through the positions receiver (the headline:
the Procfile's `positions` line, uvicorn running fleetops.asgi), buffered through the web process
(the Procfile's gunicorn: 2 gthread workers of 16 threads, its config file), both answered once
appended to the Redis stream with the Procfile's positions flusher storing it in batches and a
Celery worker running the trip detection the flushes queue — each until every position is stored
and trip detection has covered all of them, the server CPU counted over all of it; stored by
each request (TELEMATICS_POSITION_BUFFER=0); and the floor: Django + gunicorn on `/healthz`, a
view that does nothing. The clients are separate processes on raw keep-alive sockets, so the
Python client costs little of the two cores.

    .venv/bin/python bench/positions.py [--devices 500] [--batches 40] [--batch 5000]
                                        [--singles 4000] [--clients 4] [--workers 2] [--threads 16]

Targets (issue 19): 20,000 positions/s through the batch endpoint, 2,000 single requests/s.
Runs on its own database (fleetops_bench_positions unless FLEETOPS_BENCH_DB is set), with
Celery messages and cache keys on Redis database 15. Prints `uptime` before and after: the
machine is shared, so the load average belongs next to every figure."""

import argparse
import datetime as dt
import http.client
import multiprocessing
import os
import queue
import resource
import socket
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

os.environ.setdefault("FLEETOPS_BENCH_DB", "fleetops_bench_positions")
_REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:56379/0").rsplit("/", 1)[0] + "/15"
os.environ["REDIS_URL"] = _REDIS
os.environ["CELERY_BROKER_URL"] = _REDIS
os.environ["CELERY_RESULT_BACKEND"] = _REDIS
os.environ["CACHE_KEY_PREFIX"] = "fleetops-bench-positions"

from _common import ROOT, report, setup_django  # noqa: E402
from telematics import cpu_seconds, cpu_ticks, start_gunicorn, wait_healthy  # noqa: E402

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
    parser.add_argument("--threads", type=int, default=16, help="gthread threads per worker (0: sync workers)")
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
        # The bench database only: trips cut from earlier runs hold the devices.
        cursor.execute("TRUNCATE telematics_position, telematics_positioncursor, telematics_trip CASCADE")
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


def _raw_client(port: int, requests: list[bytes], start, results) -> None:
    """One keep-alive connection sending its requests one after the other (reconnecting only
    when the server closes); puts (answers 200, first failures) on `results`."""
    sock = None
    ok, bad = 0, []
    start.wait()
    for request in requests:
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = sock.makefile("rb")
        sock.sendall(request)
        status = int(reader.readline().split()[1])
        length, close = 0, False
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"connection" and value.strip().lower() == b"close":
                close = True
        body = reader.read(length)
        if status == 200:
            ok += 1
        elif len(bad) < 3:
            bad.append((status, body[:200]))
        if close:
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
    results.put((ok, bad))


def raw_requests(port: int, requests: list[bytes], clients: int) -> tuple[float, int]:
    """The requests over `clients` processes (fork), each on its own keep-alive connection."""
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_raw_client, args=(port, requests[c::clients], start, results)) for c in range(clients)]
    for p in procs:
        p.start()
    time.sleep(0.3)
    began = time.perf_counter()
    start.set()
    outcomes = [results.get() for _ in procs]
    elapsed = time.perf_counter() - began
    for p in procs:
        p.join()
    failures = [b for _, bad in outcomes for b in bad]
    if failures:
        raise SystemExit(f"{len(failures)}+ requests failed, first: {failures[0]}")
    return elapsed, sum(ok for ok, _ in outcomes)


def cpu_of(port: int, fn, trees: dict | None = None):
    """Runs fn() and returns (its result, CPU seconds by process group): the gunicorn workers,
    PostgreSQL backends of the bench database, Redis, the flushing Celery worker, the clients."""
    from django.db import connection

    redis_port = os.environ["REDIS_URL"].rsplit(":", 1)[1].split("/")[0]
    groups = {
        "gunicorn": (f"127.0.0.1:{port}",),
        "postgres": (f"postgres: {connection.settings_dict['USER']} {connection.settings_dict['NAME']} ",),
        "redis": (f"redis-server 127.0.0.1:{redis_port}",),
        "flusher": ("manage.py positions_flusher",),
        "worker": ("bench-positions-worker@",),
    }
    trees = trees or {}
    before = {name: cpu_ticks(patterns) for name, patterns in groups.items()}
    before |= {name: tree_ticks(pid) for name, pid in trees.items()}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = fn()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {name: cpu_seconds(before[name], cpu_ticks(patterns)) for name, patterns in groups.items()}
    cpu |= {name: cpu_seconds(before[name], tree_ticks(pid)) for name, pid in trees.items()}
    cpu["clients"] = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    return result, cpu


def cpu_text(cpu: dict, requests: int) -> str:
    """CPU per request by process group, and what two otherwise idle cores would answer."""
    server = sum(v for k, v in cpu.items() if k != "clients")
    parts = ", ".join(f"{k} {v / requests * 1e6:,.0f}" for k, v in cpu.items() if v)
    per = server / requests * 1e6
    return f"CPU µs/request: {parts}; server side {per:,.0f} µs = {2e6 / per:,.0f}/s on 2 idle cores"


def get_request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def start_flusher() -> list[subprocess.Popen]:
    """The positions flusher and a Celery worker as the Procfile runs them: the flusher stores
    the buffer, the worker runs the trip detection its flushes queue."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="fleetops.settings.base", DJANGO_DEBUG="0")
    flusher = [str(ROOT / ".venv/bin/python"), "manage.py", "positions_flusher"]
    worker = [
        str(ROOT / ".venv/bin/celery"), "-A", "fleetops", "worker", "-l", "warning", "-Q", "celery",
        "-n", "bench-positions-worker@%h", "--concurrency", "1",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    return [
        subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for cmd in (flusher, worker)
    ]


def position_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM telematics_position")
        return cursor.fetchone()[0]


def send_batch(conn, body):
    conn.request("POST", "/api/v1/telematics/positions", body=body, headers={"Content-Type": "application/json"})
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


def singles_for(devices, n: int, t0: float, clock: int, round_: int) -> list[bytes]:
    """`n` OsmAnd GET requests as the classic Traccar Client sends them, at instants no earlier
    round used (round_ shifts them)."""
    out = []
    for i in range(n):
        device, raw = devices[i % len(devices)]
        query = urllib.parse.urlencode(
            {
                "id": device.serial,
                "key": raw,
                "timestamp": int(t0 + (clock + round_ * (n // len(devices) + 2) + i // len(devices) + 1) * 10),
                "lat": 48.0 + i * 1e-5,
                "lon": 11.0,
                "speed": 20.0,
            }
        )
        out.append(get_request("/api/v1/telematics/osmand?" + query))
    return out


def start_receiver(port: int, env: dict | None = None) -> subprocess.Popen:
    """The positions receiver exactly as the Procfile's `positions` line starts it."""
    line = next(x for x in (ROOT / "Procfile").read_text().splitlines() if x.startswith("positions:"))
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="fleetops.settings.base",
        DJANGO_DEBUG="0",
        DATABASE_CONN_MAX_AGE="3600",
        POSITIONS_PORT=str(port),
        **(env or {}),
    )
    proc = subprocess.Popen(
        ["bash", "-c", "exec " + line.partition(":")[2].strip()],
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return wait_healthy(proc, port, "the positions receiver")


def tree_ticks(root: int) -> dict[int, int]:
    """utime + stime (clock ticks) of a process and all its descendants (uvicorn's workers are
    spawned processes whose command lines name neither the port nor the application)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, (ppid, _) in stats.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    return {pid: stats[pid][1] for pid in tree if pid in stats}


def dirty_devices() -> int:
    from apps.telematics.models import PositionCursor

    return PositionCursor.objects.filter(dirty_from__isnull=False).count()


def buffered_run(port: int, devices, args, t0: float, clock: int, round_: int, groups: dict) -> dict:
    """Single OsmAnd requests answered from the buffer: the answer rate, when all were stored and
    when trip detection had covered them all, and the server CPU of the whole (detection included)."""
    warm = args.devices
    singles = singles_for(devices, args.singles + warm, t0, clock, round_)
    before = position_count()
    raw_requests(port, singles[:warm], args.clients)
    deadline = time.perf_counter() + 60
    while (position_count() < before + warm or dirty_devices()) and time.perf_counter() < deadline:
        time.sleep(0.05)
    before = position_count()
    began = time.perf_counter()

    def send_drain_detect():
        sent = raw_requests(port, singles[warm:], args.clients)
        while position_count() < before + sent[1] and time.perf_counter() - began < 300:
            time.sleep(0.05)
        drained = time.perf_counter() - began
        while dirty_devices() and time.perf_counter() - began < 300:
            time.sleep(0.05)
        return sent, drained, time.perf_counter() - began

    ((answered_s, done), drained_s, detected_s), cpu = cpu_of(port, send_drain_detect, groups)
    return {
        "rate": done / answered_s,
        "done": done,
        "stored": position_count() - before,
        "drained_s": drained_s,
        "detected_s": detected_s,
        "cpu": cpu,
    }


def buffered_rows(run: dict, label: str) -> list[tuple[str, str]]:
    return [
        (
            label,
            f"{run['rate']:,.0f} requests/s answered over keep-alive (target {TARGET_SINGLE:,}; "
            f"{run['rate'] / TARGET_SINGLE:.2f} of it); {run['stored']:,} of {run['done']:,} stored "
            f"{run['drained_s']:.1f} s after the first was sent, trips detected over all of them after "
            f"{run['detected_s']:.1f} s",
        ),
        ("  (CPU until detected)", cpu_text(run["cpu"], run["done"])),
    ]


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
    warm = args.devices  # one request per device first: connections, remembered devices
    rows = []

    server = start_gunicorn(args.port, args.workers, threads=args.threads)
    try:
        post_all(args.port, bodies[:1], 1, send_batch)  # warm-up: connections, prepared device reads
        batch_s, _ = post_all(args.port, bodies[1:], args.clients, send_batch)
        batch_rate = per_batch * (args.batches - 1) / batch_s
        floor = [get_request("/healthz")] * args.singles
        raw_requests(args.port, floor[:warm], args.clients)
        (floor_s, done), floor_cpu = cpu_of(args.port, lambda: raw_requests(args.port, floor, args.clients))
        floor_rate = done / floor_s
        floor_done = done
    finally:
        server.terminate()
        server.wait(timeout=30)

    # Each request stores its position (the path before the buffer).
    server = start_gunicorn(args.port, args.workers, threads=args.threads, env={"TELEMATICS_POSITION_BUFFER": "0"})
    try:
        singles = singles_for(devices, args.singles + warm, t0, clock, 0)
        raw_requests(args.port, singles[:warm], args.clients)
        (direct_s, done), direct_cpu = cpu_of(args.port, lambda: raw_requests(args.port, singles[warm:], args.clients))
        direct_rate = done / direct_s
        direct_done = done
    finally:
        server.terminate()
        server.wait(timeout=30)

    # Buffered: answered from Redis, the flusher storing, a Celery worker detecting trips; first
    # through the web process (gunicorn), then through the positions receiver (uvicorn), each
    # as the Procfile runs it.
    buffered = {}
    for round_, name in ((1, "web"), (2, "receiver"), (3, "checked")):
        flushers = start_flusher()
        if name == "web":
            server = start_gunicorn(args.port, args.workers, threads=args.threads)
            port, groups = args.port, {}
        else:
            # "checked": no device memory, so every request is checked in the database, as every
            # request of a tracker reporting less often than DEVICE_MEMORY_SECONDS is.
            memory = {"TELEMATICS_DEVICE_MEMORY_SECONDS": "0"} if name == "checked" else {}
            server = start_receiver(args.port + 1, env=memory)
            port, groups = args.port + 1, {"receiver": server.pid}
        try:
            buffered[name] = buffered_run(port, devices, args, t0, clock, round_, groups)
        finally:
            server.terminate()
            for proc in flushers:
                proc.terminate()
            server.wait(timeout=30)
            for proc in flushers:
                proc.wait(timeout=30)
    copy_s, copy_cpu, copied = raw_copy(positions, t0, args.clients)
    load_after = uptime()
    gunicorn = (
        f"{args.workers} gthread workers x {args.threads} threads, fleetops/gunicorn_conf.py (access log)"
        if args.threads
        else f"{args.workers} sync workers"
    )
    rows = [
        (
            "command",
            f"bench/positions.py --devices {args.devices} --batches {args.batches} --batch {args.batch} "
            f"--singles {args.singles} --clients {args.clients} --workers {args.workers} --threads {args.threads}",
        ),
        ("gunicorn", gunicorn),
        ("load before", load_before),
        (
            "batch endpoint",
            f"{batch_rate:,.0f} positions/s (target {TARGET_BATCH:,}; {batch_rate / TARGET_BATCH:.2f} of it)",
        ),
        *buffered_rows(buffered["receiver"], "single OsmAnd, positions receiver (Procfile `positions`)"),
        *buffered_rows(buffered["web"], "single OsmAnd, web process (Procfile `web`)"),
        *buffered_rows(buffered["checked"], "single OsmAnd, receiver, each checked in the database"),
        ("single OsmAnd, each stored", f"{direct_rate:,.0f} requests/s"),
        ("  (each stored)", cpu_text(direct_cpu, direct_done)),
        ("floor: /healthz (empty view)", f"{floor_rate:,.0f} requests/s: Django + gunicorn alone"),
        ("  (floor)", cpu_text(floor_cpu, floor_done)),
        ("raw COPY, same table", f"{copied / copy_s:,.0f} positions/s ({copy_cpu:.1f} s PostgreSQL CPU)"),
        ("batch / raw COPY", f"{batch_rate / (copied / copy_s):.2f}"),
        ("load after", load_after),
    ]
    report("Streamed positions", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
