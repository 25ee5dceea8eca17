"""Store KPIs: StoreDailyMetrics (owned by regions) recomputed with one set-based upsert. The
roll-ups over them are regions' own reads (apps.regions.selectors)."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from apps.common.exceptions import ApplicationError
from apps.common.sql import execute, statement


def _local_yesterday() -> dt.date:
    return timezone.localdate() - dt.timedelta(days=1)


@transaction.atomic
def store_daily_metrics_refresh(*, last_day: dt.date | None = None, days: int = 7) -> dict:
    """(Re)computes StoreDailyMetrics for every active store over `days` days ending `last_day`
    (default yesterday) with one set-based upsert. Idempotent: re-running rewrites the same rows;
    a few days are recomputed each night because late returns change past days."""
    last_day = last_day or _local_yesterday()
    if days < 1 or days > 3660:
        raise ApplicationError("days must be between 1 and 3660", code="invalid_range")
    first_day = last_day - dt.timedelta(days=days - 1)
    upsert = statement(__name__, "store_daily_metrics_upsert.sql")
    rows = execute(upsert, {"first_day": first_day, "last_day": last_day})
    return {"first_day": first_day.isoformat(), "last_day": last_day.isoformat(), "rows": rows}
