"""Samples as numpy columns: the upload's fields, the arrays, and what cleaning returns.

Times are int64 microseconds since the Unix epoch (UTC)."""

from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from apps.common.exceptions import ApplicationError

US = 1_000_000

# (upload name, required, kind). The order is the CSV column order in the docs.
FIELDS: tuple[tuple[str, bool, str], ...] = (
    ("t", True, "time"),
    ("lat", True, "num"),
    ("lon", True, "num"),
    ("speed", True, "num"),
    ("acc_lon", True, "num"),
    ("acc_lat", True, "num"),
    ("heading", False, "num"),
    ("speed_limit", False, "num"),
    ("phone", False, "bool"),
)
FIELD_NAMES = tuple(name for name, _, _ in FIELDS)

DROP_REASONS = (
    "duplicate",
    "duplicate_time",
    "coordinates_out_of_range",
    "speed_out_of_range",
    "acceleration_out_of_range",
    "implausible_jump",
)


class UploadInvalid(ApplicationError):
    """A malformed upload: names the field and the index of the first bad sample."""

    def __init__(self, message: str, *, field: str, index: int | None = None, extra: dict | None = None):
        super().__init__(message, code="invalid_upload", extra={"field": field, "index": index, **(extra or {})})
        self.field = field
        self.index = index


class UploadTooLarge(UploadInvalid):
    """The body, or what its gzip decodes to, is over TELEMATICS MAX_BODY_BYTES (a 413)."""


@dataclass
class SampleArrays:
    """Columns of samples; NaN marks a missing heading or speed limit, -1 a missing phone flag."""

    t: np.ndarray  # int64 µs since the epoch
    lat: np.ndarray
    lon: np.ndarray
    speed: np.ndarray
    acc_lon: np.ndarray
    acc_lat: np.ndarray
    heading: np.ndarray
    speed_limit: np.ndarray
    phone: np.ndarray  # int8: 1, 0, or -1 unknown

    COLUMNS = ("t", "lat", "lon", "speed", "acc_lon", "acc_lat", "heading", "speed_limit", "phone")

    def __len__(self) -> int:
        return len(self.t)

    def take(self, index) -> "SampleArrays":
        return SampleArrays(**{name: getattr(self, name)[index] for name in self.COLUMNS})

    @classmethod
    def empty(cls) -> "SampleArrays":
        floats = {name: np.zeros(0) for name in cls.COLUMNS[1:-1]}
        return cls(t=np.zeros(0, dtype=np.int64), phone=np.zeros(0, dtype=np.int8), **floats)

    @classmethod
    def concat(cls, parts: list["SampleArrays"]) -> "SampleArrays":
        return cls(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in cls.COLUMNS})


@dataclass
class TripUpload:
    external_id: str
    samples: SampleArrays
    vehicle_id: int | None = None
    driver_id: int | None = None


@dataclass
class CleanResult:
    samples: SampleArrays
    received: int
    dropped: dict[str, int] = field(default_factory=dict)
    reordered: int = 0

    @property
    def stored(self) -> int:
        return len(self.samples)


def cfg(name: str):
    return settings.TELEMATICS[name]
