"""Trip uploads as numpy columns, one concern a module:

- `samples`: the fields, the sample arrays and the upload's error;
- `parsing`: the body decoded, JSON (rows or columns) and CSV parsed;
- `cleaning`: sorting, duplicates and impossible fixes dropped;
- `copy_codec`: the binary COPY stream of the samples table, and reading it back.

The names other modules use are re-exported here."""

from apps.telematics.ingest.cleaning import EARTH_RADIUS_M, clean_samples, haversine_m
from apps.telematics.ingest.copy_codec import COPY_COLUMNS, PG_EPOCH_US, READ_RECORD_SQL, copy_payload, decode_records
from apps.telematics.ingest.parsing import decode_body, gzip_body, parse_csv, parse_json
from apps.telematics.ingest.samples import (
    DROP_REASONS,
    FIELD_NAMES,
    FIELDS,
    US,
    CleanResult,
    SampleArrays,
    TripUpload,
    UploadInvalid,
    UploadTooLarge,
)

__all__ = [
    "COPY_COLUMNS",
    "DROP_REASONS",
    "EARTH_RADIUS_M",
    "FIELDS",
    "FIELD_NAMES",
    "PG_EPOCH_US",
    "READ_RECORD_SQL",
    "US",
    "CleanResult",
    "SampleArrays",
    "TripUpload",
    "UploadInvalid",
    "UploadTooLarge",
    "clean_samples",
    "copy_payload",
    "decode_body",
    "decode_records",
    "gzip_body",
    "haversine_m",
    "parse_csv",
    "parse_json",
]
