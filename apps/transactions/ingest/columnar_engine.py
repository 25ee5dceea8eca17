"""The columnar engine for transactions files (issue 20; `settings.PAYMENTS_INGEST_ENGINE =
"columnar"`): instead of staging the file as text and typing it in SQL, the file is read,
checked and typed in this process (`columnar`, `columnar_load`) and binary-COPYed into fresh
month tables of the staging schema (`columnar_copy`), while two connections build the
indexes and foreign keys of transactions_payment on each month table the file has moved past.

The guarantees are today's: it runs inside the file's transform, while the main connection's
transaction holds the transform lock; the month tables, the rejected rows and the rows of
months that already have a partition stay in the staging schema until that one transaction
attaches, inserts and copies them (`transform_transactions`), so a killed run leaves nothing
visible and a new run loads the file exactly once. Rows already loaded by an earlier run are
counted as duplicates, as the SQL engine's NOT EXISTS does."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import queue
import tempfile
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.conf import settings
from psycopg import sql

from apps.common.partitions import partition_name
from apps.transactions.ingest import columnar_copy, context, partition_load
from apps.transactions.ingest.columnar import ColumnarReader
from apps.transactions.ingest.columnar_load import BatchTyper, Labels, References
from apps.transactions.ingest.context import PAYMENT_TABLE, IngestAborted, IngestContext, connect, staging
from apps.transactions.ingest.layout import SourceFile
from apps.transactions.ingest.readers import Rejection
from apps.transactions.ingest.staging import copy_rejections

ENGINES = ("sql", "columnar")
SAMPLE_ROWS = 200_000  # rows of the file the customers' home area is computed from (as the SQL engine's sample)


def engine() -> str:
    chosen = getattr(settings, "PAYMENTS_INGEST_ENGINE", "columnar")
    if chosen not in ENGINES:
        raise ValueError(f"PAYMENTS_INGEST_ENGINE must be one of {', '.join(ENGINES)}, not {chosen!r}")
    return chosen


def _month_date(month: int) -> dt.date:
    return dt.date(month // 12, month % 12 + 1, 1)


class PlacesSample:
    """Every k-th good line's client, method, city and zip (k doubles whenever the sample passes
    twice SAMPLE_ROWS): where customers pay in person, from a bounded sample of the whole file."""

    COLUMNS = ["client_id", "use_chip", "merchant_city", "zip"]

    def __init__(self):
        self.stride = 1
        self.parts: list[tuple[np.ndarray, pa.Table]] = []
        self.rows = 0

    def add(self, lines: np.ndarray, strings: pa.Table) -> None:
        keep = lines % self.stride == 0
        part = strings.select(self.COLUMNS).filter(pa.array(keep))
        self.parts.append((lines[keep], part))
        self.rows += part.num_rows
        while self.rows > 2 * SAMPLE_ROWS:
            self.stride *= 2
            kept = [(n[n % self.stride == 0], t.filter(pa.array(n % self.stride == 0))) for n, t in self.parts]
            self.parts = kept
            self.rows = sum(t.num_rows for _, t in kept)

    def csv_blocks(self):
        """CSV blocks as the SQL engine stages the lines: an empty field is NULL."""
        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        for _, table in self.parts:
            columns = [pc.if_else(pc.equal(table[c], ""), pa.scalar(None, pa.string()), table[c]) for c in self.COLUMNS]
            out = pa.BufferOutputStream()
            pacsv.write_csv(pa.table(columns, names=self.COLUMNS), out, write_options=options)
            yield out.getvalue().to_pybytes()


class MonthTableFinisher:
    """Two connections building the indexes and foreign keys of transactions_payment on each
    month table handed to `put` (each statement commits on its own: the tables stay unattached
    in the staging schema, so nothing is visible, and their foreign keys lock the referenced
    tables only while one is validated)."""

    def __init__(self, ctx: IngestContext, indexes, foreign_keys, timings: dict, lock: threading.Lock):
        self.ctx = ctx
        self.indexes = indexes
        self.foreign_keys = foreign_keys
        self.timings = timings
        self.lock = lock
        self.queue: queue.Queue = queue.Queue()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._work, name=f"columnar-index-{k}") for k in range(2)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def put(self, name: str) -> None:
        self.queue.put(name)

    def finish(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        if self.errors:
            raise self.errors[0]

    def _work(self) -> None:
        conn = None
        try:
            conn = connect()
            conn.execute("SET maintenance_work_mem = '128MB'")
            conn.execute("SET synchronous_commit = off")
            while (name := self.queue.get()) is not None:
                if self.errors or self.ctx.abort.is_set():
                    continue
                for key, statements in (
                    ("indexes", partition_load.index_statements(name, self.indexes)),
                    ("foreign_keys", partition_load.foreign_key_statements(name, self.foreign_keys)),
                ):
                    started = time.perf_counter()
                    for statement in statements:
                        conn.execute(statement)
                    with self.lock:
                        self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - started
        except BaseException as exc:
            self.errors.append(exc)
            self.ctx.abort.set()
        finally:
            if conn is not None:
                conn.close()


class ColumnarLoad:
    """Loads one transactions file into the staging schema (see the module docstring) and says
    what the main connection has to attach, insert and copy."""

    def __init__(self, ctx: IngestContext, f: SourceFile, labels: SourceFile | None):
        self.ctx = ctx
        self.f = f
        self.labels = labels
        self.timings: dict[str, float] = {}
        self.lock = threading.Lock()
        self.rest = ctx.staged(f, "crest")
        self.rest_rows = 0
        self.month_tables: dict[int, str] = {}
        self.closed: set[int] = set()

    def run(self) -> dict:
        ctx, f = self.ctx, self.f
        copy_conn, lookup = connect(), connect()
        # On disk from the first line: a spool in memory (a StringIO, 4 bytes a character) grew
        # with the file's rejected lines, up to 32 MB before it spilled.
        spool = tempfile.TemporaryFile(mode="w+", newline="")  # noqa: SIM115
        writer = csv.writer(spool, lineterminator="\n")

        def on_reject(r: Rejection) -> None:  # from the reader's thread and the typing one
            with self.lock:
                writer.writerow([r.line_number, r.reason, r.detail, r.raw])

        finisher = None
        typer = None
        labels = None
        try:
            started = time.perf_counter()
            copy_conn.execute("SET synchronous_commit = off")
            self.existing = partition_load.existing_partitions(lookup)
            indexes, foreign_keys = partition_load.payment_indexes(lookup)
            refs = References.load(lookup)
            labels = Labels.from_staging(lookup, ctx.staged(self.labels, "parsed")) if self.labels else None
            self.id_range = lookup.execute("SELECT min(id), max(id) FROM transactions_payment").fetchone()
            self._tick("references_and_labels", started)
            reader = ColumnarReader(f.path, marker=ctx.marker, on_reject=on_reject)
            typer = BatchTyper(
                refs, labels, run_id=ctx.run.pk, on_reject=on_reject, source_tz=ctx.run.source_tz,
                resolve=lambda local: self._resolve(lookup, local), loaded=lambda ids: self._loaded(lookup, ids),
            )  # fmt: skip
            finisher = MonthTableFinisher(ctx, indexes, foreign_keys, self.timings, self.lock)
            finisher.start()
            sample = PlacesSample()
            progress = ctx.progress.file(f.index)

            def on_batch(lines, strings):
                sample.add(lines, strings)
                progress.rows_read = reader.rows
                progress.bytes_read = reader.blocks.bytes_read

            def on_close(month: int) -> None:
                self.closed.add(month)
                if month in self.month_tables:
                    finisher.put(self.month_tables[month])

            hits = ctx.staged(f, "chits")
            copy_conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} (id bigint)").format(hits))
            result = columnar_copy.load(
                copy_conn, f.path, marker=ctx.marker, on_reject=on_reject,
                table_for=lambda month: self._table_for(copy_conn, month),
                timings=self.timings, typer=typer, reader=reader, on_batch=on_batch, on_close=on_close, abort=ctx.abort,
                hits=hits,
            )  # fmt: skip
            started = time.perf_counter()
            rejects = self._copy_rejects(copy_conn, spool)
            places = self._copy_sample(copy_conn, sample)
            started = self._tick("rejects_and_sample", started)
            finisher.finish()
            self._tick("indexes_after_load", started)
            if typer.reject_seconds:
                self.timings["reject"] = typer.reject_seconds
            with ctx.progress.lock:
                progress.rows_read = reader.rows
                progress.bytes_read = f.size
                progress.sha256 = reader.digest.hexdigest()
            return {
                "rows": reader.rows,
                "loaded": result["loaded"],
                "already_loaded": typer.already_loaded,
                "rejects": rejects,
                "places": places,
                "hits": hits,
                "rest": self.rest if self.rest_rows else None,
                "tables": [
                    (name, _month_date(month), [suffix for suffix, *_ in indexes])
                    for month, name in sorted(self.month_tables.items())
                ],
            }
        except BaseException:
            ctx.abort.set()
            if finisher is not None:
                with contextlib.suppress(BaseException):  # the first error is the one raised
                    finisher.finish()
            raise
        finally:
            if typer is not None:
                typer.close()
            if labels is not None:
                labels.close()
            spool.close()
            copy_conn.close()
            lookup.close()
            for key, seconds in self.timings.items():
                ctx.progress.add_timing(f"transactions:columnar:{key}", seconds)

    def _tick(self, key: str, started: float) -> float:
        now = time.perf_counter()
        with self.lock:
            self.timings[key] = self.timings.get(key, 0.0) + now - started
        return now

    def _table_for(self, conn, month: int) -> sql.Composable:
        """Where the rows of a month go (on the COPY thread): the file's fresh table for the month,
        or, for a month that has a partition already or that the file had moved past, the table
        whose rows the main connection inserts through transactions_payment."""
        date = _month_date(month)
        if month in self.month_tables and month not in self.closed:
            return staging(self.month_tables[month])
        if month in self.closed or partition_name(PAYMENT_TABLE, date) in self.existing:
            if not self.rest_rows:
                conn.execute(
                    sql.SQL("CREATE TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS)").format(
                        self.rest, sql.Identifier(PAYMENT_TABLE)
                    )
                )
            self.rest_rows += 1
            return self.rest
        name = partition_load.month_table_name(self.ctx, self.f, date)
        for statement in partition_load.month_table_statements(name, date):
            conn.execute(statement)
        self.month_tables[month] = name
        return staging(name)

    def _loaded(self, conn, ids: np.ndarray) -> np.ndarray:
        """Which of these ids an earlier run has loaded (the transform lock keeps other runs from
        loading until this file commits; this run's earlier files are committed)."""
        low, high = self.id_range
        none = np.zeros(ids.size, dtype=bool)
        if low is None:
            return none
        inside = (ids >= low) & (ids <= high)
        if not inside.any():
            return none
        wanted = ids[inside]
        lo, hi = int(wanted.min()), int(wanted.max())
        if hi - lo <= 64 * wanted.size:  # a narrow range (a file sorted by id): one range scan
            rows = conn.execute("SELECT id FROM transactions_payment WHERE id BETWEEN %s AND %s", [lo, hi])
        else:
            rows = conn.execute("SELECT id FROM transactions_payment WHERE id = ANY(%s)", [wanted.tolist()])
        found = np.array([row[0] for row in rows.fetchall()], dtype=np.int64)
        return np.isin(ids, found) if found.size else none

    def _resolve(self, conn, local: np.ndarray) -> np.ndarray:
        """UTC microseconds of local times (microseconds since 1970 on the wall clock) as
        PostgreSQL reads `timestamp AT TIME ZONE source_tz`."""
        texts = np.datetime_as_string(local.astype("datetime64[us]"), unit="us").tolist()
        rows = conn.execute(
            "SELECT (extract(epoch FROM x.t::timestamp AT TIME ZONE %s) * 1000000)::bigint "
            "FROM unnest(%s::text[]) WITH ORDINALITY x(t, n) ORDER BY x.n",
            [self.ctx.run.source_tz, texts],
        ).fetchall()
        return np.array([row[0] for row in rows], dtype=np.int64)

    def _copy_rejects(self, conn, spool) -> sql.Identifier:
        table = self.ctx.staged(self.f, "crejects")
        copy_rejections(conn, table, spool)
        return table

    def _copy_sample(self, conn, sample: PlacesSample) -> sql.Identifier:
        table = self.ctx.staged(self.f, "cplaces")
        columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in sample.COLUMNS)
        conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(table, columns))
        with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} FROM STDIN WITH (FORMAT csv)").format(table)) as copy:
            for block in sample.csv_blocks():
                copy.write(block)
        return table


def transform_transactions(ctx: IngestContext, f: SourceFile, labels: SourceFile | None, label_hits: list) -> dict:
    """The columnar engine's part of the file's transaction on the main connection: the load
    (on connections of its own), then its rejected rows, the customers' home areas, the month
    tables attached and the rows of other months inserted. Returns the file's counts."""
    statements = context.load_statements("transactions.sql")
    params = ctx.params(f)
    ctx.set_phase(f"loading {f.name}")
    result = ColumnarLoad(ctx, f, labels).run()
    ctx.stage_results[f.index]["rows"] = result["rows"]
    label_hits.append(result["hits"])
    started = time.monotonic()
    rejected = ctx.run_statement(
        "transactions", statements, "collect_rejects", {"rejects": result["rejects"]}, params
    ).rowcount
    if result["loaded"]:
        ctx.run_statement(
            "transactions", statements, "home_area", {"staging": result["places"]}, params | {"sample_percent": 100}
        )
    ctx.progress.add_timing("transactions:main", time.monotonic() - started)
    ctx.reached("transactions_loaded")
    partition_load.attach(ctx, result["tables"])
    loaded = result["loaded"]
    if result["rest"] is not None:
        rest = {"rest": result["rest"]}
        unforeseen = [r[0] for r in ctx.run_statement("transactions", statements, "unforeseen_months", rest, {})]
        existing = partition_load.existing_partitions(ctx.main)
        missing = [m for m in unforeseen if partition_name(PAYMENT_TABLE, m) not in existing]
        if missing:
            partition_load.create_partitions(ctx.main, missing)
        ctx.run_statement("transactions", statements, "load_existing_months", rest, params)
    if ctx.abort.is_set():
        raise IngestAborted("run aborted")
    return {"loaded": loaded, "rejected": rejected}
