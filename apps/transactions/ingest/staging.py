"""Staging: two copy workers, each on a connection of its own, read the delivery files and COPY
them into UNLOGGED all-text tables of the staging schema (one transaction per file), with the
lines the readers set aside and the ids they saw out of order, while the main connection
transforms the files already staged."""

from __future__ import annotations

import csv
import json
import logging
import re
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from psycopg import sql

from apps.common.exceptions import ApplicationError
from apps.customers.cards import card_number_hmac
from apps.transactions.ingest import masking, readers
from apps.transactions.ingest.checks import LabelChecks, TransactionChecks
from apps.transactions.ingest.context import STAGING_SCHEMA, IngestAborted, IngestContext, connect, staging
from apps.transactions.ingest.layout import COLUMNS, SourceFile

logger = logging.getLogger(__name__)

USER_STAGED = [c for c in COLUMNS["users"] if c != "address"]  # the street address is never staged
CARD_STAGED = [
    "id", "client_id", "card_brand", "card_type", "number_hmac", "last4", "number_problem", "expires",
    "has_chip", "num_cards_issued", "credit_limit", "acct_open_date", "year_pin_last_changed", "card_on_dark_web",
]  # fmt: skip


def drop_staging(conn: psycopg.Connection, run_id: int) -> None:
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


def read_mcc(f: SourceFile) -> dict:
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


class Stager:
    """The copy workers of a run. `wait(f)` returns when file `f` is staged (its results are in
    `ctx.stage_results`) and raises what failed its staging."""

    def __init__(self, ctx: IngestContext):
        self.ctx = ctx
        self.staged: dict[int, threading.Event] = {f.index: threading.Event() for f in ctx.files}
        self.errors: dict[int, BaseException] = {}
        self.workers: list[threading.Thread] = []
        for f in ctx.files:
            if f.kind == "transactions" and ctx.engine == "columnar":  # the columnar engine reads it itself
                ctx.stage_results[f.index] = {
                    "rows": 0, "candidates": 0, "months": None, "month_lines": None, "id_range": None,
                }  # fmt: skip
                self.staged[f.index].set()

    def start(self) -> None:
        queue = self._queue()
        for number in range(2):
            worker = threading.Thread(target=self._worker, args=(queue,), name=f"ingest-copy-{number}")
            worker.start()
            self.workers.append(worker)

    def join(self) -> None:
        for worker in self.workers:
            worker.join()

    def wait(self, f: SourceFile) -> None:
        ctx = self.ctx
        ctx.set_phase(f"staging {f.name}")
        while not self.staged[f.index].wait(0.2):
            if ctx.abort.is_set() and f.index not in ctx.stage_results:
                break
        if f.index in self.errors:
            raise self.errors[f.index]
        if f.index not in ctx.stage_results:
            raise IngestAborted("run aborted")

    def _queue(self) -> list[SourceFile]:
        # The first transactions file starts at once on one worker; the other stages the small
        # files (and labels) in transform order, then both share the remaining transactions files.
        transactions = [f for f in self.ctx.files if f.kind == "transactions" and f.index not in self.ctx.stage_results]
        others = [f for f in self.ctx.files if f.kind != "transactions"]
        queue = transactions[:1] + others + transactions[1:]
        return list(reversed(queue))  # popped from the end

    def _worker(self, queue: list[SourceFile]) -> None:
        ctx = self.ctx
        conn = None
        try:
            conn = connect()
            while not ctx.abort.is_set():
                try:
                    f = queue.pop()
                except IndexError:
                    return
                started = time.monotonic()
                try:
                    with ctx.progress.lock:
                        ctx.progress.file(f.index).status = "staging"
                    ctx.stage_results[f.index] = self._stage(conn, f)
                    with ctx.progress.lock:
                        ctx.progress.file(f.index).status = "staged"
                        ctx.progress.file(f.index).seconds["copy"] = round(time.monotonic() - started, 3)
                    ctx.progress.add_timing(f"copy:{f.kind}", time.monotonic() - started)
                except BaseException as exc:  # handed to the main thread, which fails the run
                    self.errors[f.index] = exc
                    ctx.abort.set()
                    return
                finally:
                    self.staged[f.index].set()
        except BaseException as exc:
            for event_index, event in self.staged.items():
                if not event.is_set():
                    self.errors.setdefault(event_index, exc)
                    event.set()
        finally:
            if conn is not None:
                conn.close()
            for index, event in self.staged.items():
                if ctx.abort.is_set() and not event.is_set():
                    self.errors.setdefault(index, IngestAborted("run aborted"))
                    event.set()

    def _stage(self, conn: psycopg.Connection, f: SourceFile) -> dict:
        ctx = self.ctx
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+", newline="")  # noqa: SIM115
        months = month_lines = id_range = None
        writer = csv.writer(spool, lineterminator="\n")

        def on_reject(r: readers.Rejection) -> None:
            writer.writerow([r.line_number, r.reason, r.detail, r.raw])

        with conn.transaction():
            if f.kind == "transactions":
                reader = readers.CsvBlockReader(
                    f.path, columns=COLUMNS["transactions"], marker=ctx.marker, on_reject=on_reject,
                    checks=TransactionChecks(),
                )  # fmt: skip
                staged = self._copy_blocks(conn, f, reader, COLUMNS["transactions"], first_line=2)
                candidates = reader.cleaner.order.ids()
                months = reader.cleaner.checks.months
                month_lines = reader.cleaner.checks.month_lines
                order = reader.cleaner.order
                id_range = None if order.min_seen is None else (order.min_seen, order.max_seen)
            elif f.kind == "labels":
                reader = readers.LabelsReader(f.path, marker=ctx.marker, on_reject=on_reject, checks=LabelChecks())
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
        with ctx.progress.lock:
            p = ctx.progress.file(f.index)
            p.rows_read = rows
            p.bytes_read = f.size
            p.sha256 = reader.digest.hexdigest()
        # Fresh statistics: the transform's joins are planned on them.
        conn.execute(sql.SQL("ANALYZE {}").format(ctx.staged(f, "stage")))
        return {
            "rows": rows,
            "candidates": 0 if candidates is None else int(candidates.size),
            "months": months,
            "month_lines": month_lines,
            "id_range": id_range,
        }

    def _copy_blocks(self, conn, f: SourceFile, reader, columns: list[str], *, first_line: int) -> int:
        table = self.ctx.staged(f, "stage")
        text_columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)
        conn.execute(
            sql.SQL(
                "CREATE UNLOGGED TABLE {} (line_no bigint GENERATED ALWAYS AS IDENTITY (START WITH {} CACHE 10000), {})"
            ).format(table, sql.Literal(first_line), text_columns)
        )
        statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, FREEZE)").format(
            table, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        p = self.ctx.progress.file(f.index)
        with conn.cursor() as cur:
            with cur.copy(statement) as copy:
                for block in reader:
                    if self.ctx.abort.is_set():
                        raise IngestAborted("run aborted")
                    copy.write(block)
                    p.rows_read = reader.rows
                    p.bytes_read = reader.bytes_read
            return cur.rowcount

    def _copy_rows(self, conn, f: SourceFile, columns: list[str], rows) -> None:
        table = self.ctx.staged(f, "stage")
        conn.execute(
            sql.SQL("CREATE UNLOGGED TABLE {} (line_no bigint, raw_line text, {})").format(
                table, sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)
            )
        )
        statement = sql.SQL("COPY {} (line_no, raw_line, {}) FROM STDIN WITH (FREEZE)").format(
            table, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        p = self.ctx.progress.file(f.index)
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                if self.ctx.abort.is_set():
                    raise IngestAborted("run aborted")
                copy.write_row(row)
                p.rows_read += 1

    def _copy_users(self, conn, f: SourceFile, on_reject) -> readers.RowReader:
        columns = COLUMNS["users"]
        address = columns.index("address")
        reader = readers.RowReader(f.path, columns=columns, on_reject=on_reject, mask=masking.users_raw_mask)

        def rows():
            for line_no, fields, _raw in reader:
                kept = [None if value == "" else value for i, value in enumerate(fields) if i != address]
                yield [line_no, masking.users_line(fields), *kept]

        self._copy_rows(conn, f, USER_STAGED, rows())
        return reader

    def _copy_cards(self, conn, f: SourceFile, on_reject) -> readers.RowReader:
        columns = COLUMNS["cards"]
        reader = readers.RowReader(f.path, columns=columns, on_reject=on_reject, mask=masking.cards_raw_mask)
        number_at = columns.index("card_number")
        hmac_key = self.ctx.hmac_key

        def rows():
            for line_no, fields, _raw in reader:
                number = re.sub(r"[\s-]", "", fields[number_at])
                problem = "" if re.fullmatch(r"[0-9]{12,19}", number) else "card_number is not 12-19 digits"
                values = {c: (v if v != "" else None) for c, v in zip(columns, fields, strict=True)}
                values["number_hmac"] = card_number_hmac(number, hmac_key)
                values["last4"] = number[-4:] if not problem else ""
                values["number_problem"] = problem
                masked = masking.cards_line(fields, number, valid=not problem)
                yield [line_no, masked, *(values[c] for c in CARD_STAGED)]

        self._copy_rows(conn, f, CARD_STAGED, rows())
        return reader

    def _copy_mcc(self, conn, f: SourceFile):
        codes = read_mcc(f)
        counted = _WholeFile(f.path, rows=len(codes))
        rows = (
            [n, masking.mask_text(json.dumps({code: text})), str(code), text if isinstance(text, str) else None]
            for n, (code, text) in enumerate(codes.items(), start=1)
        )
        self._copy_rows(conn, f, ["code", "description"], rows)
        return counted

    def _copy_rejections(self, conn, f: SourceFile, spool) -> None:
        copy_rejections(conn, self.ctx.staged(f, "rejects"), spool)
        spool.close()

    def _copy_candidates(self, conn, f: SourceFile, ids) -> None:
        table = self.ctx.staged(f, "candidates")
        conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} (id bigint)").format(table))
        if ids.size:
            with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} FROM STDIN").format(table)) as copy:
                for start in range(0, ids.size, 100_000):
                    copy.write("\n".join(map(str, ids[start : start + 100_000].tolist())) + "\n")
            conn.execute(sql.SQL("ANALYZE {}").format(table))


def copy_rejections(conn, table: sql.Identifier, spool) -> None:
    """The set-aside lines a reader wrote to `spool` (CSV: line, reason, detail, masked line) into
    a new staging table."""
    conn.execute(
        sql.SQL("CREATE UNLOGGED TABLE {} (line_no bigint, reason text, detail text, raw_line text)").format(table)
    )
    spool.seek(0)
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} FROM STDIN WITH (FORMAT csv)").format(table)) as copy:
        while chunk := spool.read(1 << 20):
            copy.write(chunk.encode())


class _WholeFile:
    """Row count and checksum of a small file read whole (the MCC list)."""

    def __init__(self, path: Path, *, rows: int):
        import hashlib

        self.rows = rows
        self.digest = hashlib.sha256(Path(path).read_bytes())
