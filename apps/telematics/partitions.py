"""Month partitions of the samples table (and of any other month-partitioned table, such as
transactions_payment): create ahead, create for an upload's months, and retire old months by
detach → pg_dump to a compressed archive → drop. Nothing is ever dropped without its archive."""

import datetime as dt
import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from apps.common.exceptions import ApplicationError
from apps.common.partitions import (
    Partition,
    add_months,
    ensure_month_partitions,
    list_partitions,
    month_start,
    partition_name,
)

SAMPLES_TABLE = "telematics_telematicssample"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def partitioned_table_check(table: str) -> str:
    """The table name if it is a range-partitioned table of this database, else an error."""
    if not _IDENTIFIER.match(table):
        raise ApplicationError(f"{table!r} is not a table name", code="invalid_table")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = %s AND c.relnamespace = 'public'::regnamespace AND p.partstrat = 'r'",
            [table],
        )
        if cursor.fetchone() is None:
            raise ApplicationError(f"{table} is not a range-partitioned table", code="invalid_table")
    return table


def partitions_list(*, table: str = SAMPLES_TABLE) -> list[Partition]:
    return list_partitions(partitioned_table_check(table))


def partitions_ensure(*, table: str = SAMPLES_TABLE, first: dt.date, last: dt.date) -> list[str]:
    """Creates the missing month partitions for [first, last]. One query when none is missing;
    otherwise a transaction-scoped advisory lock serialises concurrent creators."""
    months = []
    month = month_start(first)
    while month <= last:
        months.append(partition_name(table, month))
        month = add_months(month, 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM unnest(%s::text[]) AS n WHERE to_regclass(n) IS NULL", [months])
        if not cursor.fetchall():
            return []
        with transaction.atomic():
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"partitions:{table}"])
            return ensure_month_partitions(table, first, last)


def partitions_ensure_ahead(*, table: str = SAMPLES_TABLE, months: int | None = None) -> list[str]:
    """The current month and `months` months after it (default PARTITION_MONTHS_AHEAD)."""
    ahead = settings.TELEMATICS["PARTITION_MONTHS_AHEAD"] if months is None else months
    today = timezone.localdate()
    return partitions_ensure(table=partitioned_table_check(table), first=today, last=add_months(today, ahead))


@dataclass
class Archived:
    partition: str
    path: str
    bytes: int
    rows: int


def pg_tool(name: str) -> str:
    """The newest PostgreSQL client tool of that name (pg_dump must not be older than the server)."""
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(re.search(r"/postgresql/(\d+)", p).group(1)),
    )
    if candidates:
        return candidates[-1]
    found = shutil.which(name)
    if found:
        return found
    raise ApplicationError(f"{name} was not found (install postgresql-client)", code="missing_tool")


def _pg_env() -> tuple[list[str], dict]:
    db = connection.settings_dict
    args = ["-h", db["HOST"] or "localhost", "-p", str(db["PORT"] or 5432), "-U", db["USER"], "-d", db["NAME"]]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    if role := db.get("OPTIONS", {}).get("assume_role"):
        env["PGOPTIONS"] = f"-c role={role}"  # as Django's connections (OPTIONS["assume_role"])
    return args, env


def partitions_detach(*, table: str = SAMPLES_TABLE, before: dt.date, archive_dir: str | None = None) -> list[Archived]:
    """Retires every month partition that ends on or before `before` (a month start): each is
    detached, dumped with pg_dump (custom format, compressed), the dump is checked with
    pg_restore --list, and only then dropped. When the dump fails the partition is attached
    again and the error is raised, so no rows are ever lost."""
    table = partitioned_table_check(table)
    before = month_start(before)
    directory = Path(archive_dir or settings.TELEMATICS["ARCHIVE_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    pg_dump, pg_restore = pg_tool("pg_dump"), pg_tool("pg_restore")
    args, env = _pg_env()
    archived = []
    for part in list_partitions(table):
        if part.end is None or part.end > before:
            continue
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(part.name)))
            rows = cursor.fetchone()[0]
            with transaction.atomic():
                cursor.execute(
                    sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                        sql.Identifier(table), sql.Identifier(part.name)
                    )
                )
        path = directory / f"{part.name}.dump"
        dump = subprocess.run(
            [pg_dump, *args, "--format=custom", "--compress=6", "--table", f"public.{part.name}", "--file", str(path)],
            env=env,
            capture_output=True,
            text=True,
        )
        listing = None
        if dump.returncode == 0:
            listing = subprocess.run([pg_restore, "--list", str(path)], capture_output=True, text=True)
        if dump.returncode != 0 or listing.returncode != 0 or f"TABLE DATA public {part.name}" not in listing.stdout:
            with connection.cursor() as cursor, transaction.atomic():
                cursor.execute(
                    sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                        sql.Identifier(table),
                        sql.Identifier(part.name),
                        sql.Literal(part.start.isoformat()),
                        sql.Literal(part.end.isoformat()),
                    )
                )
            error = (dump.stderr or (listing.stderr if listing else "") or "the dump has no table data").strip()
            raise ApplicationError(
                f"archiving {part.name} failed, the partition was attached again: {error}", code="archive_failed"
            )
        with connection.cursor() as cursor, transaction.atomic():
            cursor.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(part.name)))
        archived.append(Archived(partition=part.name, path=str(path), bytes=path.stat().st_size, rows=rows))
    return archived
