"""Partner API benchmark: GET /api/v1/drivers/{id}/score/ for random drivers of one partner.

gunicorn serves the app on loopback from the bench database (the medium demo world); the load
comes from a second process (asyncio, HTTP/1.1 keep-alive). Two server runs: the score cache
off (PARTNER_API_CACHE_SECONDS=0), then on and warmed. In each, two 30 s phases:
  (a) open loop at a constant 200 requests/s: latency counted from the scheduled send time (so
      a slow server cannot hide queueing), p50/p95/p99 and errors;
  (b) closed loop with 16 clients: the highest requests/s and its p95.

    .venv/bin/python bench/api.py                      # the full run (about 2.5 minutes of load)
    .venv/bin/python bench/api.py --seconds 5          # a quick look

What the benchmark needs and does not find in the bench database it creates, and says so:
the medium world (`seed_demo --size medium`), a partner with policies, and scores of the
active model for that partner's drivers (bulk-inserted synthetic scores when risk has not
scored them)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from _common import ROOT, bench_database_url, report

TARGETS = {"uncached_p95_ms": 25.0, "cached_p95_ms": 10.0, "cached_closed_rps": 600.0}


# --- data -----------------------------------------------------------------------------------------


def prepare(notes: list[str], partner_slug: str) -> dict:
    from _common import setup_django

    setup_django()
    import datetime as dt

    from django.core.management import CommandError, call_command
    from django.db.models import Count, Q
    from django.utils import timezone

    from apps.customers.models import Customer
    from apps.partners.models import Partner
    from apps.partners.services import api_token_create
    from apps.pricing.models import Policy
    from apps.risk.models import RiskModel, RiskScore

    if Customer.objects.count() < 1000:
        notes.append("the bench database had no demo world: built it with `seed_demo --size medium`")
        try:
            call_command("seed_demo", size="medium")
        except CommandError as exc:  # an extension failed; the core world is there, say so and go on
            notes.append(f"seed_demo reported: {exc}")
    partner = Partner.objects.filter(slug=partner_slug).first()
    if partner is None:
        partner = (
            Partner.objects.annotate(n=Count("policies", filter=Q(policies__status="active"))).order_by("-n").first()
        )
    if partner is None or not Policy.objects.filter(partner=partner).exists():
        from apps.fleet.models import VehicleCategory
        from apps.pricing.services import QuoteRequest, policies_bind_bulk
        from apps.regions.models import Region

        partner = partner or Partner.objects.create(name="Bench Insurer", slug="bench-insurer")
        category = VehicleCategory.objects.order_by("code").first()
        region = Region.objects.order_by("code").first()
        ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:2000])
        policies_bind_bulk(
            partner=partner,
            requests=[
                QuoteRequest(
                    driver_id=i,
                    vehicle_category_id=category.pk,
                    region_id=region.pk,
                    kind="traditional",
                    partner_id=partner.pk,
                )
                for i in ids
            ],
        )
        notes.append(f"no partner with policies: bound {len(ids)} traditional policies for {partner.slug}")
    # The benchmark measures the API, not the limiter: a limit it cannot reach (the counter still
    # runs on every request).
    Partner.objects.filter(pk=partner.pk).update(requests_per_minute=10_000_000)
    driver_ids = sorted(set(Policy.objects.filter(partner=partner).values_list("driver_id", flat=True)))

    model = RiskModel.objects.filter(is_active=True).first()
    if model is None:
        model = RiskModel.objects.create(
            version="bench-synthetic",
            artifact_path="",
            training_data_hash="0" * 64,
            is_active=True,
            activated_at=timezone.now(),
            feature_names=["harsh_brake_per_100km", "night_share", "km"],
        )
        notes.append("no active risk model: created the synthetic model `bench-synthetic` (active)")
    scored = set(
        RiskScore.objects.filter(model=model, driver_id__in=driver_ids).values_list("driver_id", flat=True).distinct()
    )
    missing = [d for d in driver_ids if d not in scored]
    if missing:
        rng = random.Random(1)
        today = timezone.localdate()
        rows = []
        snapshot = {"harsh_brake_per_100km": 1.2, "night_share": 0.1, "km": 2400.0}
        for d in missing:
            rr = rng.lognormvariate(0, 0.45)
            contributions = {"harsh_brake_per_100km": rng.gauss(0, 0.3), "night_share": rng.gauss(0, 0.1), "km": 0.05}
            rows.append(
                RiskScore(
                    driver_id=d,
                    model=model,
                    as_of=today - dt.timedelta(days=1),
                    expected_claims_per_year=0.12 * rr,
                    relative_risk=rr,
                    safety_score=max(0, min(100, round(100 - 35 * rr))),
                    band="low" if rr < 0.8 else "mild" if rr < 1.1 else "medium" if rr < 1.5 else "high",
                    feature_values=[snapshot.get(name, 0.0) for name in model.feature_names],
                    contributions=contributions,
                    reasons=["Synthetic bench score"],
                )
            )
        RiskScore.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        notes.append(
            f"{len(missing)} of the partner's {len(driver_ids)} drivers had no score of the active model"
            f" `{model.version}`: bulk-inserted synthetic scores for them"
        )
    _token, raw_key = api_token_create(
        partner=partner, name=f"bench {time.strftime('%H%M%S')}", scopes=["drivers:read"]
    )
    return {"partner": partner.slug, "drivers": driver_ids, "key": raw_key, "model": model.version}


# --- server ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*, port: int, workers: int, threads: int, cache_seconds: int) -> subprocess.Popen:
    url, _cfg, _name = bench_database_url()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "fleetops.settings.base",
        "PARTNER_API_CACHE_SECONDS": str(cache_seconds),
        # "cache off" is every API cache off: token checks, visibility and scores all hit PostgreSQL.
        "PARTNER_API_TOKEN_CACHE_SECONDS": "10" if cache_seconds else "0",
        "LOG_LEVEL": "WARNING",
        "DJANGO_DEBUG": "0",
    }
    cmd = [
        str(ROOT / ".venv/bin/gunicorn"),
        "fleetops.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        "--backlog",
        "2048",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise RuntimeError("gunicorn did not come up")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# --- load (runs in its own process: `api.py --load ...`) ------------------------------------------


class Connection:
    def __init__(self, port: int, key: str):
        self.port, self.key = port, key
        self.reader = self.writer = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {self.key}\r\n"
            f"Accept: application/json\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _one(pool: list[Connection], port: int, key: str, path: str) -> int:
    conn = pool.pop() if pool else Connection(port, key)
    try:
        status = await conn.get(path)
    except Exception:
        conn.close()
        raise
    pool.append(conn)
    return status


async def open_loop(port: int, key: str, drivers: list[int], rate: float, seconds: float) -> dict:
    rng = random.Random(11)
    pool: list[Connection] = []
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    total = int(rate * seconds)

    async def fire(scheduled: float, path: str):
        nonlocal errors
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        try:
            status = await _one(pool, port, key, path)
            if status != 200:
                errors += 1
        except Exception:
            errors += 1
        latencies.append(loop.time() - scheduled)

    tasks = [
        asyncio.create_task(fire(start + i / rate, f"/api/v1/drivers/{rng.choice(drivers)}/score/"))
        for i in range(total)
    ]
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    for c in pool:
        c.close()
    return {"requests": total, "errors": errors, "elapsed": elapsed, "latencies": latencies, "connections": len(pool)}


async def closed_loop(port: int, key: str, drivers: list[int], clients: int, seconds: float) -> dict:
    rng = random.Random(12)
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0
    stop_at = loop.time() + seconds

    async def client():
        nonlocal errors
        conn = Connection(port, key)
        while loop.time() < stop_at:
            t0 = loop.time()
            try:
                if await conn.get(f"/api/v1/drivers/{rng.choice(drivers)}/score/") != 200:
                    errors += 1
            except Exception:
                errors += 1
                conn.close()
            latencies.append(loop.time() - t0)
        conn.close()

    t0 = loop.time()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = loop.time() - t0
    return {"requests": len(latencies), "errors": errors, "elapsed": elapsed, "latencies": latencies}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


def load_main(args) -> None:
    spec = json.loads(sys.stdin.read())
    drivers, key, port = spec["drivers"], spec["key"], spec["port"]

    async def run():
        out = {}
        if spec.get("warm_all"):  # the cached run starts with every driver's score in Redis
            pool: list[Connection] = []
            for d in drivers:
                await _one(pool, port, key, f"/api/v1/drivers/{d}/score/")
        await closed_loop(port, key, drivers, args.clients, 3)  # warm-up, not counted
        o = await open_loop(port, key, drivers, args.rate, args.seconds)
        out["open"] = {
            "requests": o["requests"],
            "errors": o["errors"],
            "achieved_rps": o["requests"] / o["elapsed"],
            "p50": pct(o["latencies"], 50),
            "p95": pct(o["latencies"], 95),
            "p99": pct(o["latencies"], 99),
            "max": max(o["latencies"]) * 1000,
            "connections": o["connections"],
        }
        c = await closed_loop(port, key, drivers, args.clients, args.seconds)
        out["closed"] = {
            "requests": c["requests"],
            "errors": c["errors"],
            "rps": c["requests"] / c["elapsed"],
            "p50": pct(c["latencies"], 50),
            "p95": pct(c["latencies"], 95),
            "p99": pct(c["latencies"], 99),
        }
        return out

    print(json.dumps(asyncio.run(run())))


# --- orchestration --------------------------------------------------------------------------------


def run_phase(*, label: str, data: dict, args, cache_seconds: int) -> dict:
    port = free_port()
    server = start_server(port=port, workers=args.workers, threads=args.threads, cache_seconds=cache_seconds)
    try:
        spec = {"drivers": data["drivers"], "key": data["key"], "port": port, "warm_all": cache_seconds > 0}
        cmd = [
            sys.executable,
            __file__,
            "--load",
            "--rate",
            str(args.rate),
            "--clients",
            str(args.clients),
            "--seconds",
            str(args.seconds),
        ]
        done = subprocess.run(cmd, input=json.dumps(spec), capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        stop_server(server)


def cpu_per_request(data: dict, n: int = 2000) -> dict[str, float]:
    """CPU time one request costs the serving process (Django's test client, in this process):
    a figure that, unlike latency, barely moves when other work shares the machine."""
    from django.core.cache import cache
    from django.test import Client
    from django.test.utils import override_settings

    from apps.partners.selectors import _cache_key

    client = Client(HTTP_AUTHORIZATION=f"Token {data['key']}")
    drivers = data["drivers"]
    out = {}
    for label, score_ttl, token_ttl in (("cache off", 0, 0), ("cache warm", 300, 10)):
        with override_settings(PARTNER_API_CACHE_SECONDS=score_ttl, PARTNER_API_TOKEN_CACHE_SECONDS=token_ttl):
            cache.delete_many([_cache_key("score", d) for d in drivers])
            for d in drivers:  # warm-up (and, with the cache on, fill it)
                assert client.get(f"/api/v1/drivers/{d}/score/").status_code == 200
            started = time.process_time()
            for i in range(n):
                client.get(f"/api/v1/drivers/{drivers[i % len(drivers)]}/score/")
            out[label] = (time.process_time() - started) / n * 1000
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_API_WORKERS", 3)))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_API_THREADS", 4)))
    parser.add_argument("--partner", default="aurora")
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()
    if args.load:
        load_main(args)
        return 0

    notes: list[str] = []
    data = prepare(notes, args.partner)
    print(f"partner {data['partner']}: {len(data['drivers'])} drivers, model {data['model']}")
    for note in notes:
        print(f"  note: {note}")
    results = {}
    for label, cache_seconds in (("cache off", 0), ("cache warm", 300)):
        results[label] = run_phase(label=label, data=data, args=args, cache_seconds=cache_seconds)
        o, c = results[label]["open"], results[label]["closed"]
        report(
            f"GET /api/v1/drivers/{{id}}/score/ — {label} — gunicorn {args.workers} workers x {args.threads} threads",
            [
                (
                    f"open loop {args.rate:.0f} req/s, {args.seconds:.0f} s",
                    f"p50 {o['p50']:.1f} ms  p95 {o['p95']:.1f} ms  p99 {o['p99']:.1f} ms  max {o['max']:.0f} ms  "
                    f"errors {o['errors']}/{o['requests']}  (achieved {o['achieved_rps']:.0f} req/s)",
                ),
                (
                    f"closed loop {args.clients} clients, {args.seconds:.0f} s",
                    f"{c['rps']:.0f} req/s  p50 {c['p50']:.1f} ms  p95 {c['p95']:.1f} ms  p99 {c['p99']:.1f} ms  "
                    f"errors {c['errors']}/{c['requests']}",
                ),
            ],
        )
    cpu = cpu_per_request(data)
    report(
        "CPU per request in the serving process (in-process client, 2,000 requests)",
        [(label, f"{ms:.2f} ms of CPU (= {1000 / ms:.0f} req/s per core)") for label, ms in cpu.items()],
    )
    off, warm = results["cache off"], results["cache warm"]
    checks = [
        ("p95 at 200 req/s, cache off", off["open"]["p95"], "<", TARGETS["uncached_p95_ms"]),
        ("p95 at 200 req/s, cache warm", warm["open"]["p95"], "<", TARGETS["cached_p95_ms"]),
        ("req/s with 16 clients, cache warm", warm["closed"]["rps"], ">=", TARGETS["cached_closed_rps"]),
        ("errors (all phases)", sum(r[p]["errors"] for r in results.values() for p in ("open", "closed")), "==", 0),
    ]
    rows = []
    for name, value, op, target in checks:
        ok = value < target if op == "<" else value >= target if op == ">=" else value == target
        rows.append((name, f"{value:.1f} (target {op} {target}) {'met' if ok else 'MISSED'}"))
    report("targets", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
