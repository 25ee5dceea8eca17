import datetime as dt
import json
import logging
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import psycopg
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.types.numeric import Int8

from apps.audit.services import audit_record
from apps.common.exceptions import ApplicationError
from apps.common.keys import hash_key, new_secret_key, split_key
from apps.common.sql import statement
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


# In the model's field order, as Model.from_db expects for a partial row.
_DEVICE_FIELDS = tuple(
    f.attname
    for f in Device._meta.concrete_fields
    if f.attname in {"id", "token_hash", "is_active", "revoked_at", "last_seen_at", "customer_id", "vehicle_id"}
)
_DEVICE_BY_PREFIX_SQL = f"SELECT {', '.join(_DEVICE_FIELDS)} FROM telematics_device WHERE token_prefix = %s"


def device_authenticate(*, raw_token: str) -> Device | None:
    """The active device for a presented token, or None. Records last contact at most once a minute.

    One plain query on the token prefix: it runs on every upload, where the ORM's query
    building cost more than the query. The device comes back with only these fields loaded
    (the rest are deferred)."""
    prefix = split_key(raw_token)
    if prefix is None:
        return None
    with _prepared_cursor() as cursor:
        cursor.execute(_DEVICE_BY_PREFIX_SQL, [prefix], prepare=True)
        row = cursor.fetchone()
    if row is None:
        return None
    device = Device.from_db(connection.alias, _DEVICE_FIELDS, row)
    if not secrets.compare_digest(device.token_hash, hash_key(raw_token)):
        return None
    if not device.is_active or device.revoked_at is not None:
        return None
    now = timezone.now()
    if device.last_seen_at is None or (now - device.last_seen_at).total_seconds() > 60:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE telematics_device SET last_seen_at = %s WHERE id = %s", [now, device.pk])
        device.last_seen_at = now
    return device


# Devices this process authenticated for uploads lately: the token's SHA-256 -> (device, when).
_UPLOAD_DEVICES: dict[str, tuple[Device, float]] = {}
UPLOAD_DEVICE_SECONDS = 30
_UPLOAD_DEVICES_MAX = 10_000


def device_authenticate_for_upload(*, raw_token: str) -> Device | None:
    """device_authenticate, remembered by this process for UPLOAD_DEVICE_SECONDS.

    For uploads only: the trip statement reads the device row again in the upload's own
    transaction and refuses a device revoked or deactivated meanwhile (DeviceRefused), so this
    saves a query per upload without letting such a device store anything. Until the memory
    expires it can still be told why a malformed body was refused (400) instead of 401."""
    key = hash_key(raw_token)
    now = time.monotonic()
    known = _UPLOAD_DEVICES.get(key)
    if known is not None and now - known[1] < UPLOAD_DEVICE_SECONDS:
        return known[0]
    device = device_authenticate(raw_token=raw_token)
    if device is None:
        _UPLOAD_DEVICES.pop(key, None)
        return None
    if len(_UPLOAD_DEVICES) >= _UPLOAD_DEVICES_MAX:
        _UPLOAD_DEVICES.clear()
    _UPLOAD_DEVICES[key] = (device, now)
    return device


@contextmanager
def _prepared_cursor():
    """A server-side-binding cursor on Django's own connection (so in its transaction) whose
    statements run with `prepare=True` are prepared once per connection and then only executed.

    The upload's statements are planned on every request otherwise: for the trip insert the
    planning cost more than the execution. Django turns psycopg's prepared statements off per
    connection (prepare_threshold None); they are turned on only around these statements, and
    the statements psycopg prepared stay known to it in between."""
    connection.close_if_health_check_failed()  # as Django's own cursor() does
    connection.ensure_connection()
    raw = connection.connection
    threshold = raw.prepare_threshold
    if threshold is None:
        raw.prepare_threshold = 1_000_000  # only statements executed with prepare=True
    try:
        # Django's exception classes, and a connection marked for closing when it broke.
        with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
            yield cursor
    finally:
        raw.prepare_threshold = threshold


class DeviceRefused(ApplicationError):
    """The device was revoked or deactivated while its upload was in flight."""


# --- trip ingestion -------------------------------------------------------------------------


@dataclass
class IngestResult:
    trip_id: int
    external_id: str
    created: bool
    received: int
    stored: int
    dropped: dict
    reordered: int = 0
    feature_status: str = Trip.FeatureStatus.PENDING

    @cached_property
    def trip(self) -> Trip:
        return Trip.objects.get(pk=self.trip_id)

    def as_dict(self) -> dict:
        return {
            "trip_id": self.trip_id,
            "external_id": self.external_id,
            "created": self.created,
            "samples": {
                "received": self.received,
                "stored": self.stored,
                "dropped": self.dropped,
                "dropped_total": sum(self.dropped.values()),
                "reordered": self.reordered,
            },
            "feature_status": self.feature_status,
        }


_EXISTING_SQL = (
    "SELECT id, samples_received, samples_stored, samples_dropped, feature_status "
    "FROM telematics_trip WHERE device_id = %s AND external_id = %s"
)


def _existing_result(*, device_id: int, external_id: str) -> IngestResult | None:
    with connection.cursor() as cursor:
        cursor.execute(_EXISTING_SQL, [device_id, external_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return _result_from_row(external_id, row)


def _result_from_row(external_id: str, row) -> IngestResult:
    trip_id, received, stored, dropped, feature_status = row
    return IngestResult(
        trip_id=trip_id,
        external_id=external_id,
        created=False,
        received=received,
        stored=stored,
        dropped=json.loads(dropped) if isinstance(dropped, str) else dict(dropped),
        feature_status=feature_status,
    )


def _to_datetime(t_us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(t_us) / US, tz=dt.UTC)


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
        connection.wrap_database_errors,
        connection.connection.cursor() as cursor,
        cursor.copy(f"COPY {SAMPLES_TABLE} ({COPY_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.write(payload)


def trip_ingest(*, device: Device, upload: TripUpload, enqueue_features: bool = True) -> IngestResult:
    """Stores an uploaded trip and its cleaned samples, once per (device, external id).

    The same upload again returns the stored trip (created=False); two concurrent uploads of
    one trip are settled by the unique constraint: the loser's insert does nothing and it
    returns the winner's trip. A driver without consent in force, or a body with fewer than two
    usable samples, stores nothing."""
    cleaned: CleanResult = clean_samples(upload.samples)
    if cleaned.stored < 2:
        existing = _existing_result(device_id=device.pk, external_id=upload.external_id)
        if existing is not None:
            return existing
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
        existing = _existing_result(device_id=device.pk, external_id=upload.external_id)
        if existing is None:
            raise
        return existing


# Its comment stays in the file: shorter than 4 kB, psycopg caches the placeholder conversion.
_TRIP_INSERT_SQL = statement(__name__, "trip_insert.sql", "trip_insert")


def _int8_or_none(value: int | None) -> Int8 | None:
    return None if value is None else Int8(value)


@transaction.atomic
def _trip_store(*, device: Device, upload: TripUpload, cleaned: CleanResult, enqueue_features: bool) -> IngestResult:
    """Checks and inserts the trip in one statement (sql/trip_insert.sql), then COPYs its samples."""
    s = cleaned.samples
    with _prepared_cursor() as cursor:
        cursor.execute(
            _TRIP_INSERT_SQL,
            {
                # Fixed parameter types, so one prepared statement serves every id and count
                # (psycopg would send the smallest integer type that holds each value).
                "device": Int8(device.pk),
                "external_id": upload.external_id,
                "vehicle": _int8_or_none(upload.vehicle_id),
                "driver": _int8_or_none(upload.driver_id),
                "started_at": _to_datetime(s.t[0]),
                "ended_at": _to_datetime(s.t[-1]),
                "received": Int8(cleaned.received),
                "stored": Int8(cleaned.stored),
                "dropped": json.dumps(cleaned.dropped),
            },
            prepare=True,
        )
        (device_ok, trip_id, *existing, vehicle_found, driver_found, driver_id, consents, in_force) = cursor.fetchone()
    if not device_ok:
        raise DeviceRefused("the device is revoked or inactive: nothing was stored", code="device_inactive")
    if existing[0] is not None:
        return _result_from_row(upload.external_id, existing)
    if not vehicle_found:
        raise UploadInvalid(f"vehicle {upload.vehicle_id} does not exist", field="vehicle")
    if not driver_found:
        raise UploadInvalid(f"driver {upload.driver_id} does not exist", field="driver")
    consent_check(driver_id=driver_id, state="in_force" if in_force else "withdrawn" if consents else "none")
    if trip_id is None:
        # A concurrent upload of the same trip committed first: its row is visible now.
        result = _existing_result(device_id=device.pk, external_id=upload.external_id)
        if result is None:
            raise IntegrityError(f"trip {upload.external_id!r} of device {device.pk} was neither stored nor found")
        return result
    samples_copy(trip_id=trip_id, samples=s)
    if enqueue_features:
        # robust: the trip is committed; a broker outage must not turn its 201 into a 500 (the
        # nightly job catches the trip up).
        transaction.on_commit(trip_features_request, robust=True)
    return IngestResult(
        trip_id=trip_id,
        external_id=upload.external_id,
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
        from apps.telematics.tasks import trip_features_pending

        trip_features_pending.delay()


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
                Trip.objects.filter(feature_status=Trip.FeatureStatus.PENDING)
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


# --- driver features ------------------------------------------------------------------------


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
    sql = statement(__name__, "driver_features.sql")
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
