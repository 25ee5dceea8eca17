import numpy as np
from django.db import connection
from django.db.models import Count, Q, QuerySet

from apps.customers.models import TelematicsConsent
from apps.telematics.ingest import READ_RECORD_SQL, SampleArrays, decode_records
from apps.telematics.models import Trip


def trip_list(*, driver_id: int | None = None) -> QuerySet[Trip]:
    qs = Trip.objects.select_related("device", "driver", "vehicle")
    if driver_id is not None:
        qs = qs.filter(driver_id=driver_id)
    return qs


def consent_state(*, customer_id: int) -> str:
    """ "in_force", "withdrawn" (consent was given and is no longer in force) or "none"."""
    counts = TelematicsConsent.objects.filter(customer_id=customer_id).aggregate(
        total=Count("id"), in_force=Count("id", filter=Q(withdrawn_at__isnull=True))
    )
    if counts["in_force"]:
        return "in_force"
    return "withdrawn" if counts["total"] else "none"


def trip_samples_load(*, trips: list[Trip]) -> tuple[np.ndarray, SampleArrays]:
    """The stored samples of these trips, sorted by trip then time: one query, one bytea per
    trip (the time bounds let PostgreSQL skip the months the trips do not touch)."""
    if not trips:
        return np.zeros(0, dtype=np.int64), SampleArrays.empty()
    ids = [t.pk for t in trips]
    low = min(t.started_at for t in trips)
    high = max(t.ended_at for t in trips)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT trip_id, string_agg({READ_RECORD_SQL}, ''::bytea ORDER BY recorded_at) "
            "FROM telematics_telematicssample "
            "WHERE trip_id = ANY(%s) AND recorded_at BETWEEN %s AND %s GROUP BY trip_id ORDER BY trip_id",
            [ids, low, high],
        )
        rows = cursor.fetchall()
    if not rows:
        return np.zeros(0, dtype=np.int64), SampleArrays.empty()
    parts = [decode_records(bytes(blob)) for _, blob in rows]
    trip_ids = np.repeat(np.array([r[0] for r in rows], dtype=np.int64), [len(p) for p in parts])
    return trip_ids, SampleArrays.concat(parts)
