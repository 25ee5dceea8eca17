from celery import shared_task

from apps.telematics import services


@shared_task(
    name="telematics.trip_features", acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def trip_features(trip_id: int) -> str | None:
    """Computes one uploaded trip's features (idempotent), then asks RISK to rescore the driver."""
    trip = services.trip_features_compute(trip_id=trip_id)
    return trip.feature_status if trip else None
