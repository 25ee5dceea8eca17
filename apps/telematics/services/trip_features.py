"""Trip features: computed from the stored samples in bulk, queued once for a burst of uploads."""

import json
import logging

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from apps.telematics import selectors
from apps.telematics.features import bounds_from_trip_ids, compute_features
from apps.telematics.follow_ups import trips_scored_follow_up
from apps.telematics.hooks import trip_features_computed, trip_features_wanted
from apps.telematics.models import Trip

logger = logging.getLogger(__name__)

TRIP_FEATURE_FIELDS = (
    "distance_km",
    "duration_s",
    "moving_s",
    "idle_s",
    "gap_s",
    "max_speed_mps",
    "mean_speed_mps",
    "harsh_brake_count",
    "harsh_accel_count",
    "harsh_corner_count",
    "speeding_count",
    "speeding_s",
    "phone_use_s",
    "night_s",
    "rush_hour_s",
    "highway_s",
    "sampling_interval_s",
    "measurable",
    "events",
    "score",
    "score_deductions",
)


def _apply_features(trip: Trip, features: dict, now) -> None:
    for name in TRIP_FEATURE_FIELDS:
        setattr(trip, name, features[name])
    trip.feature_status = Trip.FeatureStatus.DONE
    trip.features_computed_at = now


@transaction.atomic
def trip_features_compute_many(*, trip_ids: list[int], notify_risk: bool = True) -> int:
    """Computes and stores the features of these trips from their stored samples, in one read,
    one vectorised pass and one bulk update, then tells their drivers and awards the badges
    they earned. Idempotent: the same samples give the same values, and nothing is notified or
    awarded twice."""
    trips = list(Trip.objects.filter(pk__in=trip_ids).order_by("pk"))
    if not trips:
        return 0
    ids, samples = selectors.trip_samples_load(trips=trips)
    with_samples, bounds = bounds_from_trip_ids(ids)
    results = dict(zip(with_samples.tolist(), compute_features(samples, bounds), strict=True))
    now = timezone.now()
    for trip in trips:
        features = results.get(trip.pk)
        if features is None:
            trip.feature_status = Trip.FeatureStatus.FAILED  # no samples (archived or never stored)
            trip.features_computed_at = now
            continue
        _apply_features(trip, features, now)
    _trip_features_write(trips)
    trips_scored_follow_up(trips=trips)
    if notify_risk:
        trip_features_computed.send(driver_ids=sorted({t.driver_id for t in trips if t.driver_id and t.pk in results}))
    return len(results)


_JSON_FIELDS = ("events", "score_deductions", "measurable")
_FLOAT_FIELDS = tuple(f for f in TRIP_FEATURE_FIELDS if f not in (*_JSON_FIELDS, "score") and not f.endswith("_count"))
_INT_FIELDS = tuple(f for f in TRIP_FEATURE_FIELDS if f.endswith("_count") or f == "score")


def _trip_features_write(trips: list[Trip]) -> None:
    """One UPDATE ... FROM unnest(arrays) for the whole chunk (bulk_update's CASE per field and
    row costs more than the features themselves)."""
    columns = [("id", "bigint", [t.pk for t in trips])]
    columns += [(f, "float8", [float(getattr(t, f)) for t in trips]) for f in _FLOAT_FIELDS]
    columns += [(f, "int8", [getattr(t, f) for t in trips]) for f in _INT_FIELDS]
    columns += [(f, "text", [json.dumps(getattr(t, f)) for t in trips]) for f in _JSON_FIELDS]
    columns += [
        ("feature_status", "text", [t.feature_status for t in trips]),
        ("features_computed_at", "timestamptz", [t.features_computed_at for t in trips]),
    ]
    names = [name for name, _, _ in columns]
    sets = ", ".join(f"{n} = v.{n}::jsonb" if n in _JSON_FIELDS else f"{n} = v.{n}" for n in names[1:])
    unnest = ", ".join(f"%s::{kind}[]" for _, kind, _ in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE telematics_trip t SET {sets}, updated_at = now() "
            f"FROM unnest({unnest}) AS v({', '.join(names)}) WHERE t.id = v.id",
            [values for _, _, values in columns],
        )


# While this key exists a Celery task to compute the pending trips' features is queued or about
# to start, so an upload need not queue another. It expires in case that task is lost.
FEATURES_REQUESTED_SECONDS = 60


def _features_requested_key() -> str:
    # Per database: one Redis may serve several databases (test runs, environments).
    return f"telematics:trip-features-requested:{connection.settings_dict['NAME']}"


def trip_features_request() -> None:
    """Makes sure a Celery task will compute the features of every trip uploaded so far.

    One task serves all the trips uploaded while it waits in the queue: an upload sets a Redis
    key and queues the task only when the key was not set (one Redis command instead of a Celery
    message per trip), and the task deletes the key before it reads the pending trips, so a trip
    committed after that read has queued the next task itself. The nightly job catches up trips
    left pending by a lost task or an unreachable Redis."""
    if cache.add(_features_requested_key(), 1, timeout=FEATURES_REQUESTED_SECONDS):
        trip_features_wanted.send()


def trip_features_compute_pending(*, chunk: int = 500) -> int:
    """Computes the features of every pending trip, `chunk` trips per transaction, the oldest
    first. Rows are locked with SKIP LOCKED, so two such tasks at once share the work. A chunk
    that fails is retried trip by trip, and a trip that still fails is marked failed, so one bad
    trip never holds up the others. Returns the number of trips computed."""
    cache.delete(_features_requested_key())
    computed = 0
    while True:
        with transaction.atomic():
            ids = list(
                Trip.objects.filter(feature_status=Trip.FeatureStatus.PENDING, in_progress=False)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:chunk]
            )
            if not ids:
                return computed
            try:
                with transaction.atomic():
                    computed += trip_features_compute_many(trip_ids=ids)
                continue
            except Exception:
                logger.exception("trip features failed for trips %s..%s; retrying one by one", ids[0], ids[-1])
            for trip_id in ids:
                try:
                    with transaction.atomic():
                        computed += trip_features_compute_many(trip_ids=[trip_id])
                except Exception:
                    logger.exception("trip features failed for trip %s", trip_id)
                    Trip.objects.filter(pk=trip_id).update(
                        feature_status=Trip.FeatureStatus.FAILED, features_computed_at=timezone.now()
                    )


def trip_features_compute(*, trip_id: int) -> Trip | None:
    trip_features_compute_many(trip_ids=[trip_id])
    return Trip.objects.filter(pk=trip_id).first()
