"""Telematics writes and rules, one concern a module:

- `devices`: devices and their tokens, authenticated per request;
- `trips`: uploaded trips stored once, their samples COPYed;
- `trip_features`: trip features computed in bulk and queued once per burst of uploads;
- `driver_features`: drivers' rolling aggregates as of a day;
- `prepared`: prepared statements on Django's connection, for the upload path.

The names callers use are re-exported here."""

from apps.telematics.services.devices import (
    UPLOAD_DEVICE_SECONDS,
    device_authenticate,
    device_authenticate_for_upload,
    device_create,
    device_revoke,
    device_token_rotate,
)
from apps.telematics.services.driver_features import driver_features_refresh
from apps.telematics.services.trip_features import (
    FEATURES_REQUESTED_SECONDS,
    TRIP_FEATURE_FIELDS,
    trip_features_compute,
    trip_features_compute_many,
    trip_features_compute_pending,
    trip_features_request,
)
from apps.telematics.services.trips import (
    ConsentRefused,
    DeviceRefused,
    IngestResult,
    consent_check,
    samples_copy,
    trip_ingest,
)

__all__ = [
    "FEATURES_REQUESTED_SECONDS",
    "TRIP_FEATURE_FIELDS",
    "UPLOAD_DEVICE_SECONDS",
    "ConsentRefused",
    "DeviceRefused",
    "IngestResult",
    "consent_check",
    "device_authenticate",
    "device_authenticate_for_upload",
    "device_create",
    "device_revoke",
    "device_token_rotate",
    "driver_features_refresh",
    "samples_copy",
    "trip_features_compute",
    "trip_features_compute_many",
    "trip_features_compute_pending",
    "trip_features_request",
    "trip_ingest",
]
