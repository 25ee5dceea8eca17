"""Customer segments by recency, frequency and spend (RFM) over rentals."""

import datetime as dt
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from apps.jobs import sql as batch_sql

SQL_DIR = Path(__file__).resolve().parent / "sql"
SEGMENTS = ("champions", "loyal", "promising", "needs_attention", "at_risk", "hibernating")


def rfm_sql() -> str:
    return (SQL_DIR / "rfm.sql").read_text()


def customer_rfm_list(*, until: dt.datetime | None = None, lookback_days: int = 365) -> list[dict]:
    """One row per customer with started rentals in the lookback: recency/frequency/monetary,
    their 1..5 scores and the segment name."""
    until = until or timezone.now()
    return batch_sql.fetch_dicts(
        rfm_sql() + " ORDER BY customer_id",
        {"rfm_since": until - dt.timedelta(days=lookback_days), "rfm_until": until},
    )


def customer_segment_summary(*, until: dt.datetime | None = None, lookback_days: int = 365) -> list[dict]:
    """Customers, spend and averages per segment, in the order of SEGMENTS."""
    until = until or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # see apps.jobs.sql
        cursor.execute(
            f"""
            SELECT segment, count(*) AS customers, sum(monetary) AS spend,
                   round(avg(frequency)::numeric, 2) AS avg_rentals,
                   round(avg(recency_days)::numeric, 1) AS avg_recency_days
            FROM ({rfm_sql()}) rfm GROUP BY segment
            """,
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
