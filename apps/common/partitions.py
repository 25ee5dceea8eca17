"""Monthly range partitions for the high-volume tables (payments, telematics samples).

The partitioned parents are created by migrations; these helpers create, list and detach the
month partitions. Partition names are `<parent>_yYYYYmMM`."""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from psycopg import sql


@dataclass(frozen=True)
class Partition:
    name: str
    start: dt.date
    end: dt.date
    rows_estimate: int


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(parent: str, month: dt.date) -> str:
    return f"{parent}_y{month.year:04d}m{month.month:02d}"


def month_bounds(month: dt.date) -> tuple[sql.Literal, sql.Literal]:
    """The bounds of a month's partition, as the dates PostgreSQL reads in the session's time zone."""
    return sql.Literal(month.isoformat()), sql.Literal(add_months(month, 1).isoformat())


def partition_create_sql(parent: str, month: dt.date) -> sql.Composed:
    """CREATE TABLE IF NOT EXISTS of a month's partition of `parent`, names quoted as identifiers."""
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
        sql.Identifier(partition_name(parent, month)), sql.Identifier(parent), *month_bounds(month)
    )


def ensure_month_partitions(parent: str, first: dt.date, last: dt.date) -> list[str]:
    """Create the month partitions covering [first, last] that do not exist yet."""
    created = []
    month = month_start(first)
    with connection.cursor() as cursor:
        while month <= last:
            name = partition_name(parent, month)
            cursor.execute("SELECT to_regclass(%s)", [name])
            if cursor.fetchone()[0] is None:
                cursor.execute(partition_create_sql(parent, month))
                created.append(name)
            month = add_months(month, 1)
    return created


def list_partitions(parent: str) -> list[Partition]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = %s::regclass
            ORDER BY c.relname
            """,
            [parent],
        )
        rows = cursor.fetchall()
    out = []
    for name, bound, tuples in rows:
        # bound looks like: FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')
        parts = bound.split("'")
        start = dt.date.fromisoformat(parts[1][:10]) if len(parts) > 1 else None
        end = dt.date.fromisoformat(parts[3][:10]) if len(parts) > 3 else None
        out.append(Partition(name=name, start=start, end=end, rows_estimate=max(tuples, 0)))
    return out
