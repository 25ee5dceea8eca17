from celery import shared_task
from django.conf import settings

from apps.telematics import detection, services
from apps.telematics.positions import buffer

# Late acknowledgement and retries on I/O errors (every task here is idempotent). ignore_result:
# nobody waits on these (the rows hold the outcome), and a task whose result is kept makes every
# enqueuing web worker subscribe to the task's result channel in Redis.
RETRIED = {
    "acks_late": True,
    "autoretry_for": (OSError,),
    "retry_backoff": True,
    "max_retries": 5,
    "ignore_result": True,
}


@shared_task(name="telematics.trip_features", **RETRIED)
def trip_features(trip_id: int) -> str | None:
    """Computes one uploaded trip's features (idempotent), then asks RISK to rescore the driver."""
    trip = services.trip_features_compute(trip_id=trip_id)
    return trip.feature_status if trip else None


@shared_task(name="telematics.trip_features_pending", **RETRIED)
def trip_features_pending() -> int:
    """Computes the features of every trip uploaded and not yet computed (queued by uploads)."""
    return services.trip_features_compute_pending()


@shared_task(name="telematics.trips_detect", **RETRIED)
def trips_detect() -> int:
    """Cuts trips from the positions streamed since the last run (queued by position requests and
    run by the beat schedule, which also closes trips whose vehicle stopped reporting)."""
    return detection.trips_detect_pending()


@shared_task(name="telematics.positions_flush", **RETRIED)
def positions_flush() -> dict:
    """Stores the positions the OsmAnd endpoint buffered (queued by the requests, once while it
    waits, and run every minute by beat, which also picks up what a dead flusher left)."""
    return buffer.positions_flush()


def positions_flush_enqueue() -> None:
    """Receiver of hooks.positions_flush_wanted (connected in TelematicsConfig.ready)."""
    positions_flush.delay()


def trip_features_pending_enqueue() -> None:
    """Receiver of hooks.trip_features_wanted (connected in TelematicsConfig.ready)."""
    trip_features_pending.delay()


def trips_detect_enqueue() -> None:
    """Receiver of hooks.trips_detect_wanted (connected in TelematicsConfig.ready). The run waits
    TRIP_DETECT_DELAY_SECONDS so that it covers what every device sends meanwhile: run once per
    flush, detection re-read each open trip several times a second (a third of the server's CPU
    per streamed position on a quiet machine)."""
    trips_detect.apply_async(countdown=settings.TELEMATICS["TRIP_DETECT_DELAY_SECONDS"])
