"""Shared set-up for the benchmarks: a database of their own (`fleetops_bench` by default, so the
demo world is untouched), migrated, with Django configured. Usage at the top of a bench script:

    from _common import setup_django, report
    setup_django()
"""

import os
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bench_database_url() -> str:
    import environ

    base = os.environ.get("DATABASE_URL", "postgres://fleetops@127.0.0.1:55432/fleetops")
    name = os.environ.get("FLEETOPS_BENCH_DB", "fleetops_bench")
    cfg = environ.Env.db_url_config(base)
    auth = cfg["USER"] + (f":{cfg['PASSWORD']}" if cfg.get("PASSWORD") else "")
    return f"postgres://{auth}@{cfg['HOST']}:{cfg['PORT'] or 5432}/{name}", cfg, name


def admin_connection():
    """An autocommit connection to the server's `postgres` database, for creating and dropping
    the benchmarks' own databases."""
    import psycopg

    _, cfg, _ = bench_database_url()
    return psycopg.connect(
        host=cfg["HOST"],
        port=cfg["PORT"] or 5432,
        user=cfg["USER"],
        password=cfg.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )


def setup_django(migrate: bool = True) -> None:
    url, _, name = bench_database_url()
    admin = admin_connection()
    if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetops.settings.base")
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_children_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


@contextmanager
def timed(label: str, results: dict):
    start = time.perf_counter()
    yield
    results[label] = time.perf_counter() - start


def report(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    print(f"\n== {title}")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


def page_times(
    client_for, paths, *, repeat: int, target_ms: float, before_cold=None
) -> tuple[list[tuple[str, str]], list[str]]:
    """Each page through Django's test client (`client_for(path)` says whose): once to warm up, then
    `repeat` times; rows of status, median and max server time and queries, and the pages whose
    median is over `target_ms`. Counts queries with DEBUG on, as the caller's settings allow. With
    `before_cold` (called with the path first, e.g. to empty caches) the first request is timed
    too, as the page's cold time."""
    import statistics

    from django.conf import settings
    from django.db import connection, reset_queries

    debug, settings.DEBUG = settings.DEBUG, True
    rows, slow = [], []
    try:
        for path in paths:
            client = client_for(path)
            if before_cold:
                before_cold(path)
            reset_queries()
            start = time.perf_counter()
            client.get(path)
            cold = f"cold {(time.perf_counter() - start) * 1000:6.0f} ms {len(connection.queries):2d} queries  "
            if before_cold and (time.perf_counter() - start) * 1000 > target_ms:
                slow.append(f"{path} (cold)")
            times = []
            for _ in range(repeat):
                reset_queries()
                start = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - start) * 1000)
            median = statistics.median(times)
            if median > target_ms:
                slow.append(path)
            rows.append(
                (
                    path,
                    f"{response.status_code}  {cold if before_cold else ''}median {median:6.0f} ms"
                    f"  max {max(times):6.0f} ms"
                    f"  {len(connection.queries):2d} queries",
                )
            )
    finally:
        settings.DEBUG = debug
    return rows, slow


def pages_bench_arguments():
    """The page benchmarks' options: --repeat, --no-seed (time the database as it is)."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-seed", action="store_true", help="time the database as it is")
    return parser


def medium_world(*, no_seed: bool) -> list[str]:
    """Builds the medium demo world in the bench database when it has none (unless no_seed);
    returns the note the report prints about it."""
    from django.core.management import call_command

    from apps.fleet.models import Vehicle

    if no_seed or Vehicle.objects.count() >= 1000:
        return []
    call_command("seed_demo", size="medium")
    return ["the bench database had no medium world: built it with `seed_demo --size medium`"]


# The child: load the app as gunicorn's worker does, then time one first request.
FIRST_REQUEST = """
import json, os, sys, time
sys.path.insert(0, {root!r})
os.environ["DATABASE_URL"] = {url!r}
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetops.settings.base")
started = time.perf_counter()
if {warm!r}:
    import fleetops.wsgi  # noqa: F401 - the web process's start, warm-up included
else:
    from django.core.wsgi import get_wsgi_application
    get_wsgi_application()
loaded = time.perf_counter()
from django.test import Client
from apps.accounts.models import User
client = Client()
if {path!r} != "/portal/login/":
    client.force_login(User.objects.filter(**{user!r}).order_by("pk").first())
begin = time.perf_counter()
status = client.get({path!r}).status_code
print(json.dumps({{"start_ms": (loaded - started) * 1000, "first_ms": (time.perf_counter() - begin) * 1000,
                  "status": status}}))
"""


def first_request(path: str, *, user: dict, warm: bool = True) -> dict:
    """The first request of a fresh process that loads the application as a gunicorn worker does
    (with fleetops.wsgi's warm-up unless warm=False), signed in as the first user matching `user`:
    {"start_ms", "first_ms", "status"}."""
    import json
    import subprocess

    url, _, _ = bench_database_url()
    code = FIRST_REQUEST.format(root=str(ROOT), url=url, path=path, warm=warm, user=user)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])
