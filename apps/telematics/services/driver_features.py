"""Drivers' rolling aggregates over their trips, as of a day, in one statement."""

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.common.exceptions import ApplicationError
from apps.common.sql import statement


@transaction.atomic
def driver_features_refresh(
    *, as_of: dt.date, window_days: int | None = None, driver_ids: list[int] | None = None
) -> int:
    """Upserts the rolling aggregates of every driver (or of `driver_ids` only) as of a day, in
    one SQL statement.

    Drivers are every customer with a trip in the window or a telematics consent in force (the
    latter with zeros, so a driver who stopped driving is not silently missing)."""
    window = window_days or settings.TELEMATICS["DRIVER_WINDOW_DAYS"]
    if window < 1:
        raise ApplicationError("window_days must be at least 1", code="invalid_window")
    zone = timezone.get_default_timezone()
    window_end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    window_start = dt.datetime.combine(as_of - dt.timedelta(days=window - 1), dt.time(), tzinfo=zone)
    sql = statement("apps.telematics", "driver_features.sql")
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "as_of": as_of,
                "window_days": window,
                "window_start": window_start,
                "window_end": window_end,
                "driver_ids": None if driver_ids is None else [int(d) for d in driver_ids],
            },
        )
        return cursor.rowcount
