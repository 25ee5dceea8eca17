"""Payments ELT benchmark (issue 3).

Generates a delivery of N transactions (default 5,000,000) with its users, cards, MCC list and
labels, then measures on this machine, in one run:

  end to end   manage.py ingest_payments in a child process (staging -> typed, partitioned,
               indexed -> enriched_transactions refreshed), rows/s per phase and overall, and
               the loader's peak RSS;
  baseline a   raw COPY of the same transactions file into an UNLOGGED all-text table (the
               ceiling);
  baseline b   a 200,000-row slice the way a typical pandas pipeline loads it: read_csv, clean
               the columns in pandas, DataFrame.to_sql through SQLAlchemy + psycopg with the
               default method and chunksize=10_000;
  columnar     the columnar path of issue 20 (a prototype, not the run's engine yet), in a child
               process, after the end-to-end run has loaded the references: pyarrow reads and
               checks the transactions file, Arrow types it, customers/cards/MCCs are checked
               against in-memory id sets, labels looked up on the batch, rows binary-COPYed into
               fresh month tables, then the payment indexes built on them (no foreign keys: the
               references were checked in memory; no attach and no view refresh).

Usage: python bench/ingest_payments.py [--rows 5000000] [--pandas-rows 200000] [--workdir DIR]
Runs on its own database (fleetops_bench_payments), which it empties first.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("FLEETOPS_BENCH_DB", "fleetops_bench_payments")
from _common import ROOT, peak_rss_mb, report, setup_django

BLOCK = 4 << 20
TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a local process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


class BackendCpu(threading.Thread):
    """Samples the CPU time of the ingest's PostgreSQL backends (application_name fleetops-ingest)
    from /proc every 0.1 s while the loader runs; a backend's last sample counts (a connection
    closed between two samples loses at most 0.1 s). Needs the server on this machine."""

    def __init__(self):
        super().__init__(daemon=True)
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg
        from django.db import connection

        s = connection.settings_dict
        with psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"], autocommit=True) as c:
            while not self.stop.wait(0.1):
                pids = c.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'fleetops-ingest' "
                    "OR leader_pid IN (SELECT pid FROM pg_stat_activity WHERE application_name = 'fleetops-ingest')"
                ).fetchall()
                for (pid,) in pids:
                    cpu = _proc_cpu(pid)
                    if cpu is not None:
                        self.seen[pid] = cpu

    def total(self) -> float:
        return sum(self.seen.values())


def reset_database() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'transactions_payment'::regclass"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TABLE "{name}"')
        # The bench database is this script's own: empty what the pipeline writes.
        cursor.execute(
            "TRUNCATE transactions_rejectedrow, transactions_ingestrun, customers_paymentcard, "
            "customers_customer RESTART IDENTITY CASCADE"
        )
        cursor.execute("DELETE FROM transactions_merchantcategory WHERE source = 'file'")
        cursor.execute("DROP TABLE IF EXISTS bench_raw_copy, bench_pandas_payments")
        # Staging left by an interrupted run (its IngestRun is gone with the TRUNCATE above, so
        # no later run would recover it, and run ids restart at 1).
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'ingest_staging'::regnamespace "
            "AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TABLE IF EXISTS ingest_staging."{name}" CASCADE')
        cursor.execute("REFRESH MATERIALIZED VIEW enriched_transactions")
        cursor.execute("CHECKPOINT")


def copyable_lines(source: Path, target: Path) -> int:
    """The transactions file without the lines a plain CSV COPY refuses (wrong column count,
    broken quoting, invalid UTF-8): the raw baseline then copies every other row of the same file.
    Not timed."""
    from apps.transactions.ingest.layout import TRANSACTION_COLUMNS
    from apps.transactions.ingest.readers import BlockCleaner

    cleaner = BlockCleaner(ncols=len(TRANSACTION_COLUMNS), marker="#drop", on_reject=lambda r: None)
    with open(source, "rb") as src, open(target, "wb") as dst:
        dst.write(src.readline())
        carry = b""
        while chunk := src.read(BLOCK):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            dst.write(cleaner.clean(data[:cut]).replace(cleaner.placeholder, b""))
    return cleaner.rejected


def raw_copy(path: Path) -> tuple[int, float]:
    import psycopg
    from django.db import connection

    s = connection.settings_dict
    with psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"], autocommit=True) as conn:
        columns = ", ".join(f'"{c}" text' for c in _columns())
        started = time.perf_counter()
        with conn.transaction():
            conn.execute(f"CREATE UNLOGGED TABLE bench_raw_copy ({columns})")
            with conn.cursor() as cur:
                with open(path, "rb") as fh, cur.copy("COPY bench_raw_copy FROM STDIN WITH (FORMAT csv, HEADER)") as cp:
                    while block := fh.read(BLOCK):
                        cp.write(block)
                rows = cur.rowcount
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_raw_copy")
    return rows, seconds


def _columns():
    from apps.transactions.ingest.layout import TRANSACTION_COLUMNS

    return TRANSACTION_COLUMNS


def pandas_pipeline(path: Path, rows: int) -> tuple[int, float]:
    import pandas as pd
    from django.db import connection
    from sqlalchemy import create_engine

    s = connection.settings_dict
    engine = create_engine(f"postgresql+psycopg://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}")
    started = time.perf_counter()
    df = pd.read_csv(path, nrows=rows, dtype=str, keep_default_na=False, on_bad_lines="skip", encoding_errors="replace")
    df["amount"] = pd.to_numeric(df["amount"].str.replace("$", "", regex=False), errors="coerce")
    df["paid_at"] = pd.to_datetime(df["date"], format="%Y-%m-%d %H:%M:%S", errors="coerce", utc=True)
    for column in ("id", "client_id", "card_id", "merchant_id"):
        df[column] = pd.to_numeric(df[column], errors="coerce")
    df["method"] = df["use_chip"].map(
        {"Swipe Transaction": "swipe", "Chip Transaction": "chip", "Online Transaction": "online"}
    )
    df["merchant_zip"] = df["zip"].str.split(".").str[0].str.zfill(5).where(df["zip"] != "", "")
    df["errors"] = df["errors"].str.split(",")
    df = df.dropna(subset=["id", "paid_at", "amount", "client_id", "card_id", "merchant_id", "method"])
    df = df.drop_duplicates(subset=["id"])
    df = df.drop(columns=["date", "use_chip", "zip"])
    df["errors"] = df["errors"].map(lambda e: ",".join(x for x in e if x))
    df.to_sql("bench_pandas_payments", engine, if_exists="replace", index=False, chunksize=10_000)
    seconds = time.perf_counter() - started
    engine.dispose()
    return len(df), seconds  # to_sql's own count is -1 per chunk with psycopg's executemany


def refresh_concurrently_full() -> float:
    from apps.transactions.ingest.context import connect

    conn = connect()
    try:
        conn.execute("SET temp_buffers = '512MB'")
        conn.execute("SET work_mem = '256MB'")
        started = time.perf_counter()
        conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY enriched_transactions")
        return time.perf_counter() - started
    finally:
        conn.close()


def columnar_child(delivery: Path) -> None:
    """Runs the columnar path once (see the module docstring) and prints its figures as JSON."""
    from psycopg import sql

    from apps.transactions.ingest import columnar_copy
    from apps.transactions.ingest.columnar_load import Labels, References
    from apps.transactions.ingest.context import connect
    from apps.transactions.models import IngestRun

    run_id = IngestRun.objects.latest("id").pk
    timings: dict[str, float] = {}
    rejected: list = []
    started = time.perf_counter()
    conn = connect()
    created: list[str] = []

    def table_for(month: int) -> sql.Identifier:
        name = f"bench_columnar_{month // 12}_{month % 12 + 1:02d}"
        if name not in created:
            conn.execute(
                sql.SQL("CREATE TABLE {} (LIKE transactions_payment INCLUDING DEFAULTS)").format(sql.Identifier(name))
            )
            created.append(name)
        return sql.Identifier(name)

    try:
        step = time.perf_counter()
        refs = References.load(conn)
        labels = Labels.read(delivery / "train_fraud_labels.json", marker="#bench", on_reject=rejected.append)
        timings["references_and_labels"] = time.perf_counter() - step
        with conn.transaction():
            result = columnar_copy.load(
                conn, delivery / "transactions_data.csv", marker="#bench", refs=refs, labels=labels, run_id=run_id,
                on_reject=rejected.append, table_for=table_for, timings=timings,
            )  # fmt: skip
        step = time.perf_counter()
        # The payment indexes, month tables split between two connections built in parallel.
        halves = [created[0::2], created[1::2]]
        workers = [threading.Thread(target=_build_indexes, args=(half,)) for half in halves if half]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        timings["indexes (2 connections)"] = time.perf_counter() - step
        load_seconds = time.perf_counter() - started
    finally:
        for name in created:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
        conn.close()
    print(
        json.dumps(
            {
                "rows": result["rows"], "loaded": result["loaded"], "rejected": len(rejected),
                "load_s": load_seconds, "timings": timings, "peak_rss_mb": peak_rss_mb(),
            }
        )
    )  # fmt: skip


def _build_indexes(names: list[str]) -> None:
    from psycopg import sql

    from apps.transactions.ingest.context import connect

    conn = connect()
    try:
        for name in names:
            t = sql.Identifier(name)
            conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (id, paid_at)").format(t))
            for columns in ("customer_id, paid_at", "card_id, paid_at", "mcc"):
                conn.execute(sql.SQL("CREATE INDEX ON {} ({})").format(t, sql.SQL(columns)))
    finally:
        conn.close()


def columnar_run(delivery: Path) -> dict:
    sampler = BackendCpu()
    sampler.start()
    before = os.getloadavg()
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, __file__, "--columnar-child", str(delivery)], cwd=ROOT, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    if child.returncode != 0:
        print(child.stdout, child.stderr)
        raise SystemExit("the columnar path failed")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    return result | {
        "wall_s": wall,
        "backend_cpu_s": sampler.total(),
        "load_before": before,
        "load_after": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--pandas-rows", type=int, default=200_000)
    parser.add_argument("--workdir", default=str(ROOT / "var" / "bench" / "payments"))
    parser.add_argument("--reuse-files", action="store_true", help="Keep an existing delivery of the same size.")
    parser.add_argument("--skip-concurrent-check", action="store_true")
    parser.add_argument("--columnar-child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    setup_django(migrate=not args.columnar_child)
    if args.columnar_child:
        columnar_child(Path(args.columnar_child))
        return
    from apps.demo.payments.generator import payment_files_generate
    from apps.transactions.models import IngestRun

    workdir = Path(args.workdir)
    delivery = workdir / f"delivery_{args.rows}"
    stamp = delivery / ".generated"
    started = time.perf_counter()
    if not (args.reuse_files and stamp.exists()):
        generated = payment_files_generate(transactions=args.rows, out=delivery, dirty_share=0.001, seed=2026)
        stamp.write_text(json.dumps({"dirty": generated.dirty, "labels": generated.labels}))
    generate_seconds = time.perf_counter() - started
    tx_file = delivery / "transactions_data.csv"
    size_mb = tx_file.stat().st_size / 2**20

    reset_database()
    copyable = workdir / "transactions_copyable.csv"
    dropped = copyable_lines(tx_file, copyable)
    raw_rows, raw_seconds = raw_copy(copyable)
    copyable.unlink()

    reset_database()
    env = os.environ.copy()
    sampler = BackendCpu()
    sampler.start()
    load_before = os.getloadavg()
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "ingest_payments", str(delivery), "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    load_after = os.getloadavg()
    sampler.stop.set()
    sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    loader_rss = usage.ru_maxrss / 1024
    client_cpu = usage.ru_utime + usage.ru_stime
    if child.returncode != 0:
        print(child.stdout, child.stderr)
        raise SystemExit("the ingest failed")
    run = IngestRun.objects.latest("id")
    t = run.timings
    refresh_seconds = t.get("refresh_view", 0.0)
    total = t["total"]
    load_seconds = total - refresh_seconds
    tx_read = next(s["rows_read"] for s in run.sources if s["kind"] == "transactions")

    columnar = columnar_run(delivery)
    concurrent = None if args.skip_concurrent_check else refresh_concurrently_full()
    pandas_rows, pandas_seconds = pandas_pipeline(tx_file, args.pandas_rows)

    raw_rate = raw_rows / raw_seconds
    load_rate = tx_read / load_seconds
    e2e_rate = tx_read / total
    pandas_rate = pandas_rows / pandas_seconds
    phases = [
        ("copy transactions (staging, overlapped)", t.get("copy:transactions")),
        ("copy labels (staging, overlapped)", t.get("copy:labels")),
        ("transform transactions (typed + partitions)", t.get("transform:transactions")),
        ("  of which attach (index build + FK check)", t.get("transactions:attach")),
        ("prepare + apply labels", (t.get("transform:labels") or 0) + (t.get("transform:labels_apply") or 0)),
        ("refresh enriched_transactions", refresh_seconds),
    ]
    rows = [
        ("machine load (1/5/15 min)", " / ".join(f"{x:.2f}" for x in os.getloadavg())),
        ("transactions file", f"{tx_read:,} rows, {size_mb:,.0f} MiB, {dropped} malformed lines"),
        ("generate delivery", f"{generate_seconds:.1f} s ({args.rows / max(generate_seconds, 1e-9):,.0f} rows/s)"),
        ("(a) raw COPY, all-text UNLOGGED", f"{raw_rows:,} rows in {raw_seconds:.1f} s = {raw_rate:,.0f} rows/s"),
    ]
    for name, seconds in phases:
        if seconds:
            rows.append((name, f"{seconds:.1f} s ({tx_read / seconds:,.0f} rows/s)"))
    rows += [
        ("refresh mode", t.get("refresh_view_mode", "?")),
        ("load: files -> typed rows", f"{load_seconds:.1f} s = {load_rate:,.0f} rows/s"),
        ("end to end (view included)", f"{total:.1f} s = {e2e_rate:,.0f} rows/s (child wall {wall:.1f} s)"),
        (
            "run counts",
            f"read {run.rows_read:,} = loaded {run.rows_loaded:,} + rejected {run.rows_rejected:,} "
            f"+ duplicate {run.rows_duplicate:,}",
        ),
        (
            "(b) pandas read_csv/clean/to_sql",
            f"{pandas_rows:,} rows in {pandas_seconds:.1f} s = {pandas_rate:,.0f} rows/s",
        ),
        ("ratio load / raw COPY", f"{load_rate / raw_rate:.2f}x (target >= 0.35x, stretch 0.5x)"),
        ("ratio end-to-end / raw COPY", f"{e2e_rate / raw_rate:.2f}x"),
        ("ratio end-to-end / pandas", f"{e2e_rate / pandas_rate:.1f}x (target >= 5x)"),
        ("end to end >= 100,000 rows/s", "yes" if e2e_rate >= 100_000 else "NO"),
        ("22M rows at this rate", f"{22_000_000 / e2e_rate / 60:.1f} min (target < 4 min)"),
        (
            "CPU of the ingest",
            f"client {client_cpu:.1f} s + PostgreSQL backends {sampler.total():.1f} s = "
            f"{client_cpu + sampler.total():.1f} s in {wall:.1f} s wall "
            f"({(client_cpu + sampler.total()) / wall:.2f} cores busy on average)",
        ),
        (
            "machine load during the ingest",
            f"{' / '.join(f'{x:.2f}' for x in load_before)} before, {' / '.join(f'{x:.2f}' for x in load_after)} after",
        ),
        ("loader peak RSS", f"{loader_rss:,.0f} MB (target < 500 MB)"),
        ("bench process peak RSS", f"{peak_rss_mb():,.0f} MB (generator + pandas baseline)"),
    ]
    columnar_rate = columnar["rows"] / columnar["load_s"]
    columnar_e2e = columnar["load_s"] + refresh_seconds
    rows += [
        (
            "columnar load (child process)",
            f"{columnar['load_s']:.1f} s = {columnar_rate:,.0f} rows/s = {columnar_rate / raw_rate:.2f}x raw COPY "
            f"(read {columnar['rows']:,}, loaded {columnar['loaded']:,}, refused {columnar['rejected']:,})",
        ),
        *[(f"  columnar: {k}", f"{v:.1f} s") for k, v in sorted(columnar["timings"].items())],
        (
            "columnar + today's refresh (estimate)",
            f"{columnar_e2e:.1f} s = {columnar['rows'] / columnar_e2e:,.0f} rows/s = "
            f"{columnar['rows'] / columnar_e2e / pandas_rate:.1f}x pandas (no attach, no FK, view not refreshed)",
        ),
        (
            "columnar CPU",
            f"PostgreSQL backends {columnar['backend_cpu_s']:.1f} s; child wall {columnar['wall_s']:.1f} s; "
            f"peak RSS {columnar['peak_rss_mb']:,.0f} MB",
        ),
        (
            "machine load during columnar",
            f"{' / '.join(f'{x:.2f}' for x in columnar['load_before'])} before, "
            f"{' / '.join(f'{x:.2f}' for x in columnar['load_after'])} after",
        ),
    ]
    if concurrent is not None:
        rows.append(("REFRESH CONCURRENTLY, full view", f"{concurrent:.1f} s over {run.rows_loaded:,} rows, no change"))
    report(f"Payments ELT, {tx_read:,} transactions", rows)
    print("\nphase timings (s):", json.dumps(t, sort_keys=True))
    summary = {
        "rows": tx_read,
        "load_s": round(load_seconds, 2),
        "e2e_s": round(total, 2),
        "raw_copy_rows_s": round(raw_rate),
        "pandas_rows_s": round(pandas_rate),
        "load_ratio": round(load_rate / raw_rate, 3),
        "e2e_pandas_ratio": round(e2e_rate / pandas_rate, 2),
        "peak_rss_mb": round(loader_rss),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "columnar": {
            "load_s": round(columnar["load_s"], 2),
            "load_ratio": round(columnar_rate / raw_rate, 3),
            "e2e_s_estimate": round(columnar_e2e, 2),
            "e2e_pandas_ratio_estimate": round(columnar["rows"] / columnar_e2e / pandas_rate, 2),
            "peak_rss_mb": round(columnar["peak_rss_mb"]),
            "phases_s": {k: round(v, 2) for k, v in columnar["timings"].items()},
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
