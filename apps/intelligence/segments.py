"""Customer segments by recency, frequency and spend (RFM) over rentals. The summary ranks every
customer of twelve months of rentals (seconds on a world of 100,000 rentals), so the nightly
`intelligence.customer_segments` job computes it and the command center reads the stored result."""

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from apps.common.sql import fetch_dicts, statement, statement_sql

SEGMENTS = ("champions", "loyal", "promising", "needs_attention", "at_risk", "hibernating")


def rfm_sql() -> str:
    return statement(__name__, "rfm.sql")


def customer_rfm_list(*, until: dt.datetime | None = None, lookback_days: int = 365) -> list[dict]:
    """One row per customer with started rentals in the lookback: recency/frequency/monetary,
    their 1..5 scores and the segment name."""
    until = until or timezone.now()
    return fetch_dicts(
        rfm_sql() + " ORDER BY customer_id",
        {"rfm_since": until - dt.timedelta(days=lookback_days), "rfm_until": until},
    )


def customer_segment_summary(*, until: dt.datetime | None = None, lookback_days: int = 365) -> list[dict]:
    """Customers, spend and averages per segment, in the order of SEGMENTS."""
    until = until or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # see apps.common.sql
        cursor.execute(
            statement_sql(__name__, "segment_summary.sql", rfm=sql.SQL(rfm_sql())),
            {"rfm_since": until - dt.timedelta(days=lookback_days), "rfm_until": until},
        )
        rows = {row[0]: row for row in cursor.fetchall()}
    return [
        {
            "segment": name,
            "customers": rows[name][1],
            "spend": rows[name][2],
            "avg_rentals": rows[name][3],
            "avg_recency_days": rows[name][4],
        }
        for name in SEGMENTS
        if name in rows
    ]


LOOKBACK_DAYS = 365


def customer_segments_refresh(*, as_of: dt.datetime | None = None) -> dict:
    """The segment summary of the LOOKBACK_DAYS before `as_of` (default now), as the job stores it."""
    until = as_of or timezone.now()
    return {
        "as_of": until.isoformat(),
        "lookback_days": LOOKBACK_DAYS,
        "segments": customer_segment_summary(until=until, lookback_days=LOOKBACK_DAYS),
    }
