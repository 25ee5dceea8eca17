"""Running the batch jobs' set-based SQL.

The planner cannot see how many rows `generate_series`, `unnest` and CTEs return, so it prices
these statements in the millions and switches on JIT compilation, which then costs seconds on
statements that run in milliseconds. The batch statements therefore run with JIT off (SET LOCAL:
for their own transaction only)."""

from django.db import connection, transaction


def execute(sql: str, params: dict | None = None) -> int:
    """Runs one statement; returns its row count."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return cursor.rowcount


def fetch_dicts(sql: str, params: dict | None = None) -> list[dict]:
    """Runs one query and returns its rows as dicts keyed by column name."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        columns = [c.name for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def fetch_all(sql: str, params: dict | None = None) -> list[tuple]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return cursor.fetchall()
