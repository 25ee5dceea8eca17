"""The load of a transactions file: its lines split at month boundaries between load workers,
each typing its lines on a connection of its own into fresh month tables (no index, no foreign
key while loading) that then get the indexes, foreign keys and a check of the partition bound of
transactions_payment and stay unattached in the staging schema; the main connection's
transaction for the file then attaches them, which costs no index build and no scan. Payments of
months that already have a partition go to a worker's default partition and are moved by the main
connection."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from apps.common.partitions import add_months, partition_create_sql, partition_name
from apps.transactions.ingest.context import (
    PAYMENT_TABLE,
    IngestAborted,
    IngestContext,
    connect,
    load_statements,
    staging,
)
from apps.transactions.ingest.layout import SourceFile

LOAD_WORKERS = 2  # connections typing the rows of a transactions file in parallel (the machine has 2 cores)
BOUND_CHECK = "payment_month_bound"
AUTOVACUUM = ("autovacuum_enabled", "toast.autovacuum_enabled")  # off while a month table is staged
NONE_LOADED = sql.SQL("true")  # the load's not-loaded test when no payment has an id in the file's range


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


def payment_indexes(conn: psycopg.Connection) -> tuple[list[tuple], list[tuple[str, str]]]:
    """The indexes of transactions_payment as (name suffix, columns, is primary key, "btree (...)"),
    named the way PostgreSQL names a partition's copy of them, and its foreign keys as
    (name, definition): a month table built with these is taken over as it is when attached."""
    indexes = []
    taken: set[str] = set()
    for primary, columns, definition in conn.execute(
        "SELECT i.indisprimary, array_agg(a.attname ORDER BY k.ord), "
        "       split_part(pg_get_indexdef(i.indexrelid), ' USING ', 2) "
        "FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = %s::regclass GROUP BY i.indexrelid, i.indisprimary ORDER BY i.indexrelid",
        [PAYMENT_TABLE],
    ).fetchall():
        suffix = "pkey" if primary else "_".join(columns) + "_idx"
        # Two indexes on the same columns (the newest payments, all and frauds only): the second
        # gets a number, as PostgreSQL numbers it.
        base, number = suffix, 0
        while suffix in taken:
            number += 1
            suffix = f"{base}{number}"
        taken.add(suffix)
        indexes.append((suffix, list(columns), primary, definition))
    foreign_keys = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        [PAYMENT_TABLE],
    ).fetchall()
    return indexes, foreign_keys


def month_table_name(ctx: IngestContext, f: SourceFile, month: dt.date) -> str:
    """The staging name of the file's table for one month (r<run>_f<file>_y2010m01)."""
    return ctx.table(f, partition_name("", month).lstrip("_"))


def month_table_statements(name: str, month: dt.date) -> list[sql.Composable]:
    """A fresh month table in the staging schema, with the check of its partition bound added
    while it is empty (no scan), so attaching it later needs no scan either. Autovacuum leaves
    it alone until it is attached (`attach`): a table committed while the file is still being
    loaded (the columnar engine's) would otherwise be vacuumed and analysed meanwhile, and each
    index build, foreign key or attach that met such a worker waited a second (deadlock_timeout)
    for it to be cancelled."""
    lo, hi = _month_bounds(month)
    return [
        sql.SQL(
            "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH ({} = false, {} = false)"
        ).format(staging(name), sql.Identifier(PAYMENT_TABLE), sql.SQL(AUTOVACUUM[0]), sql.SQL(AUTOVACUUM[1])),
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (paid_at >= {} AND paid_at < {})").format(
            staging(name), sql.Identifier(BOUND_CHECK), lo, hi
        ),
    ]


def index_statements(name: str, indexes: list[tuple]) -> list[sql.Composable]:
    """The indexes of transactions_payment (see payment_indexes) on the staged month table `name`."""
    statements = []
    for suffix, columns, primary, definition in indexes:
        index_name = sql.Identifier(f"{name}_{suffix}")
        if primary:
            statements.append(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                    staging(name), index_name, sql.SQL(", ").join(map(sql.Identifier, columns))
                )
            )
        else:
            statements.append(
                sql.SQL("CREATE INDEX {} ON {} USING {}").format(index_name, staging(name), sql.SQL(definition))
            )
    return statements


def foreign_key_statements(name: str, foreign_keys: list[tuple[str, str]]) -> list[sql.Composable]:
    return [
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            staging(name), sql.Identifier(constraint), sql.SQL(definition)
        )
        for constraint, definition in foreign_keys
    ]


def not_loaded_check(ctx: IngestContext, f: SourceFile) -> sql.Composable:
    """The load's test that a payment is not loaded yet: needed only when some payment has an
    id within the range of the file's ids (an index probe per partition says so). The
    transform lock keeps other runs from loading payments until this file is committed."""
    id_range = ctx.stage_results[f.index]["id_range"]
    if (
        id_range is not None
        and not ctx.main.execute(
            "SELECT EXISTS (SELECT 1 FROM transactions_payment WHERE id BETWEEN %s AND %s)", list(id_range)
        ).fetchone()[0]
    ):
        return NONE_LOADED
    return sql.SQL("NOT EXISTS (SELECT 1 FROM transactions_payment x WHERE x.id = v.id)")


def _candidate_months(ctx: IngestContext, f: SourceFile) -> list[dt.date]:
    """Months (UTC) the file's payments can fall in, from the dates the reader saw: with a
    source time zone other than UTC a payment on the first or the last days of a month may
    belong to the month before or after (an unused month table is dropped again)."""
    seen = ctx.stage_results[f.index]["months"]
    months = set(seen["all"])
    if ctx.run.source_tz != "UTC":
        months |= {m - 1 for m in seen["first_day"]} | {m + 1 for m in seen["month_end"]}
    return [dt.date(m // 12, m % 12 + 1, 1) for m in sorted(months)]


def existing_partitions(conn: psycopg.Connection) -> set[str]:
    """The names of the month partitions transactions_payment has."""
    return {
        row[0]
        for row in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [PAYMENT_TABLE],
        ).fetchall()
    }


def create_partitions(conn: psycopg.Connection, months: list[dt.date]) -> None:
    for month in months:
        conn.execute(partition_create_sql(PAYMENT_TABLE, month))


def load_plan(ctx: IngestContext, f: SourceFile) -> list[LoadPart]:
    """Splits the file's lines between the load workers at month boundaries (by the reader's
    first line, last line and row count of each month) and gives each worker the new months
    whose rows all lie in its lines: a month table belongs to exactly one worker. Rows of any
    other month (existing partitions, a month split between workers in a file out of date
    order) go to the worker's default partition and are moved by the main connection."""
    result = ctx.stage_results[f.index]
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
    existing = existing_partitions(ctx.main)
    shift = 0 if ctx.run.source_tz == "UTC" else 1
    parts = [LoadPart(number=k, first_line=lo, last_line=hi, months=[]) for k, (lo, hi) in enumerate(windows)]
    for month in _candidate_months(ctx, f):
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


def run_load_workers(ctx: IngestContext, f: SourceFile, tables: dict, parts: list[LoadPart]) -> list[dict]:
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
                results[part.number] = _load_part(ctx, conn, f, tables, part)
            finally:
                conn.close()
        except BaseException as exc:
            errors.append(exc)
            ctx.abort.set()

    ctx.set_phase(f"loading {f.name}")
    threads = [threading.Thread(target=work, args=(part,), name=f"ingest-load-{part.number}") for part in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
            if ctx.abort.is_set():
                with lock:
                    for conn in connections:
                        if not conn.closed:
                            conn.cancel_safe()
    if errors:
        raise errors[0]
    if ctx.abort.is_set():
        raise IngestAborted("run aborted")
    return [results[part.number] for part in parts]


def _load_part(ctx: IngestContext, conn: psycopg.Connection, f: SourceFile, tables: dict, part: LoadPart) -> dict:
    """One worker's transaction (two for the even ones, see the foreign keys below): its lines
    typed and checked into fresh month tables, which carry a check of their partition bound
    and then get the indexes and foreign keys of transactions_payment, so attaching them
    later needs neither an index build nor a scan.
    The tables stay in the staging schema, unattached, until the file's transaction attaches
    them: a run killed before that leaves nothing visible, and its staging is dropped."""
    statements = load_statements("transactions.sql")
    prefix = f"{ctx.table(f, 'w')}{part.number}"
    loader, rest, rejects, hits = (staging(f"{prefix}_{role}") for role in ("loader", "rest", "rejects", "hits"))
    indexes, foreign_keys = payment_indexes(conn)
    params = ctx.params(f) | {"first_line": part.first_line, "last_line": part.last_line}
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
            name = month_table_name(ctx, f, month)
            ident = staging(name)
            for statement in month_table_statements(name, month):
                run("tables", statement)
            lo, hi = _month_bounds(month)
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
            sql.SQL("SELECT count(*) FROM {} WHERE line_no BETWEEN %s AND %s").format(ctx.staged(f, "rejects")),
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
                for statement in index_statements(name, indexes):
                    run("indexes", statement)

        def add_foreign_keys() -> None:
            for name, _ in kept:
                for statement in foreign_key_statements(name, foreign_keys):
                    run("foreign_keys", statement)

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
        ctx.progress.add_timing(f"transactions:worker{part.number}:{key}", seconds)
    return {
        "loaded": loaded,
        "rejects": rejects,
        "rest": rest,
        "hits": hits,
        "tables": [(name, month, [suffix for suffix, *_ in indexes]) for name, month in kept],
    }


def attach(ctx: IngestContext, tables: list[tuple[str, dt.date, list[str]]]) -> None:
    """Moves the workers' month tables out of the staging schema under their partition names
    and attaches them: their indexes, foreign keys and bound check match, so PostgreSQL takes
    them over without building or scanning anything."""
    started = time.monotonic()
    for name, month, suffixes in tables:
        final = partition_name(PAYMENT_TABLE, month)
        ctx.main.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(staging(name), sql.Identifier(final)))
        for suffix in suffixes:
            ctx.main.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    staging(f"{name}_{suffix}"), sql.Identifier(f"{final}_{suffix}")
                )
            )
        ctx.main.execute(sql.SQL("ALTER TABLE {} SET SCHEMA public").format(staging(final)))
        ctx.main.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                sql.Identifier(PAYMENT_TABLE), sql.Identifier(final), *_month_bounds(month)
            )
        )
        ctx.main.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}, RESET ({})").format(
                sql.Identifier(final), sql.Identifier(BOUND_CHECK), sql.SQL(", ").join(map(sql.SQL, AUTOVACUUM))
            )
        )
    ctx.progress.add_timing("transactions:attach", time.monotonic() - started)
