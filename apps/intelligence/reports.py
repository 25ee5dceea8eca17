"""The graded performance reports of vehicles and of drivers (customers): best to worst, exportable
as CSV."""

import csv
import datetime as dt
from collections.abc import Iterable
from typing import TextIO

from django.utils import timezone

from apps.common.sql import fetch_dicts, statement


def vehicle_performance_report(*, as_of: dt.datetime | None = None, days: int = 90) -> list[dict]:
    """Every vehicle graded best to worst (utilisation, revenue, incidents, harsh events), one query."""
    until = as_of or timezone.now()
    return fetch_dicts(
        statement(__name__, "vehicle_performance.sql"), {"since": until - dt.timedelta(days=days), "until": until}
    )


def driver_performance_report(*, as_of: dt.datetime | None = None, days: int = 90) -> list[dict]:
    until = as_of or timezone.now()
    return fetch_dicts(
        statement(__name__, "driver_performance.sql"), {"since": until - dt.timedelta(days=days), "until": until}
    )


def rows_to_csv(rows: Iterable[dict], stream: TextIO) -> int:
    """Writes report rows (dicts with the same keys) as CSV with a header; returns the row count."""
    writer = None
    count = 0
    for row in rows:
        if writer is None:
            writer = csv.DictWriter(stream, fieldnames=list(row))
            writer.writeheader()
        writer.writerow(row)
        count += 1
    return count
