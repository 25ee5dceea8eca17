import datetime as dt
import json
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.accounts.services import hash_key, new_secret_key, split_key
from apps.audit.services import audit_record
from apps.common.exceptions import ApplicationError
from apps.telematics import selectors
from apps.telematics.features import bounds_from_trip_ids, compute_features
from apps.telematics.ingest import (
    COPY_COLUMNS,
    US,
    CleanResult,
    TripUpload,
    UploadInvalid,
    clean_samples,
    copy_payload,
)
from apps.telematics.models import Device, Trip
from apps.telematics.partitions import SAMPLES_TABLE, partitions_ensure

logger = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent / "sql"
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
    "events",
    "score",
    "score_deductions",
)


class ConsentRefused(ApplicationError):
    """The driver has no telematics consent in force: nothing of the trip may be stored."""


# --- devices --------------------------------------------------------------------------------


@transaction.atomic
def device_create(
    *, serial: str, kind: str = Device.Kind.OBD, vehicle=None, customer=None, actor=None
) -> tuple[Device, str]:
    """Creates a device and returns it with its raw token, which is never stored or shown again."""
    raw, prefix = new_secret_key("dev")
    device = Device.objects.create(
        serial=serial, kind=kind, vehicle=vehicle, customer=customer, token_prefix=prefix, token_hash=hash_key(raw)
    )
    audit_record(action="device.create", actor=actor, entity=device, data={"serial": serial, "kind": kind})
    return device, raw


@transaction.atomic
def device_token_rotate(*, device: Device, actor=None) -> tuple[Device, str]:
    raw, prefix = new_secret_key("dev")
    device.token_prefix, device.token_hash = prefix, hash_key(raw)
    device.save(update_fields=["token_prefix", "token_hash", "updated_at"])
    audit_record(action="device.token_rotate", actor=actor, entity=device)
    return device, raw


@transaction.atomic
def device_revoke(*, device: Device, actor=None) -> Device:
    if device.revoked_at is None:
        device.revoked_at = timezone.now()
        device.is_active = False
        device.save(update_fields=["revoked_at", "is_active", "updated_at"])
        audit_record(action="device.revoke", actor=actor, entity=device)
    return device


def device_authenticate(*, raw_token: str) -> Device | None:
    """The active device for a presented token, or None. Records last contact at most once a minute."""
    prefix = split_key(raw_token)
    if prefix is None:
        return None
    device = Device.objects.filter(token_prefix=prefix).first()
    if device is None or not secrets.compare_digest(device.token_hash, hash_key(raw_token)):
        return None
    if not device.is_active or device.revoked_at is not None:
        return None
    now = timezone.now()
    if device.last_seen_at is None or (now - device.last_seen_at).total_seconds() > 60:
        Device.objects.filter(pk=device.pk).update(last_seen_at=now)
    return device


# --- trip ingestion -------------------------------------------------------------------------


@dataclass
class IngestResult:
    trip: Trip
    created: bool
    received: int
    stored: int
    dropped: dict
    reordered: int = 0

    def as_dict(self) -> dict:
        return {
            "trip_id": self.trip.pk,
            "external_id": self.trip.external_id,
            "created": self.created,
            "samples": {
                "received": self.received,
                "stored": self.stored,
                "dropped": self.dropped,
                "dropped_total": sum(self.dropped.values()),
                "reordered": self.reordered,
            },
            "feature_status": self.trip.feature_status,
        }


def _existing_result(trip: Trip) -> IngestResult:
    return IngestResult(
        trip=trip,
        created=False,
        received=trip.samples_received,
        stored=trip.samples_stored,
        dropped=dict(trip.samples_dropped),
    )


def _to_datetime(t_us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(t_us) / US, tz=dt.UTC)


_RESOLVE_SQL = """
SELECT
    (SELECT count(*) FROM fleet_vehicle WHERE id = %(vehicle)s) AS vehicle_found,
    (SELECT count(*) FROM customers_customer WHERE id = %(driver)s) AS driver_found,
    -- the rental is linked only when it is the trip's driver's (or names the driver)
    CASE WHEN COALESCE(%(driver)s, %(device_customer)s, r.customer_id) = r.customer_id THEN r.id END AS rental_id,
    COALESCE(%(driver)s, %(device_customer)s, r.customer_id) AS driver_id,
    c.total AS consents,
    c.in_force AS consents_in_force
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT id, customer_id FROM transactions_rental
    WHERE vehicle_id = %(vehicle_used)s AND rented_at <= %(at)s AND (returned_at IS NULL OR returned_at >= %(at)s)
    ORDER BY rented_at DESC LIMIT 1
) AS r ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS total, count(*) FILTER (WHERE withdrawn_at IS NULL) AS in_force
    FROM customers_telematicsconsent
    WHERE customer_id = COALESCE(%(driver)s, %(device_customer)s, r.customer_id)
) AS c ON true
"""


def _resolve_vehicle_and_driver(*, device: Device, upload: TripUpload, started_at: dt.datetime):
    """(vehicle id, driver id, rental id, consent state) in one round trip. The rental of the
    vehicle at the trip's start names the driver when neither the upload nor the device does."""
    vehicle_id = upload.vehicle_id or device.vehicle_id
    with connection.cursor() as cursor:
        cursor.execute(
            _RESOLVE_SQL,
            {
                "vehicle": upload.vehicle_id,
                "driver": upload.driver_id,
                "device_customer": device.customer_id,
                "vehicle_used": vehicle_id,
                "at": started_at,
            },
        )
        vehicle_found, driver_found, rental_id, driver_id, consents, in_force = cursor.fetchone()
    if upload.vehicle_id and not vehicle_found:
        raise UploadInvalid(f"vehicle {upload.vehicle_id} does not exist", field="vehicle")
    if upload.driver_id and not driver_found:
        raise UploadInvalid(f"driver {upload.driver_id} does not exist", field="driver")
    consent = "in_force" if in_force else "withdrawn" if consents else "none"
    return vehicle_id, driver_id, rental_id, consent


def consent_check(*, driver_id: int | None, state: str | None = None) -> None:
    """Raises ConsentRefused unless the driver's telematics consent is in force."""
    if driver_id is None:
        return
    state = state or selectors.consent_state(customer_id=driver_id)
    if state == "withdrawn":
        raise ConsentRefused(
            "the driver has withdrawn telematics consent: nothing was stored", code="consent_withdrawn"
        )
    if state == "none":
        raise ConsentRefused("the driver has not given telematics consent: nothing was stored", code="no_consent")


def samples_copy(*, trip_id: int, samples) -> None:
    """Bulk-loads samples with one binary COPY on Django's own connection (same transaction)."""
    payload = copy_payload(np.full(len(samples), trip_id, dtype=np.int64), samples)
    connection.ensure_connection()
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(f"COPY {SAMPLES_TABLE} ({COPY_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.write(payload)


def trip_ingest(*, device: Device, upload: TripUpload, enqueue_features: bool = True) -> IngestResult:
    """Stores an uploaded trip and its cleaned samples, once per (device, external id).

    The same upload again returns the stored trip (created=False); two concurrent uploads of
    one trip are settled by the unique constraint: the loser's transaction rolls back and it
    returns the winner's trip. A driver without consent in force, or a body with fewer than two
    usable samples, stores nothing."""
    existing = Trip.objects.filter(device=device, external_id=upload.external_id).first()
    if existing is not None:
        return _existing_result(existing)
    cleaned: CleanResult = clean_samples(upload.samples)
    if cleaned.stored < 2:
        raise UploadInvalid(
            f"only {cleaned.stored} usable sample(s) after cleaning; a trip needs 2",
            field="samples",
            extra={"dropped": cleaned.dropped},
        )
    # Partitions are made before the upload's own transaction, so a rolled-back upload never
    # takes a month's partition with it.
    _partitions_for(_to_datetime(cleaned.samples.t[0]).date(), _to_datetime(cleaned.samples.t[-1]).date())
    try:
        return _trip_store(device=device, upload=upload, cleaned=cleaned, enqueue_features=enqueue_features)
    except IntegrityError:
        existing = Trip.objects.filter(device=device, external_id=upload.external_id).first()
        if existing is None:
            raise
        return _existing_result(existing)


@transaction.atomic
def _trip_store(*, device: Device, upload: TripUpload, cleaned: CleanResult, enqueue_features: bool) -> IngestResult:
    s = cleaned.samples
    started_at, ended_at = _to_datetime(s.t[0]), _to_datetime(s.t[-1])
    vehicle_id, driver_id, rental_id, consent = _resolve_vehicle_and_driver(
        device=device, upload=upload, started_at=started_at
    )
    consent_check(driver_id=driver_id, state=consent)
    trip = Trip.objects.create(
        device=device,
        external_id=upload.external_id,
        driver_id=driver_id,
        vehicle_id=vehicle_id,
        rental_id=rental_id,
        started_at=started_at,
        ended_at=ended_at,
        samples_received=cleaned.received,
        samples_stored=cleaned.stored,
        samples_dropped=cleaned.dropped,
    )
    samples_copy(trip_id=trip.pk, samples=s)
    if enqueue_features:
        from apps.telematics.tasks import trip_features

        transaction.on_commit(lambda: trip_features.delay(trip.pk))
    return IngestResult(
        trip=trip,
        created=True,
        received=cleaned.received,
        stored=cleaned.stored,
        dropped=cleaned.dropped,
        reordered=cleaned.reordered,
    )


# Months whose partition this process has seen (monotonic time of the check): uploads skip the
# catalogue query for a minute. A month detached meanwhile makes the COPY fail, never lose rows.
_KNOWN_MONTHS: dict[tuple[int, int], float] = {}


def _partitions_for(first: dt.date, last: dt.date) -> None:
    now = time.monotonic()
    months = {(first.year, first.month), (last.year, last.month)}
    if (last - first).days < 28 and all(now - _KNOWN_MONTHS.get(m, -1e9) < 60 for m in months):
        return
    partitions_ensure(table=SAMPLES_TABLE, first=first, last=last)
    if not connection.in_atomic_block:  # created (if at all) in a committed statement
        for m in months:
            _KNOWN_MONTHS[m] = now


# --- trip features --------------------------------------------------------------------------


def _apply_features(trip: Trip, features: dict, now) -> None:
    for name in TRIP_FEATURE_FIELDS:
        setattr(trip, name, features[name])
    trip.feature_status = Trip.FeatureStatus.DONE
    trip.features_computed_at = now


@transaction.atomic
def trip_features_compute_many(*, trip_ids: list[int], notify_risk: bool = True) -> int:
    """Computes and stores the features of these trips from their stored samples, in one read,
    one vectorised pass and one bulk update. Idempotent: the same samples give the same values."""
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
    if notify_risk:
        from apps.risk.services import driver_rescore_requested

        for driver_id in sorted({t.driver_id for t in trips if t.driver_id and t.pk in results}):
            driver_rescore_requested(driver_id=driver_id)
    return len(results)


_FLOAT_FIELDS = tuple(
    f for f in TRIP_FEATURE_FIELDS if f not in ("events", "score_deductions", "score") and not f.endswith("_count")
)
_INT_FIELDS = tuple(f for f in TRIP_FEATURE_FIELDS if f.endswith("_count") or f == "score")


def _trip_features_write(trips: list[Trip]) -> None:
    """One UPDATE ... FROM unnest(arrays) for the whole chunk (bulk_update's CASE per field and
    row costs more than the features themselves)."""
    columns = [("id", "bigint", [t.pk for t in trips])]
    columns += [(f, "float8", [float(getattr(t, f)) for t in trips]) for f in _FLOAT_FIELDS]
    columns += [(f, "int8", [getattr(t, f) for t in trips]) for f in _INT_FIELDS]
    columns += [(f, "text", [json.dumps(getattr(t, f)) for t in trips]) for f in ("events", "score_deductions")]
    columns += [
        ("feature_status", "text", [t.feature_status for t in trips]),
        ("features_computed_at", "timestamptz", [t.features_computed_at for t in trips]),
    ]
    names = [name for name, _, _ in columns]
    sets = ", ".join(
        f"{n} = v.{n}::jsonb" if n in ("events", "score_deductions") else f"{n} = v.{n}" for n in names[1:]
    )
    unnest = ", ".join(f"%s::{kind}[]" for _, kind, _ in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE telematics_trip t SET {sets}, updated_at = now() "
            f"FROM unnest({unnest}) AS v({', '.join(names)}) WHERE t.id = v.id",
            [values for _, _, values in columns],
        )


def trip_features_compute(*, trip_id: int) -> Trip | None:
    trip_features_compute_many(trip_ids=[trip_id])
    return Trip.objects.filter(pk=trip_id).first()


# --- driver features ------------------------------------------------------------------------


@transaction.atomic
def driver_features_refresh(*, as_of: dt.date, window_days: int | None = None) -> int:
    """Upserts the rolling aggregates of every driver as of a day, in one SQL statement.

    Drivers are every customer with a trip in the window or a telematics consent in force (the
    latter with zeros, so a driver who stopped driving is not silently missing)."""
    window = window_days or settings.TELEMATICS["DRIVER_WINDOW_DAYS"]
    if window < 1:
        raise ApplicationError("window_days must be at least 1", code="invalid_window")
    zone = timezone.get_default_timezone()
    window_end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    window_start = dt.datetime.combine(as_of - dt.timedelta(days=window - 1), dt.time(), tzinfo=zone)
    sql = (SQL_DIR / "driver_features.sql").read_text()
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {"as_of": as_of, "window_days": window, "window_start": window_start, "window_end": window_end},
        )
        return cursor.rowcount
