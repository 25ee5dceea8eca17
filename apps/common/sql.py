"""Small helpers for hand-written SQL, and the one loader of the `.sql` files apps keep.

SQL lives in `apps/<app>/sql/<file>.sql` (or a `sql/` folder beside the module that runs it). A
file holds one statement, or several, each after a marker line `-- @statement <name>`; text before
the first marker is the file's comment. Names of tables and schemas are never pasted into the
text: the statements carry `{placeholders}` that the caller fills with `psycopg.sql.Identifier`
through `statement_sql(...).format(...)`. `execute` and `fetch_dicts` run a batch statement with
JIT off.
"""

import functools
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
from django.db import connection as django_connection
from django.db import transaction
from psycopg import sql

_STATEMENT_MARKER = re.compile(r"^-- @statement (\w+)\s*$", re.MULTILINE)


def _sql_dir(anchor: str) -> Path:
    """The `sql/` folder of the package of the module named `anchor` (pass `__name__`)."""
    module = sys.modules[anchor]
    base = Path(module.__file__).parent
    return base / "sql"


@functools.cache
def _read_statements(path: Path) -> dict[str, str]:
    text = path.read_text()
    parts = _STATEMENT_MARKER.split(text)
    if len(parts) == 1:
        return {path.stem: text.strip().rstrip(";")}
    return {parts[i]: parts[i + 1].strip().rstrip(";") for i in range(1, len(parts), 2)}


def statements(anchor: str, filename: str) -> dict[str, str]:
    """Every named statement of `<anchor's package>/sql/<filename>`; a file without markers is one
    statement named after the file (`rfm.sql` -> "rfm")."""
    return _read_statements(_sql_dir(anchor) / filename)


def statement(anchor: str, filename: str, name: str | None = None) -> str:
    """One statement of a SQL file: `name`, or the file's only statement when `name` is None."""
    found = statements(anchor, filename)
    if name is None:
        if len(found) != 1:
            raise KeyError(f"{filename} holds {len(found)} statements; name one of {', '.join(found)}")
        return next(iter(found.values()))
    try:
        return found[name]
    except KeyError:
        raise KeyError(f"{filename} has no statement {name!r}; it has {', '.join(found)}") from None


def statement_sql(anchor: str, filename: str, name: str | None = None, **identifiers) -> sql.Composed | sql.SQL:
    """A statement as psycopg `sql`, its `{placeholders}` filled with the given `sql.Composable`s
    (names always as `sql.Identifier`, never as text)."""
    query = sql.SQL(statement(anchor, filename, name))
    return query.format(**identifiers) if identifiers else query


# Batch statements run with JIT off (SET LOCAL: for their own transaction only). The planner cannot
# see how many rows `generate_series`, `unnest` and CTEs return, so it prices these statements in
# the millions and switches on JIT compilation, which then costs seconds on statements that run in
# milliseconds. Scans of a partitioned table (the payments' month tables) pay it once per
# partition: seconds of compilation for a query that reads every payment in one.


@contextmanager
def jit_off() -> Iterator[None]:
    """A transaction (or savepoint) in which Django's queries run with JIT off."""
    with transaction.atomic(), django_connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        yield


def execute(query: str | sql.Composable, params: dict | None = None) -> int:
    """Runs one batch statement with JIT off; returns its row count."""
    with jit_off(), django_connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.rowcount


def fetch_dicts(query: str | sql.Composable, params: dict | list | None = None) -> list[dict]:
    """Runs one batch query with JIT off and returns its rows as dicts keyed by column name."""
    with jit_off(), django_connection.cursor() as cursor:
        cursor.execute(query, params)
        columns = [c.name for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def own_connection(*, application_name: str) -> psycopg.Connection:
    """A psycopg connection of its own to Django's database (tests included), in autocommit: for
    work that must not share Django's connection (parallel loaders, a lock held while a job runs)."""
    s = django_connection.settings_dict
    conn = psycopg.connect(
        dbname=s["NAME"],
        user=s["USER"] or None,
        password=s["PASSWORD"] or None,
        host=s["HOST"] or None,
        port=s["PORT"] or None,
        autocommit=True,
        application_name=application_name,
    )
    # The same role as Django's connections (OPTIONS["assume_role"]: SET ROLE after login).
    if role := s.get("OPTIONS", {}).get("assume_role"):
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    return conn


def int_array_literal(ids) -> str:
    """'{1,2,3}' for a `%s::bigint[]` parameter: a chunk's 1,000 ids as one string, which costs
    a fraction of adapting a list element by element."""
    return "{" + ",".join(map(str, np.asarray(ids, dtype=np.int64).tolist())) + "}"


# COPY ... (FORMAT binary) of rows whose fields are all fixed-width and never NULL: each row is
# a field count, then a length and a value per field, so a row is one numpy structured record
# and a whole payload is built or read without a Python loop per row.
_PGCOPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_PGCOPY_TRAILER = b"\xff\xff"


def pgcopy_row_dtype(columns: list[tuple[str, str]]) -> np.dtype:
    """The packed layout of one row of (name, big-endian numpy kind) columns, e.g. ("id", ">i8")."""
    fields = [("count", ">i2")]
    for name, kind in columns:
        fields += [(f"len_{name}", ">i4"), (name, kind)]
    return np.dtype(fields)


def pgcopy_encode(columns: list[tuple[str, str]], values: dict[str, np.ndarray]) -> bytes:
    """A COPY BINARY payload of len(values) rows, one array per column."""
    n = len(next(iter(values.values()))) if values else 0
    rows = np.empty(n, dtype=pgcopy_row_dtype(columns))
    rows["count"] = len(columns)
    for name, kind in columns:
        rows[f"len_{name}"] = np.dtype(kind).itemsize
        rows[name] = values[name]
    # signature, flags 0, no header extension; the rows; the trailer (a field count of -1)
    return _PGCOPY_SIGNATURE + bytes(8) + rows.tobytes() + _PGCOPY_TRAILER


def pgcopy_decode(payload: bytes, columns: list[tuple[str, str]]) -> np.ndarray:
    """The rows of a COPY ... TO STDOUT (FORMAT binary) payload as a structured array; a payload
    that is not exactly such rows (another column count or width, a NULL) is a ValueError."""
    if payload[:11] != _PGCOPY_SIGNATURE:
        raise ValueError("not a COPY BINARY payload")
    start = 19 + int.from_bytes(payload[15:19], "big")  # signature, flags, header extension
    layout = pgcopy_row_dtype(columns)
    count = max(len(payload) - start - 2, 0) // layout.itemsize
    rows = np.frombuffer(payload, dtype=layout, offset=start, count=count)
    if (
        payload[-2:] != _PGCOPY_TRAILER
        or start + count * layout.itemsize + 2 != len(payload)
        or (rows["count"] != len(columns)).any()
        or any((rows[f"len_{name}"] != np.dtype(kind).itemsize).any() for name, kind in columns)
    ):
        raise ValueError(f"COPY rows are not {[kind for _, kind in columns]} without NULLs")
    return rows
