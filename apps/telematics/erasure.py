"""Erasing a driver's trips on request (GDPR Article 17), as the back office decides it."""

from django.db import connection, transaction

from apps.audit.services import audit_record
from apps.telematics.models import Trip


@transaction.atomic
def driver_trips_erase(*, driver_id: int, actor=None) -> dict:
    """Deletes the driver's trips and their samples, except trips a claim refers to (kept while
    the claim needs them as evidence). Returns the counts; audited."""
    kept = list(Trip.objects.filter(driver_id=driver_id, claims__isnull=False).distinct().values_list("pk", flat=True))
    erase = list(Trip.objects.filter(driver_id=driver_id).exclude(pk__in=kept).values_list("pk", flat=True))
    samples = 0
    if erase:
        with connection.cursor() as cursor:
            # Samples reference trips without a database constraint (partitioned table).
            cursor.execute("DELETE FROM telematics_telematicssample WHERE trip_id = ANY(%s)", [erase])
            samples = cursor.rowcount
        Trip.objects.filter(pk__in=erase).delete()
    result = {"trips_erased": len(erase), "samples_erased": samples, "trips_kept_for_claims": len(kept)}
    audit_record(
        action="telematics.trips_erased",
        actor=actor,
        entity_type="customers.customer",
        entity_id=str(driver_id),
        data=result,
    )
    return result
