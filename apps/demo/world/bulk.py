"""Writing the demo world's rows in bulk: bulk_create batches, and COPY for the two big tables."""

import datetime as dt

from django.db import connection

BATCH = 2000


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, dt.date):  # dates and aware datetimes
        return value.isoformat()
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return str(value)


def copy_rows(table: str, columns: str, rows: list[tuple], chunk: int = 10_000) -> None:
    """COPY rows into a table in PostgreSQL's text format (identifiers come from this module, never
    from input). Formatting the lines here is several times faster than adapting row by row."""
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for start in range(0, len(rows), chunk):
            lines = ["\t".join(map(_copy_text, row)) for row in rows[start : start + chunk]]
            copy.write("\n".join(lines) + "\n")
