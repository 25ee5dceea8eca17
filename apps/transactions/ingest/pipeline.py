"""The payments ELT pipeline: delivery files -> COPY into UNLOGGED all-text staging -> set-based
SQL per file (one transaction per file) -> Payment / Customer / PaymentCard / MerchantCategory
and RejectedRow -> REFRESH MATERIALIZED VIEW CONCURRENTLY enriched_transactions.

Two copy workers stage files while the main connection transforms the ones already staged, so
the COPY of the big transactions file overlaps the transforms of the small files. A staged
transactions file is then typed by two load workers, each on a connection of its own and on the
lines of its own months: payments of months without a partition go into fresh month tables (no
index, no foreign key while loading) that get the indexes, foreign keys and a check of the
partition bound of transactions_payment afterwards, one sort and one query each, and stay
unattached in the staging schema. The main connection's transaction for the file collects the
workers' rejected rows, moves the rows of months that already have a partition and attaches the
month tables, which then costs no index build and no scan. Everything a file changes becomes
visible in that one commit, so a killed run leaves nothing half-written, and a new run skips what
an earlier one committed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import close_old_connections
from django.db import connection as django_connection
from django.utils import timezone
from psycopg import sql

from apps.common.exceptions import ApplicationError
from apps.common.partitions import add_months, partition_name
from apps.common.sql import own_connection
from apps.customers.cards import card_number_hmac
from apps.transactions.ingest import readers
from apps.transactions.ingest.checks import LabelChecks, TransactionChecks
from apps.transactions.ingest.layout import COLUMNS, SourceFile, collect_files
from apps.transactions.models import IngestRun

logger = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
STAGING_SCHEMA = "ingest_staging"
LOAD_WORKERS = 2  # connections typing the rows of a transactions file in parallel (the machine has 2 cores)
BOUND_CHECK = "payment_month_bound"
LOCK_NAMESPACE = 18245  # pg advisory lock class id: (NS, run id) = "run alive", (NS, 0) = transform mutex
PAYMENT_TABLE = "transactions_payment"
NONE_LOADED = sql.SQL("true")  # the load's not-loaded test when no payment has an id in the file's range
PAYMENT_COLUMNS = (
    "id, paid_at, customer_id, card_id, amount, method, merchant_id, merchant_city, merchant_state, "
    "merchant_zip, mcc, errors, is_fraud, fraud_score, ingest_run_id"
)
USER_STAGED = [c for c in COLUMNS["users"] if c != "address"]  # the street address is never staged
CARD_STAGED = [
    "id", "client_id", "card_brand", "card_type", "number_hmac", "last4", "number_problem", "expires",
    "has_chip", "num_cards_issued", "credit_limit", "acct_open_date", "year_pin_last_changed", "card_on_dark_web",
]  # fmt: skip


class IngestAborted(Exception):
    pass


# --- SQL files ---------------------------------------------------------------------------------

_STATEMENT = re.compile(r"^-- @statement (\w+)\s*$", re.MULTILINE)


def load_statements(name: str) -> dict[str, str]:
    text = (SQL_DIR / name).read_text()
    parts = _STATEMENT.split(text)
    return {parts[i]: parts[i + 1].strip().rstrip(";") for i in range(1, len(parts), 2)}


def staging(name: str) -> sql.Identifier:
    return sql.Identifier(STAGING_SCHEMA, name)


def connect() -> psycopg.Connection:
    """A connection of its own, in autocommit: the pipeline opens its transactions explicitly."""
    return own_connection(application_name="fleetops-ingest")


# --- progress ----------------------------------------------------------------------------------


@dataclass
class FileProgress:
    name: str
    kind: str
    size: int
    bytes_read: int = 0
    rows_read: int = 0
    loaded: int = 0
    rejected: int = 0
    duplicate: int = 0
    status: str = "waiting"
    sha256: str = ""
    seconds: dict = field(default_factory=dict)


class Progress:
    """Shared counters of a run, read by the reporter thread (terminal + IngestRun row)."""

    def __init__(self, files: list[SourceFile]):
        self.lock = threading.Lock()
        self.files = {f.index: FileProgress(name=f.name, kind=f.kind, size=f.size) for f in files}
        self.phase = "starting"
        self.timings: dict[str, float] = {}
        self.started = time.monotonic()
        self.copy_rows_per_second = 0.0

    def file(self, index: int) -> FileProgress:
        return self.files[index]

    def add_timing(self, key: str, seconds: float) -> None:
        with self.lock:
            self.timings[key] = round(self.timings.get(key, 0.0) + seconds, 3)

    def snapshot(self) -> dict:
        with self.lock:
            files = list(self.files.values())
            total_bytes = sum(f.size for f in files) or 1
            read_bytes = sum(min(f.bytes_read, f.size) for f in files)
            elapsed = time.monotonic() - self.started
            rows = sum(f.rows_read for f in files)
            return {
                "phase": self.phase,
                "elapsed": elapsed,
                "bytes_total": total_bytes,
                "bytes_read": read_bytes,
                "rows_read": rows,
                "rows_loaded": sum(f.loaded for f in files),
                "rows_rejected": sum(f.rejected for f in files),
                "rows_duplicate": sum(f.duplicate for f in files),
                "rows_per_second": rows / elapsed if elapsed > 0 else 0.0,
                "timings": dict(self.timings),
                "files": [dict(f.__dict__) for f in files],
            }


ProgressCallback = Callable[[dict], None]


# --- the run -----------------------------------------------------------------------------------


class PaymentsIngest:
    def __init__(
        self,
        run: IngestRun,
        *,
        on_progress: ProgressCallback | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ):
        self.run = run
        self.on_progress = on_progress
        self.should_cancel = should_cancel
        self.files = collect_files([s["path"] if isinstance(s, dict) else s for s in run.sources])
        self.progress = Progress(self.files)
        self.marker = "#rejected-" + secrets.token_hex(8)
        self.abort = threading.Event()
        self.refresh_mode: str | None = None
        self.staged: dict[int, threading.Event] = {f.index: threading.Event() for f in self.files}
        self.stage_results: dict[int, dict] = {}
        self.stage_errors: dict[int, BaseException] = {}
        self.main: psycopg.Connection | None = None
        self.label_hits: list[sql.Identifier] = []  # tables of the ids of payments the load labelled
        self.hmac_key = settings.CARD_HMAC_KEY
        if not self.hmac_key:
            raise ApplicationError("CARD_HMAC_KEY is not set: card numbers cannot be replaced by their HMAC.")

    # names of this run's staging relations
    def table(self, f: SourceFile, role: str) -> str:
        return f"r{self.run.pk}_f{f.index}_{role}"

    # ---- entry point ----

    def execute(self) -> IngestRun:
        self.preflight()
        run = self.run
        run.status = IngestRun.Status.RUNNING
        run.started_at = timezone.now()
        run.phase = "starting"
        run.sources = [{"path": str(f.path), "name": f.name, "kind": f.kind, "bytes": f.size} for f in self.files]
        run.save(update_fields=["status", "started_at", "phase", "sources"])
        reporter = threading.Thread(target=self._report_loop, name="ingest-progress", daemon=True)
        workers = []
        try:
            self.main = connect()
            # The concurrent view refresh diffs in temporary tables: give them room (before first use).
            self.main.execute("SET temp_buffers = '512MB'")
            self.main.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, run.pk])
            self._recover_interrupted_runs()
            from apps.transactions.services import merchant_categories_load_official

            merchant_categories_load_official()
            reporter.start()
            queue = self._copy_queue()
            for number in range(2):
                worker = threading.Thread(target=self._copy_worker, args=(queue,), name=f"ingest-copy-{number}")
                worker.start()
                workers.append(worker)
            labels = next((f for f in self.files if f.kind == "labels"), None)
            for f in sorted(self.files, key=lambda f: f.index):
                self._wait_staged(f)
                self._transform(f, labels)
            if labels:
                self._checkpoint("before_labels")
                self._apply_labels(labels)
            self._set_phase("refreshing enriched_transactions")
            refreshed = enriched_transactions_refresh(conn=self.main)
            self.progress.add_timing("refresh_view", refreshed["seconds"])
            self.refresh_mode = refreshed["mode"]
            self._set_phase("done")
            self._finish(status=IngestRun.Status.SUCCEEDED)
        except BaseException as exc:
            self.abort.set()
            for worker in workers:
                worker.join()
            self._finish(status=IngestRun.Status.FAILED, error=_describe(exc))
            raise
        finally:
            self.abort.set()
            for worker in workers:
                worker.join()
            if reporter.is_alive():
                reporter.join()
            if self.main is not None:
                self._drop_staging(self.main, self.run.pk)
                self.main.close()
        return self.run

    def preflight(self) -> None:
        """Every header is checked before anything is loaded: a bad one fails the run at once."""
        for f in self.files:
            if f.kind in COLUMNS:
                readers.check_header(readers.read_header(f.path), COLUMNS[f.kind], f.name)
            elif f.kind == "labels":
                readers.LabelsReader(f.path, marker=self.marker, on_reject=lambda r: None).check()
            elif f.kind == "mcc":
                self._read_mcc(f)

    # ---- reporting ----

    def _checkpoint(self, name: str) -> None:
        """Test seam for the kill-and-restart test: with FLEETOPS_INGEST_STALL_AT=<name> the run
        announces the point on its IngestRun and waits there (inside the open transaction) to be
        killed. Unset, it does nothing."""
        if os.environ.get("FLEETOPS_INGEST_STALL_AT") != name:
            return
        self._set_phase(f"stalled at {name}")
        self._report(db=True)
        time.sleep(float(os.environ.get("FLEETOPS_INGEST_STALL_SECONDS", "120")))

    def _set_phase(self, phase: str) -> None:
        with self.progress.lock:
            self.progress.phase = phase

    def _report_loop(self) -> None:
        last_db = 0.0
        try:
            while not self.abort.is_set():
                self._report(db=time.monotonic() - last_db >= 1.0)
                if time.monotonic() - last_db >= 1.0:
                    last_db = time.monotonic()
                    if self.should_cancel and self.should_cancel():
                        self.abort.set()
                        if self.main is not None:
                            self.main.cancel_safe()
                        break
                self.abort.wait(0.25)
        finally:
            close_old_connections()
            django_connection.close()

    def _report(self, *, db: bool) -> None:
        snap = self.progress.snapshot()
        if self.on_progress:
            self.on_progress(snap)
        if db:
            IngestRun.objects.filter(pk=self.run.pk, status=IngestRun.Status.RUNNING).update(
                phase=snap["phase"][:40],
                rows_read=snap["rows_read"],
                rows_loaded=snap["rows_loaded"],
                rows_rejected=snap["rows_rejected"],
                rows_duplicate=snap["rows_duplicate"],
                bytes_read=snap["bytes_read"],
                timings=snap["timings"],
            )

    def _finish(self, *, status: str, error: str = "") -> None:
        snap = self.progress.snapshot()
        if self.on_progress:
            self.on_progress(snap)
        run = self.run
        run.status = status
        run.phase = snap["phase"][:40] if status == IngestRun.Status.SUCCEEDED else "failed"
        run.finished_at = timezone.now()
        run.rows_read = snap["rows_read"]
        run.rows_loaded = snap["rows_loaded"]
        run.rows_rejected = snap["rows_rejected"]
        run.rows_duplicate = snap["rows_duplicate"]
        run.bytes_read = snap["bytes_read"]
        run.timings = snap["timings"] | {"total": round(snap["elapsed"], 3)}
        if self.refresh_mode:
            run.timings["refresh_view_mode"] = self.refresh_mode
        run.sources = [
            {"path": str(f.path), "name": f.name, "kind": f.kind, "bytes": f.size}
            | {
                k: p[k]
                for k in ("rows_read", "loaded", "rejected", "duplicate", "sha256", "status", "seconds")
                if k in (p := snap["files"][i])
            }
            for i, f in enumerate(self.files)
        ]
        run.error = error
        run.save()

    # ---- stale runs and staging ----

    def _recover_interrupted_runs(self) -> None:
        """Runs left 'running' by a process that died hold no advisory lock any more: they are
        marked failed and their staging tables dropped."""
        for other in IngestRun.objects.filter(status=IngestRun.Status.RUNNING).exclude(pk=self.run.pk):
            got = self.main.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, other.pk]).fetchone()[0]
            if not got:
                continue  # alive in another process
            try:
                IngestRun.objects.filter(pk=other.pk, status=IngestRun.Status.RUNNING).update(
                    status=IngestRun.Status.FAILED,
                    phase="interrupted",
                    finished_at=timezone.now(),
                    error="Interrupted: the process running it stopped. Files it had committed stay loaded; "
                    "a new run loads the rest exactly once.",
                )
                self._drop_staging(self.main, other.pk)
            finally:
                self.main.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, other.pk])

    @staticmethod
    def _drop_staging(conn: psycopg.Connection, run_id: int) -> None:
        try:
            names = conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname LIKE %s "
                "AND NOT c.relispartition",
                [STAGING_SCHEMA, f"r{run_id}\\_%"],
            ).fetchall()
            for (name,) in names:
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(staging(name)))
        except psycopg.Error:
            logger.exception("could not drop the staging tables of ingest run %s", run_id)

    # ---- staging (copy workers) ----

    def _copy_queue(self) -> list[SourceFile]:
        # The first transactions file starts at once on one worker; the other stages the small
        # files (and labels) in transform order, then both share the remaining transactions files.
        transactions = [f for f in self.files if f.kind == "transactions"]
        others = [f for f in self.files if f.kind != "transactions"]
        queue = transactions[:1] + others + transactions[1:]
        return list(reversed(queue))  # popped from the end

    def _copy_worker(self, queue: list[SourceFile]) -> None:
        conn = None
        try:
            conn = connect()
            while not self.abort.is_set():
                try:
                    f = queue.pop()
                except IndexError:
                    return
                started = time.monotonic()
                try:
                    with self.progress.lock:
                        self.progress.file(f.index).status = "staging"
                    self.stage_results[f.index] = self._stage(conn, f)
                    with self.progress.lock:
                        self.progress.file(f.index).status = "staged"
                        self.progress.file(f.index).seconds["copy"] = round(time.monotonic() - started, 3)
                    self.progress.add_timing(f"copy:{f.kind}", time.monotonic() - started)
                except BaseException as exc:  # handed to the main thread, which fails the run
                    self.stage_errors[f.index] = exc
                    self.abort.set()
                    return
                finally:
                    self.staged[f.index].set()
        except BaseException as exc:
            for event_index, event in self.staged.items():
                if not event.is_set():
                    self.stage_errors.setdefault(event_index, exc)
                    event.set()
        finally:
            if conn is not None:
                conn.close()
            for index, event in self.staged.items():
                if self.abort.is_set() and not event.is_set():
                    self.stage_errors.setdefault(index, IngestAborted("run aborted"))
                    event.set()

    def _wait_staged(self, f: SourceFile) -> None:
        self._set_phase(f"staging {f.name}")
        while not self.staged[f.index].wait(0.2):
            if self.abort.is_set() and f.index not in self.stage_results:
                break
        if f.index in self.stage_errors:
            raise self.stage_errors[f.index]
        if f.index not in self.stage_results:
            raise IngestAborted("run aborted")

    def _stage(self, conn: psycopg.Connection, f: SourceFile) -> dict:
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+", newline="")  # noqa: SIM115
        months = month_lines = id_range = None
        writer = csv.writer(spool, lineterminator="\n")

        def on_reject(r: readers.Rejection) -> None:
            writer.writerow([r.line_number, r.reason, r.detail, r.raw])

        with conn.transaction():
            if f.kind == "transactions":
                reader = readers.CsvBlockReader(
                    f.path, columns=COLUMNS["transactions"], marker=self.marker, on_reject=on_reject,
                    checks=TransactionChecks(),
                )  # fmt: skip
                staged = self._copy_blocks(conn, f, reader, COLUMNS["transactions"], first_line=2)
                candidates = reader.cleaner.order.ids()
                months = reader.cleaner.checks.months
                month_lines = reader.cleaner.checks.month_lines
                order = reader.cleaner.order
                id_range = None if order.min_seen is None else (order.min_seen, order.max_seen)
            elif f.kind == "labels":
                reader = readers.LabelsReader(f.path, marker=self.marker, on_reject=on_reject, checks=LabelChecks())
                staged = self._copy_blocks(conn, f, reader, ["id", "label"], first_line=1)
                candidates = reader.cleaner.order.ids()
            elif f.kind == "users":
                reader, staged = self._copy_users(conn, f, on_reject), None
                candidates = None
            elif f.kind == "cards":
                reader, staged = self._copy_cards(conn, f, on_reject), None
                candidates = None
            else:
                reader, staged = self._copy_mcc(conn, f), None
                candidates = None
            self._copy_rejections(conn, f, spool)
            if candidates is not None:
                self._copy_candidates(conn, f, candidates)
        rows = reader.rows
        if staged is not None and staged != rows:
            raise ApplicationError(f"{f.name}: read {rows} rows but the database staged {staged}.")
        with self.progress.lock:
            p = self.progress.file(f.index)
            p.rows_read = rows
            p.bytes_read = f.size
            p.sha256 = reader.digest.hexdigest()
        # Fresh statistics: the transform's joins are planned on them.
        conn.execute(sql.SQL("ANALYZE {}").format(staging(self.table(f, "stage"))))
        return {
            "rows": rows,
            "candidates": 0 if candidates is None else int(candidates.size),
            "months": months,
            "month_lines": month_lines,
            "id_range": id_range,
        }

    def _copy_blocks(self, conn, f: SourceFile, reader, columns: list[str], *, first_line: int) -> int:
        table = staging(self.table(f, "stage"))
        text_columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)
        conn.execute(
            sql.SQL(
                "CREATE UNLOGGED TABLE {} (line_no bigint GENERATED ALWAYS AS IDENTITY (START WITH {} CACHE 10000), {})"
            ).format(table, sql.Literal(first_line), text_columns)
        )
        statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, FREEZE)").format(
            table, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        p = self.progress.file(f.index)
        with conn.cursor() as cur:
            with cur.copy(statement) as copy:
                for block in reader:
                    if self.abort.is_set():
                        raise IngestAborted("run aborted")
                    copy.write(block)
                    p.rows_read = reader.rows
                    p.bytes_read = reader.bytes_read
            return cur.rowcount

    def _copy_rows(self, conn, f: SourceFile, columns: list[str], rows) -> None:
        table = staging(self.table(f, "stage"))
        conn.execute(
            sql.SQL("CREATE UNLOGGED TABLE {} (line_no bigint, raw_line text, {})").format(
                table, sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)
            )
        )
        statement = sql.SQL("COPY {} (line_no, raw_line, {}) FROM STDIN WITH (FREEZE)").format(
            table, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        p = self.progress.file(f.index)
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                if self.abort.is_set():
                    raise IngestAborted("run aborted")
                copy.write_row(row)
                p.rows_read += 1

    def _copy_users(self, conn, f: SourceFile, on_reject) -> readers.RowReader:
        columns = COLUMNS["users"]
        address = columns.index("address")
        reader = readers.RowReader(f.path, columns=columns, on_reject=on_reject, mask=_users_raw_mask)

        def rows():
            for line_no, fields, _raw in reader:
                kept = [None if value == "" else value for i, value in enumerate(fields) if i != address]
                yield [line_no, _users_raw(fields), *kept]

        self._copy_rows(conn, f, USER_STAGED, rows())
        return reader

    def _copy_cards(self, conn, f: SourceFile, on_reject) -> readers.RowReader:
        columns = COLUMNS["cards"]
        reader = readers.RowReader(f.path, columns=columns, on_reject=on_reject, mask=_cards_raw_mask)
        number_at, cvv_at = columns.index("card_number"), columns.index("cvv")

        def rows():
            for line_no, fields, _raw in reader:
                number = re.sub(r"[\s-]", "", fields[number_at])
                problem = "" if re.fullmatch(r"[0-9]{12,19}", number) else "card_number is not 12-19 digits"
                masked = list(fields)
                masked[number_at] = ("*" * 12 + number[-4:]) if not problem else "****"
                masked[cvv_at] = "***"
                values = {c: (v if v != "" else None) for c, v in zip(columns, fields, strict=True)}
                values["number_hmac"] = card_number_hmac(number, self.hmac_key)
                values["last4"] = number[-4:] if not problem else ""
                values["number_problem"] = problem
                yield [line_no, readers.mask_line(_csv_line(masked).encode()), *(values[c] for c in CARD_STAGED)]

        self._copy_rows(conn, f, CARD_STAGED, rows())
        return reader

    def _read_mcc(self, f: SourceFile) -> dict:
        if f.size > 50 << 20:
            raise readers.HeaderError(f"{f.name}: an MCC file of {f.size} bytes is not plausible (limit 50 MB).")
        stream, raw = readers.open_binary(f.path)
        try:
            data = stream.read()
        finally:
            stream.close()
            raw.close()
        try:
            codes = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise readers.HeaderError(f"{f.name}: not a JSON document ({exc}). Nothing was loaded.") from None
        if not isinstance(codes, dict):
            raise readers.HeaderError(f'{f.name}: expected a JSON object {{"5812": "Eating places", ...}}.')
        return codes

    def _copy_mcc(self, conn, f: SourceFile):
        codes = self._read_mcc(f)
        counted = _WholeFile(f.path, rows=len(codes))
        rows = (
            [n, readers.mask_text(json.dumps({code: text})), str(code), text if isinstance(text, str) else None]
            for n, (code, text) in enumerate(codes.items(), start=1)
        )
        self._copy_rows(conn, f, ["code", "description"], rows)
        return counted

    def _copy_rejections(self, conn, f: SourceFile, spool) -> None:
        table = staging(self.table(f, "rejects"))
        conn.execute(
            sql.SQL("CREATE UNLOGGED TABLE {} (line_no bigint, reason text, detail text, raw_line text)").format(table)
        )
        spool.seek(0)
        with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} FROM STDIN WITH (FORMAT csv)").format(table)) as copy:
            while chunk := spool.read(1 << 20):
                copy.write(chunk.encode())
        spool.close()

    def _copy_candidates(self, conn, f: SourceFile, ids) -> None:
        table = staging(self.table(f, "candidates"))
        conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} (id bigint)").format(table))
        if ids.size:
            with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} FROM STDIN").format(table)) as copy:
                for start in range(0, ids.size, 100_000):
                    copy.write("\n".join(map(str, ids[start : start + 100_000].tolist())) + "\n")
            conn.execute(sql.SQL("ANALYZE {}").format(table))

    # ---- transforms (main connection, one transaction per file) ----

    def _run(self, name: str, statements: dict[str, str], key: str, f: SourceFile, tables: dict, params: dict):
        started = time.monotonic()
        query = sql.SQL(statements[key]).format(**tables)
        used = {k: v for k, v in params.items() if f"%({k})s" in statements[key]}
        cur = self.main.execute(query, used or None)
        self.progress.add_timing(f"{name}:{key}", time.monotonic() - started)
        return cur

    def _transform(self, f: SourceFile, labels: SourceFile | None) -> None:
        self._set_phase(f"transforming {f.name}")
        with self.progress.lock:
            self.progress.file(f.index).status = "transforming"
        started = time.monotonic()
        if f.kind == "transactions":
            # Staging objects the load workers read: committed before they start.
            self._prepare_transactions(f, labels)
        with self.main.transaction():
            self.main.execute("SELECT pg_advisory_xact_lock(%s, 0)", [LOCK_NAMESPACE])
            self.main.execute("SET LOCAL work_mem = '256MB'")
            self.main.execute("SET LOCAL synchronous_commit = off")
            pre = self.main.execute(
                sql.SQL(
                    "INSERT INTO transactions_rejectedrow (run_id, file_name, line_number, reason, detail, raw_line) "
                    "SELECT %s, %s, line_no, reason, detail, raw_line FROM {}"
                ).format(staging(self.table(f, "rejects"))),
                [self.run.pk, f.name],
            ).rowcount
            counts = getattr(self, f"_transform_{f.kind}")(f, labels)
            read = self.stage_results[f.index]["rows"]
            counts["rejected"] += pre
            if f.kind != "labels":
                counts["duplicate"] = read - counts["loaded"] - counts["rejected"]
                if counts["duplicate"] < 0 or (
                    "valid" in counts and counts["valid"] != counts["loaded"] + counts["duplicate"]
                ):
                    raise ApplicationError(f"{f.name}: counts do not balance ({counts}, read {read}).")
        seconds = time.monotonic() - started
        self.progress.add_timing(f"transform:{f.kind}", seconds)
        with self.progress.lock:
            p = self.progress.file(f.index)
            p.seconds["transform"] = round(seconds, 3)
            if f.kind == "labels":
                p.status = "prepared"
                p.rejected = counts["rejected"]  # the rest is counted when the labels are applied
            else:
                p.status = "done"
                p.loaded, p.rejected, p.duplicate = counts["loaded"], counts["rejected"], counts["duplicate"]

    def _params(self, f: SourceFile, **extra) -> dict:
        return {"run_id": self.run.pk, "file_name": f.name, "marker": self.marker} | extra

    def _dupes(self, f: SourceFile, statements_name: str) -> sql.Composable:
        """The in-file duplicate lines (line_no, first_line): a table built only when the reader
        saw ids out of order, else an empty relation the planner drops from the joins."""
        if not self.stage_results[f.index]["candidates"]:
            return sql.SQL("(SELECT NULL::bigint AS line_no, NULL::bigint AS first_line WHERE false)")
        dupes = staging(self.table(f, "dupes"))
        self._run(
            statements_name, load_statements("duplicates.sql"), "duplicates", f,
            {"dupes": dupes, "staging": staging(self.table(f, "stage")),
             "candidates": staging(self.table(f, "candidates"))},
            {},
        )  # fmt: skip
        self.main.execute(sql.SQL("ANALYZE {}").format(dupes))
        return dupes

    def _transform_mcc(self, f: SourceFile, labels) -> dict:
        statements = load_statements("mcc.sql")
        tables = {"staging": staging(self.table(f, "stage")), "parsed": staging(self.table(f, "parsed"))}
        params = self._params(f)
        self._run("mcc", statements, "parse", f, tables, params)
        loaded = self._run("mcc", statements, "upsert", f, tables, params).rowcount
        rejected = self._run("mcc", statements, "reject", f, tables, params).rowcount
        return {"loaded": loaded, "rejected": rejected}

    def _transform_users(self, f: SourceFile, labels) -> dict:
        return self._transform_small("users", f)

    def _transform_cards(self, f: SourceFile, labels) -> dict:
        return self._transform_small("cards", f)

    def _transform_small(self, kind: str, f: SourceFile) -> dict:
        statements = load_statements(f"{kind}.sql")
        tables = {"staging": staging(self.table(f, "stage")), "parsed": staging(self.table(f, "parsed"))}
        params = self._params(f)
        self._run(kind, statements, "parse", f, tables, params)
        loaded = self._run(kind, statements, "upsert", f, tables, params).rowcount
        rejected = self._run(kind, statements, "reject", f, tables, params).rowcount
        return {"loaded": loaded, "rejected": rejected}

    def _transform_labels(self, f: SourceFile, labels) -> dict:
        statements = load_statements("labels.sql")
        tables = {
            "staging": staging(self.table(f, "stage")),
            "parsed": staging(self.table(f, "parsed")),
            "dupes": self._dupes(f, "labels"),
        }
        self._run("labels", statements, "prepare", f, tables, self._params(f))
        self.main.execute(sql.SQL("ANALYZE {}").format(tables["parsed"]))
        return {"loaded": 0, "rejected": 0}

    def _apply_labels(self, f: SourceFile) -> None:
        self._set_phase(f"applying {f.name}")
        statements = load_statements("labels.sql")
        if self.label_hits:
            hits = sql.SQL(" UNION ALL ").join(sql.SQL("SELECT id FROM {}").format(t) for t in self.label_hits)
        else:
            hits = sql.SQL("SELECT NULL::bigint AS id WHERE false")
        tables = {
            "parsed": staging(self.table(f, "parsed")),
            "matched": staging(self.table(f, "matched")),
            "unhit": staging(self.table(f, "unhit")),
            "hits": sql.SQL("({})").format(hits),
        }
        params = self._params(f)
        started = time.monotonic()
        with self.main.transaction():
            self.main.execute("SELECT pg_advisory_xact_lock(%s, 0)", [LOCK_NAMESPACE])
            self.main.execute("SET LOCAL work_mem = '256MB'")
            self._run("labels", statements, "unhit", f, tables, params)
            # The planner must know how few labels are left: then it probes the payments' keys
            # instead of reading every payment.
            self.main.execute(sql.SQL("ANALYZE {}").format(tables["unhit"]))
            self._run("labels", statements, "match", f, tables, params)
            self.main.execute(sql.SQL("ANALYZE {}").format(tables["matched"]))
            self._run("labels", statements, "apply", f, tables, params)
            loaded, duplicate = self._run("labels", statements, "counts", f, tables, params).fetchone()
            rejected = self._run("labels", statements, "reject", f, tables, params).rowcount
            with self.progress.lock:
                p = self.progress.file(f.index)
                rejected += p.rejected
                read = self.stage_results[f.index]["rows"]
                if read != loaded + rejected + duplicate:
                    raise ApplicationError(
                        f"{f.name}: counts do not balance (read {read}, loaded {loaded}, rejected {rejected}, "
                        f"duplicate {duplicate})."
                    )
                p.loaded, p.rejected, p.duplicate, p.status = loaded, rejected, duplicate, "done"
        self.progress.add_timing("transform:labels_apply", time.monotonic() - started)

    def _transactions_tables(self, f: SourceFile, labels: SourceFile | None) -> dict:
        if labels is not None:
            labels_relation = sql.SQL("(SELECT id, is_fraud FROM {} WHERE reason IS NULL)").format(
                staging(self.table(labels, "parsed"))
            )
        else:
            labels_relation = sql.SQL("(SELECT NULL::bigint AS id, NULL::boolean AS is_fraud WHERE false)")
        return {
            "staging": staging(self.table(f, "stage")),
            "checked": staging(self.table(f, "checked")),
            "labels": labels_relation,
            # A view cannot take bind parameters: these two are quoted literals.
            "tz": sql.Literal(self.run.source_tz),
            "marker": sql.Literal(self.marker),
        }

    def _prepare_transactions(self, f: SourceFile, labels: SourceFile | None) -> None:
        tables = self._transactions_tables(f, labels)
        tables["dupes"] = self._dupes(f, "transactions")
        self._run("transactions", load_statements("transactions.sql"), "checked", f, tables, {})

    def _transform_transactions(self, f: SourceFile, labels: SourceFile | None) -> dict:
        statements = load_statements("transactions.sql")
        tables = self._transactions_tables(f, labels)
        params = self._params(f)
        parts = self._load_plan(f)
        tables["not_loaded"] = self._not_loaded_check(f)
        results = self._run_load_workers(f, tables, parts)
        loaded = sum(r["loaded"] for r in results)
        self.label_hits += [r["hits"] for r in results]
        started = time.monotonic()
        rejected = 0
        for result in results:
            rejected += self._run(
                "transactions", statements, "collect_rejects", f, {"rejects": result["rejects"]}, params
            ).rowcount
        for result in results:
            rest = {"rest": result["rest"]}
            unforeseen = [r[0] for r in self._run("transactions", statements, "unforeseen_months", f, rest, {})]
            if unforeseen:
                self._create_partitions(unforeseen)
            self._run("transactions", statements, "load_existing_months", f, rest, params)
        self.progress.add_timing("transactions:main", time.monotonic() - started)
        if loaded:
            sample = max(1.0, min(100.0, 100.0 * 200_000 / loaded))
            self._run("transactions", statements, "home_area", f, tables, params | {"sample_percent": sample})
        self._checkpoint("transactions_loaded")
        # Last, right before the commit: attaching takes locks on transactions_payment and the
        # tables its foreign keys reference until the commit.
        self._attach([table for result in results for table in result["tables"]])
        return {"loaded": loaded, "rejected": rejected}

    def _not_loaded_check(self, f: SourceFile) -> sql.Composable:
        """The load's test that a payment is not loaded yet: needed only when some payment has an
        id within the range of the file's ids (an index probe per partition says so). The
        transform lock keeps other runs from loading payments until this file is committed."""
        id_range = self.stage_results[f.index]["id_range"]
        if (
            id_range is not None
            and not self.main.execute(
                "SELECT EXISTS (SELECT 1 FROM transactions_payment WHERE id BETWEEN %s AND %s)", list(id_range)
            ).fetchone()[0]
        ):
            return NONE_LOADED
        return sql.SQL("NOT EXISTS (SELECT 1 FROM transactions_payment x WHERE x.id = v.id)")

    def _candidate_months(self, f: SourceFile) -> list[dt.date]:
        """Months (UTC) the file's payments can fall in, from the dates the reader saw: with a
        source time zone other than UTC a payment on the first or the last days of a month may
        belong to the month before or after (an unused month table is dropped again)."""
        seen = self.stage_results[f.index]["months"]
        months = set(seen["all"])
        if self.run.source_tz != "UTC":
            months |= {m - 1 for m in seen["first_day"]} | {m + 1 for m in seen["month_end"]}
        return [dt.date(m // 12, m % 12 + 1, 1) for m in sorted(months)]

    def _create_partitions(self, months: list[dt.date]) -> None:
        for month in months:
            self.main.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                    sql.Identifier(partition_name(PAYMENT_TABLE, month)),
                    sql.Identifier(PAYMENT_TABLE),
                    sql.Literal(month.isoformat()),
                    sql.Literal(add_months(month, 1).isoformat()),
                )
            )

    def _load_plan(self, f: SourceFile) -> list[LoadPart]:
        """Splits the file's lines between the load workers at month boundaries (by the reader's
        first line, last line and row count of each month) and gives each worker the new months
        whose rows all lie in its lines: a month table belongs to exactly one worker. Rows of any
        other month (existing partitions, a month split between workers in a file out of date
        order) go to the worker's default partition and are moved by the main connection."""
        result = self.stage_results[f.index]
        last_line = result["rows"] + 1  # data lines are 2 .. rows + 1
        month_lines: dict[int, list[int]] = result["month_lines"] or {}
        by_first_line = sorted(month_lines.items(), key=lambda item: item[1][0])
        total = sum(n for _, (_, _, n) in by_first_line)
        targets = [total * k / LOAD_WORKERS for k in range(1, LOAD_WORKERS)]
        cuts: list[int] = []
        seen = 0
        for _, (first, _, n) in by_first_line:
            # Cut before a month when most of it lies past the next share of the rows.
            if targets and seen + n / 2 >= targets[0]:
                targets.pop(0)
                if first > (cuts[-1] if cuts else 2):
                    cuts.append(first)
            seen += n
        bounds = [2, *cuts, last_line + 1]
        windows = [(bounds[k], bounds[k + 1] - 1) for k in range(len(bounds) - 1)]
        existing = {
            row[0]
            for row in self.main.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = %s::regclass",
                [PAYMENT_TABLE],
            ).fetchall()
        }
        shift = 0 if self.run.source_tz == "UTC" else 1
        parts = [LoadPart(number=k, first_line=lo, last_line=hi, months=[]) for k, (lo, hi) in enumerate(windows)]
        for month in self._candidate_months(f):
            if partition_name(PAYMENT_TABLE, month) in existing:
                continue
            index = month.year * 12 + month.month - 1
            # A payment of UTC month m lies in local month m, or m +/- 1 with a source time zone.
            spans = [month_lines[m] for m in range(index - shift, index + shift + 1) if m in month_lines]
            if not spans:
                continue
            lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
            for part in parts:
                if part.first_line <= lo and hi <= part.last_line:
                    part.months.append(month)
                    break
        return parts

    def _run_load_workers(self, f: SourceFile, tables: dict, parts: list[LoadPart]) -> list[dict]:
        """Runs each part on a connection of its own, in parallel, and waits for all of them. The
        main connection's transaction (holding the transform lock) stays open meanwhile."""
        results: dict[int, dict] = {}
        errors: list[BaseException] = []
        connections: list[psycopg.Connection] = []
        lock = threading.Lock()

        def work(part: LoadPart) -> None:
            try:
                conn = connect()
                with lock:
                    connections.append(conn)
                try:
                    results[part.number] = self._load_part(conn, f, tables, part)
                finally:
                    conn.close()
            except BaseException as exc:
                errors.append(exc)
                self.abort.set()

        self._set_phase(f"loading {f.name}")
        threads = [threading.Thread(target=work, args=(part,), name=f"ingest-load-{part.number}") for part in parts]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
                if self.abort.is_set():
                    with lock:
                        for conn in connections:
                            if not conn.closed:
                                conn.cancel_safe()
        if errors:
            raise errors[0]
        if self.abort.is_set():
            raise IngestAborted("run aborted")
        return [results[part.number] for part in parts]

    def _load_part(self, conn: psycopg.Connection, f: SourceFile, tables: dict, part: LoadPart) -> dict:
        """One worker's transaction (two for the even ones, see the foreign keys below): its lines
        typed and checked into fresh month tables, which carry a check of their partition bound
        and then get the indexes and foreign keys of transactions_payment, so attaching them
        later needs neither an index build nor a scan.
        The tables stay in the staging schema, unattached, until the file's transaction attaches
        them: a run killed before that leaves nothing visible, and its staging is dropped."""
        statements = load_statements("transactions.sql")
        prefix = f"{self.table(f, 'w')}{part.number}"
        loader, rest, rejects, hits = (staging(f"{prefix}_{role}") for role in ("loader", "rest", "rejects", "hits"))
        indexes, foreign_keys = _payment_indexes(conn)
        params = self._params(f) | {"first_line": part.first_line, "last_line": part.last_line}
        timings: dict[str, float] = {}

        def run(key: str, statement, values=None):
            started = time.monotonic()
            cur = conn.execute(statement, values)
            timings[key] = timings.get(key, 0.0) + time.monotonic() - started
            return cur

        with conn.transaction():
            conn.execute("SET LOCAL work_mem = '256MB'")
            conn.execute("SET LOCAL synchronous_commit = off")
            run(
                "tables",
                sql.SQL(
                    "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (paid_at)"
                ).format(loader, sql.Identifier(PAYMENT_TABLE)),
            )
            run("tables", sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(rest, loader))
            month_tables = []
            for month in part.months:
                name = f"{self.table(f, partition_name('', month).lstrip('_'))}"
                ident = staging(name)
                run(
                    "tables",
                    sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)").format(
                        ident, sql.Identifier(PAYMENT_TABLE)
                    ),
                )
                # The check of the partition bound, added while the table is empty (no scan).
                lo, hi = _month_bounds(month)
                run(
                    "tables",
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (paid_at >= {} AND paid_at < {})").format(
                        ident, sql.Identifier(BOUND_CHECK), lo, hi
                    ),
                )
                run(
                    "tables",
                    sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                        loader, ident, lo, hi
                    ),
                )
                month_tables.append((name, month))
            load_tables = tables | {"loader": loader, "hits": hits}
            loaded = run("load", sql.SQL(statements["load"]).format(**load_tables), params).rowcount
            run("hits", sql.SQL(statements["hits"]).format(**load_tables))
            # Every line of the range is a placeholder the reader set aside, a loaded row, an
            # already loaded one (none when no payment has an id in the file's range) or a row
            # the database refuses. When nothing is left for the last kind, as in a clean file,
            # the reject pass, a second read of the range through the checked view, is skipped.
            set_aside = conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE line_no BETWEEN %s AND %s").format(
                    staging(self.table(f, "rejects"))
                ),
                [part.first_line, part.last_line],
            ).fetchone()[0]
            if tables["not_loaded"] == NONE_LOADED and part.last_line - part.first_line + 1 == set_aside + loaded:
                run("tables", sql.SQL(statements["no_rejects"]).format(rejects=rejects))
            else:
                run("reject", sql.SQL(statements["reject"]).format(**tables, rejects=rejects), params)
            for name, _ in month_tables:
                run("tables", sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(loader, staging(name)))
            run("tables", sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(loader, rest))
            run("tables", sql.SQL("DROP TABLE {}").format(loader))
            kept = []
            for name, month in month_tables:
                if conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(staging(name))).fetchone()[0]:
                    kept.append((name, month))
                else:
                    conn.execute(sql.SQL("DROP TABLE {}").format(staging(name)))

            def build_indexes() -> None:
                for name, _ in kept:
                    for suffix, columns, primary, definition in indexes:
                        index_name = sql.Identifier(f"{name}_{suffix}")
                        if primary:
                            statement = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                                staging(name), index_name, sql.SQL(", ").join(map(sql.Identifier, columns))
                            )
                        else:
                            statement = sql.SQL("CREATE INDEX {} ON {} USING {}").format(
                                index_name, staging(name), sql.SQL(definition)
                            )
                        run("indexes", statement)

            def add_foreign_keys() -> None:
                for name, _ in kept:
                    for constraint, definition in foreign_keys:
                        run(
                            "foreign_keys",
                            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                                staging(name), sql.Identifier(constraint), sql.SQL(definition)
                            ),
                        )

            # Adding a foreign key locks the referenced table against other foreign keys until
            # the commit: the workers take turns. The even ones add theirs first and commit
            # (their index builds follow in a second transaction), the odd ones build their
            # indexes first, so the two add their keys one after the other instead of at once.
            if part.number % 2 == 0:
                add_foreign_keys()
            else:
                build_indexes()
                add_foreign_keys()
        if part.number % 2 == 0:
            with conn.transaction():
                build_indexes()
        for key, seconds in timings.items():
            self.progress.add_timing(f"transactions:worker{part.number}:{key}", seconds)
        return {
            "loaded": loaded,
            "rejects": rejects,
            "rest": rest,
            "hits": hits,
            "tables": [(name, month, [suffix for suffix, *_ in indexes]) for name, month in kept],
        }

    def _attach(self, tables: list[tuple[str, dt.date, list[str]]]) -> None:
        """Moves the workers' month tables out of the staging schema under their partition names
        and attaches them: their indexes, foreign keys and bound check match, so PostgreSQL takes
        them over without building or scanning anything."""
        started = time.monotonic()
        for name, month, suffixes in tables:
            final = partition_name(PAYMENT_TABLE, month)
            self.main.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(staging(name), sql.Identifier(final)))
            for suffix in suffixes:
                self.main.execute(
                    sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                        staging(f"{name}_{suffix}"), sql.Identifier(f"{final}_{suffix}")
                    )
                )
            self.main.execute(sql.SQL("ALTER TABLE {} SET SCHEMA public").format(staging(final)))
            self.main.execute(
                sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                    sql.Identifier(PAYMENT_TABLE), sql.Identifier(final), *_month_bounds(month)
                )
            )
            self.main.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(final), sql.Identifier(BOUND_CHECK))
            )
        self.progress.add_timing("transactions:attach", time.monotonic() - started)


@dataclass
class LoadPart:
    number: int
    first_line: int  # inclusive
    last_line: int  # inclusive
    months: list[dt.date]  # new months whose month table this worker fills


def _month_bounds(month: dt.date) -> tuple[sql.Literal, sql.Literal]:
    """The partition bounds of a month as timestamptz literals in UTC (the same values whatever
    the session's time zone, so a check constraint built from them matches the bound exactly)."""
    return (
        sql.SQL("{}::timestamptz").format(sql.Literal(f"{month.isoformat()} 00:00:00+00")),
        sql.SQL("{}::timestamptz").format(sql.Literal(f"{add_months(month, 1).isoformat()} 00:00:00+00")),
    )


def _payment_indexes(conn: psycopg.Connection) -> tuple[list[tuple], list[tuple[str, str]]]:
    """The indexes of transactions_payment as (name suffix, columns, is primary key, "btree (...)"),
    named the way PostgreSQL names a partition's copy of them, and its foreign keys as
    (name, definition): a month table built with these is taken over as it is when attached."""
    indexes = []
    for primary, columns, definition in conn.execute(
        "SELECT i.indisprimary, array_agg(a.attname ORDER BY k.ord), "
        "       split_part(pg_get_indexdef(i.indexrelid), ' USING ', 2) "
        "FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = %s::regclass GROUP BY i.indexrelid, i.indisprimary ORDER BY i.indexrelid",
        [PAYMENT_TABLE],
    ).fetchall():
        suffix = "pkey" if primary else "_".join(columns) + "_idx"
        indexes.append((suffix, list(columns), primary, definition))
    foreign_keys = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        [PAYMENT_TABLE],
    ).fetchall()
    return indexes, foreign_keys


def _csv_line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


class _WholeFile:
    """Row count and checksum of a small file read whole (the MCC list)."""

    def __init__(self, path: Path, *, rows: int):
        import hashlib

        self.rows = rows
        self.digest = hashlib.sha256(Path(path).read_bytes())


def _cards_raw_mask(raw: bytes) -> str:
    """Rejected cards lines: the number keeps its last four digits and the CVV column is replaced;
    in a line that cannot be split, every short number field after a card number goes too."""
    columns = COLUMNS["cards"]
    try:
        fields = next(csv.reader([raw.decode("utf-8", "replace")]))
    except csv.Error:
        fields = []
    if len(fields) > columns.index("cvv"):
        number = re.sub(r"[^0-9]", "", fields[columns.index("card_number")])
        fields[columns.index("card_number")] = "*" * 12 + number[-4:] if len(number) >= 4 else "****"
        fields[columns.index("cvv")] = "***"
        return readers.mask_line(_csv_line(fields).encode())
    masked = readers.mask_line(raw)
    head, star, tail = masked.partition("************")
    return head + star + re.sub(r"(?<![0-9])[0-9]{3,4}(?![0-9])", "***", tail)


def _users_raw(fields: list[str]) -> str:
    masked = list(fields)
    masked[COLUMNS["users"].index("address")] = "[address removed]"
    return readers.mask_line(_csv_line(masked).encode())


def _users_raw_mask(raw: bytes) -> str:
    """Rejected users lines: the address column is removed when the line can be split; a line that
    cannot keep its first field only, since it may hold an address anywhere."""
    try:
        fields = next(csv.reader([raw.decode("utf-8", "replace")]))
    except csv.Error:
        fields = []
    address = COLUMNS["users"].index("address")
    if len(fields) > address:
        return _users_raw(fields)
    first = raw.split(b",", 1)[0][:40]
    return readers.mask_line(first + b",[rest of the line withheld: it may hold an address]")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message
    if isinstance(exc, readers.HeaderError):
        return str(exc)
    return f"{exc.__class__.__name__}: {readers.mask_text(str(exc))}"[:5000]


def enriched_transactions_refresh(*, conn: psycopg.Connection | None = None) -> dict:
    """REFRESH MATERIALIZED VIEW CONCURRENTLY enriched_transactions: readers keep reading the old
    contents meanwhile. Two cases take a plain REFRESH instead, because CONCURRENTLY cannot or
    need not apply: a view never populated (CONCURRENTLY refuses it) and a view holding no row
    (there is nothing for readers to keep; the plain refresh writes the rows once, sorted into
    the index, instead of diffing them row by row against an empty table).
    Returns {"mode": ..., "seconds": ...}."""
    own = conn is None
    conn = conn or connect()
    started = time.monotonic()
    try:
        populated = conn.execute(
            "SELECT ispopulated FROM pg_matviews WHERE matviewname = 'enriched_transactions'"
        ).fetchone()
        if populated is None:
            raise ApplicationError("The enriched_transactions view does not exist: run the migrations.")
        empty = (
            not populated[0] or conn.execute("SELECT NOT EXISTS (SELECT 1 FROM enriched_transactions)").fetchone()[0]
        )
        with conn.transaction():
            conn.execute("SET LOCAL work_mem = '256MB'")
            # The rows are read and joined by parallel workers while this backend only writes
            # them: writing is the refresh's own bottleneck, and left to itself the planner keeps
            # the whole query on this one core (measured on 5 M rows: 10.2 s instead of 14.0 s).
            # Without free worker slots the backend runs the query itself, as before.
            conn.execute("SET LOCAL parallel_setup_cost = 0")
            conn.execute("SET LOCAL parallel_tuple_cost = 0")
            conn.execute("SET LOCAL parallel_leader_participation = off")
            if empty:
                conn.execute("REFRESH MATERIALIZED VIEW enriched_transactions")
            else:
                conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY enriched_transactions")
    finally:
        if own:
            conn.close()
    mode = "plain (view was empty)" if empty else "concurrently"
    return {"mode": mode, "seconds": round(time.monotonic() - started, 3)}
