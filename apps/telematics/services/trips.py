"""Uploaded trips stored once per (device, external id), with their cleaned samples COPYed."""

import datetime as dt
import json
import time
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from django.db import IntegrityError, connection, transaction
from psycopg.types.numeric import Int8

from apps.common.exceptions import ApplicationError
from apps.common.sql import statement
from apps.telematics import selectors
from apps.telematics.ingest import COPY_COLUMNS, US, CleanResult, TripUpload, UploadInvalid, clean_samples, copy_payload
from apps.telematics.models import Device, Trip
from apps.telematics.partitions import SAMPLES_TABLE, partitions_ensure
from apps.telematics.services.prepared import prepared_cursor
from apps.telematics.services.trip_features import trip_features_request


class ConsentRefused(ApplicationError):
    """The driver has no telematics consent in force: nothing of the trip may be stored."""


class DeviceRefused(ApplicationError):
    """The device was revoked or deactivated while its upload was in flight."""


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
_TRIP_INSERT_SQL = statement("apps.telematics", "trip_insert.sql", "trip_insert")


def _int8_or_none(value: int | None) -> Int8 | None:
    return None if value is None else Int8(value)


@transaction.atomic
def _trip_store(*, device: Device, upload: TripUpload, cleaned: CleanResult, enqueue_features: bool) -> IngestResult:
    """Checks and inserts the trip in one statement (sql/trip_insert.sql), then COPYs its samples."""
    s = cleaned.samples
    with prepared_cursor() as cursor:
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
