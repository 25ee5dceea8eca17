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
