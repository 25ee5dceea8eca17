"""Positions the OsmAnd endpoint answers 200 without storing, because no retry could ever make
them acceptable: older than the late window (POSITION_MAX_AGE_DAYS), more than a day ahead of
the server's clock, or refused by cleaning (coordinates or speed out of range).

Why not a 400: both Traccar Client apps treat any answer but a success as "try again", and the
classic Android app (traccar/traccar-client-android, TrackingController.kt) retries the oldest
buffered position every 30 s before sending any other, so one such position would hold every
later position of the phone back for good (docs/telematics.md, "Positions never stored"). So the
answer lets the client move on, and the rejection is recorded here, per device and reason, with
a count, when it last happened and the last rejected position's time: the back office sees it
(Telematics → Position rejections)."""

import datetime as dt

import numpy as np
from django.db import connection

from apps.telematics.ingest import US

# The time window's two reasons; cleaning's reasons (apps.telematics.ingest.cleaning) are kept as
# they are named there (coordinates_out_of_range, speed_out_of_range, implausible_jump, ...).
OLDER_THAN_WINDOW = "older_than_window"
AHEAD_OF_CLOCK = "ahead_of_clock"

_UPSERT = """
INSERT INTO telematics_positionrejection (device_id, reason, count, first_at, last_at, last_recorded_at, detail)
VALUES (%s, %s, %s, now(), now(), %s, %s)
ON CONFLICT (device_id, reason) DO UPDATE SET
    count = telematics_positionrejection.count + EXCLUDED.count,
    last_at = EXCLUDED.last_at,
    last_recorded_at = EXCLUDED.last_recorded_at,
    detail = EXCLUDED.detail
"""


def window_split(t: np.ndarray, max_age_days: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(indexes inside the accepted time range, {reason: indexes outside}), the range being
    _time_range_check's: the last `max_age_days` (0: any age) up to a day ahead of now."""
    now = dt.datetime.now(dt.UTC).timestamp()
    low = int((now - max_age_days * 86400) * US) if max_age_days > 0 else np.iinfo(np.int64).min
    high = int((now + 86400) * US)
    old, ahead = t < low, t > high
    outside = {reason: np.flatnonzero(mask) for reason, mask in ((OLDER_THAN_WINDOW, old), (AHEAD_OF_CLOCK, ahead))}
    return np.flatnonzero(~(old | ahead)), {reason: rows for reason, rows in outside.items() if len(rows)}


def positions_rejections_record(*, device_id: int, rejected: dict[str, tuple[int, int | None, str]]) -> None:
    """Counts a device's rejected positions: reason -> (how many, the time of the last one in µs
    or None, a one-line detail)."""
    if not rejected:
        return
    with connection.cursor() as cursor:
        for reason, (count, last_t, detail) in sorted(rejected.items()):
            last = dt.datetime.fromtimestamp(last_t / US, tz=dt.UTC) if last_t is not None else None
            cursor.execute(_UPSERT, [device_id, reason, count, last, detail[:200]])
