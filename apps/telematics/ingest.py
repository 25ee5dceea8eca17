"""Trip uploads as numpy columns: parsing (JSON rows, JSON columns, CSV), cleaning, and the
binary COPY codec for the samples table.

Samples never become one Python object each on the hot path: a JSON body is decoded by orjson,
each field is pulled into a list and turned into one numpy array, and every check and drop is a
vectorised mask. Times are int64 microseconds since the Unix epoch (UTC)."""

import datetime as dt
import gzip
import io
import zlib
from dataclasses import dataclass, field

import numpy as np
import orjson
from django.conf import settings

from apps.common.exceptions import ApplicationError

EARTH_RADIUS_M = 6_371_008.8
US = 1_000_000
# PostgreSQL's binary timestamps count microseconds from 2000-01-01.
PG_EPOCH_US = 946_684_800 * US

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
_NUMBER_TYPES = frozenset({int, float})
_NUMBER_OR_NULL = frozenset({int, float, type(None)})
_BOOL_OR_NULL = frozenset({bool, type(None)})

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


# --- decoding the body --------------------------------------------------------------------


def decode_body(raw: bytes, content_encoding: str = "") -> bytes:
    encoding = (content_encoding or "").strip().lower()
    limit = cfg("MAX_BODY_BYTES")
    if encoding in ("", "identity"):
        body = raw
    elif encoding in ("gzip", "x-gzip"):
        # A bounded decompressor so a small "gzip bomb" cannot exhaust memory.
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = decompressor.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise UploadInvalid(f"the body is not valid gzip: {exc}", field="body") from None
        if len(body) > limit or decompressor.unconsumed_tail:
            raise UploadInvalid(f"the decoded body is larger than {limit} bytes", field="body")
        if not decompressor.eof:
            raise UploadInvalid("the gzip stream is truncated", field="body")
    else:
        raise UploadInvalid(f"unsupported Content-Encoding {content_encoding!r}; use gzip", field="Content-Encoding")
    if len(body) > limit:
        raise UploadInvalid(f"the body is larger than {limit} bytes", field="body")
    return body


def gzip_body(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=5)


# --- JSON -----------------------------------------------------------------------------------


def _optional_id(value, name: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value <= 0:
        raise UploadInvalid(f"{name} must be a positive integer id", field=name)
    return value


def _external_id(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UploadInvalid("external_id is required: the device's own trip id (text)", field="external_id")
    if len(value) > 64:
        raise UploadInvalid("external_id is longer than 64 characters", field="external_id")
    return value


def _count_check(n: int, field_name: str) -> None:
    limit = cfg("MAX_SAMPLES_PER_TRIP")
    if n > limit:
        raise UploadInvalid(f"{n} samples is more than the limit of {limit}", field=field_name, index=limit)
    if n < 2:
        raise UploadInvalid("a trip needs at least 2 samples", field=field_name, index=n)


def _first_bad(values: list, allowed: frozenset) -> int | None:
    if set(map(type, values)) <= allowed:
        return None
    return next(i for i, v in enumerate(values) if type(v) not in allowed)


def _column(values: list, name: str, required: bool, kind: str) -> tuple[np.ndarray | None, int | None, str]:
    """(array, first bad index, problem) for one field's values."""
    if kind == "num":
        bad = _first_bad(values, _NUMBER_TYPES if required else _NUMBER_OR_NULL)
        if bad is not None:
            problem = "is missing" if values[bad] is None else "must be a number"
            return None, bad, problem
        arr = np.array(values, dtype=np.float64)  # None becomes NaN for the optional fields
        if required and not np.isfinite(arr).all():
            return None, int(np.flatnonzero(~np.isfinite(arr))[0]), "must be a finite number"
        return arr, None, ""
    if kind == "bool":
        bad = _first_bad(values, _BOOL_OR_NULL)
        if bad is not None:
            return None, bad, "must be true, false or null"
        arr = np.array(values, dtype=np.float64)
        return np.where(np.isnan(arr), -1, arr).astype(np.int8), None, ""
    # time: epoch seconds (fast path) or ISO 8601 text with a UTC offset
    bad = _first_bad(values, _NUMBER_TYPES)
    if bad is None:
        arr = np.array(values, dtype=np.float64)
        if not np.isfinite(arr).all():
            return None, int(np.flatnonzero(~np.isfinite(arr))[0]), "must be a finite number"
        return np.rint(arr * US).astype(np.int64), None, ""
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        if type(v) in _NUMBER_TYPES:
            out[i] = round(v * US)
            continue
        if not isinstance(v, str):
            return None, i, "is missing" if v is None else "must be epoch seconds or ISO 8601 text"
        try:
            moment = dt.datetime.fromisoformat(v)
        except ValueError:
            return None, i, "must be epoch seconds or ISO 8601 text"
        if moment.tzinfo is None:
            return None, i, "needs a UTC offset (e.g. 2026-05-01T07:30:00Z)"
        delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        out[i] = (delta.days * 86400 + delta.seconds) * US + delta.microseconds
    return out, None, ""


def _arrays_from_columns(columns: dict[str, list], field_of) -> SampleArrays:
    """Converts every field; on problems reports the one with the lowest sample index."""
    arrays, problems = {}, []
    for name, required, kind in FIELDS:
        arr, bad, problem = _column(columns[name], name, required, kind)
        if bad is not None:
            problems.append((bad, FIELD_NAMES.index(name), name, problem))
        arrays[name] = arr
    if problems:
        index, _, name, problem = min(problems)
        raise UploadInvalid(f"{field_of(name, index)} {problem}", field=field_of(name, index), index=index)
    return SampleArrays(
        t=arrays["t"],
        lat=arrays["lat"],
        lon=arrays["lon"],
        speed=arrays["speed"],
        acc_lon=arrays["acc_lon"],
        acc_lat=arrays["acc_lat"],
        heading=arrays["heading"],
        speed_limit=arrays["speed_limit"],
        phone=arrays["phone"],
    )


def parse_json(body: bytes) -> TripUpload:
    """`{"external_id", "vehicle"?, "driver"?, "samples"}` where samples is a list of objects
    (`{"t", "lat", "lon", "speed", "acc_lon", "acc_lat", "heading"?, "speed_limit"?, "phone"?}`)
    or one object of equal-length arrays with those keys (columnar, the faster form)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UploadInvalid(f"the body is not valid JSON: {exc}", field="body") from None
    if not isinstance(doc, dict):
        raise UploadInvalid("the body must be a JSON object", field="body")
    external_id = _external_id(doc.get("external_id"))
    vehicle_id = _optional_id(doc.get("vehicle"), "vehicle")
    driver_id = _optional_id(doc.get("driver"), "driver")
    samples = doc.get("samples")
    if isinstance(samples, list):
        _count_check(len(samples), "samples")
        bad = _first_bad(samples, frozenset({dict}))
        if bad is not None:
            raise UploadInvalid(f"samples[{bad}] must be an object", field=f"samples[{bad}]", index=bad)
        known = set(FIELD_NAMES)
        columns = {name: [s.get(name) for s in samples] for name in FIELD_NAMES}
        # Unknown keys are refused (a misspelt "speedlimit" must not pass silently): checked on
        # the key sets, which are few distinct objects in practice.
        key_sets = {frozenset(s) for s in samples[:1000]} if len(samples) <= 1000 else None
        if key_sets is None or any(ks - known for ks in key_sets):
            for i, s in enumerate(samples):
                extra = s.keys() - known
                if extra:
                    name = sorted(extra)[0]
                    raise UploadInvalid(
                        f"samples[{i}].{name} is not a known field", field=f"samples[{i}].{name}", index=i
                    )
        arrays = _arrays_from_columns(columns, lambda name, i: f"samples[{i}].{name}")
    elif isinstance(samples, dict):
        unknown = sorted(set(samples) - set(FIELD_NAMES))
        if unknown:
            raise UploadInvalid(f"samples.{unknown[0]} is not a known field", field=f"samples.{unknown[0]}")
        n = None
        for name, required, _ in FIELDS:
            col = samples.get(name)
            if col is None and not required:
                continue
            if not isinstance(col, list):
                raise UploadInvalid(f"samples.{name} must be an array", field=f"samples.{name}")
            if n is None:
                n = len(col)
                _count_check(n, f"samples.{name}")
            elif len(col) != n:
                raise UploadInvalid(
                    f"samples.{name} has {len(col)} values, samples.t has {n}",
                    field=f"samples.{name}",
                    index=min(len(col), n),
                )
        columns = {name: samples.get(name) or [None] * n for name in FIELD_NAMES}
        arrays = _arrays_from_columns(columns, lambda name, i: f"samples.{name}[{i}]")
    else:
        raise UploadInvalid("samples is required: a list of sample objects or an object of arrays", field="samples")
    _time_range_check(arrays.t, lambda i: f"samples[{i}].t" if isinstance(samples, list) else f"samples.t[{i}]")
    return TripUpload(external_id=external_id, vehicle_id=vehicle_id, driver_id=driver_id, samples=arrays)


def _time_range_check(t: np.ndarray, field_of) -> None:
    now = dt.datetime.now(dt.UTC).timestamp()
    low = int((now - cfg("MAX_SAMPLE_AGE_DAYS") * 86400) * US)
    high = int((now + 86400) * US)
    bad = np.flatnonzero((t < low) | (t > high))
    if len(bad):
        i = int(bad[0])
        raise UploadInvalid(
            f"{field_of(i)} is outside the accepted time range (the last {cfg('MAX_SAMPLE_AGE_DAYS')} days)",
            field=field_of(i),
            index=i,
        )


# --- CSV ------------------------------------------------------------------------------------


def parse_csv(body: bytes, *, external_id, vehicle=None, driver=None) -> TripUpload:
    """A header row naming the sample fields, one sample per line. Trip fields come from the
    query string (?external_id=...&vehicle=...&driver=...). Indexes count data rows from 0."""
    import pandas as pd

    def query_id(value, name):
        if value in (None, ""):
            return None
        if not str(value).isdigit() or int(value) <= 0:
            raise UploadInvalid(f"{name} must be a positive integer id", field=name)
        return int(value)

    external_id = _external_id(external_id)
    vehicle_id, driver_id = query_id(vehicle, "vehicle"), query_id(driver, "driver")
    try:
        frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UploadInvalid(f"the body is not valid CSV: {exc}".splitlines()[0], field="body") from None
    columns = [c.strip() for c in frame.columns]
    frame.columns = columns
    unknown = [c for c in columns if c not in FIELD_NAMES]
    if unknown:
        raise UploadInvalid(f"column {unknown[0]!r} is not a known field", field=unknown[0])
    missing = [name for name, required, _ in FIELDS if required and name not in columns]
    if missing:
        raise UploadInvalid(f"column {missing[0]!r} is required", field=missing[0])
    _count_check(len(frame), "samples")
    problems, arrays = [], {}
    n = len(frame)
    for name, required, kind in FIELDS:
        raw = frame[name].str.strip() if name in frame else pd.Series([""] * n)
        empty = (raw == "").to_numpy()
        if kind == "bool":
            lowered = raw.str.lower()
            truthy = lowered.isin(["true", "1", "yes"]).to_numpy()
            falsy = lowered.isin(["false", "0", "no"]).to_numpy()
            bad = np.flatnonzero(~(truthy | falsy | empty))
            if len(bad):
                problems.append((int(bad[0]), FIELD_NAMES.index(name), name, "must be true, false or empty"))
            arrays[name] = np.where(truthy, 1, np.where(falsy, 0, -1)).astype(np.int8)
            continue
        num = pd.to_numeric(raw.where(~empty), errors="coerce").to_numpy(dtype=np.float64)
        bad_mask = (np.isnan(num) & ~empty) | (~np.isfinite(num) & ~np.isnan(num))
        if required:
            bad_mask |= empty
        bad = np.flatnonzero(bad_mask)
        if kind == "time" and len(bad):
            # Fall back to ISO 8601 text for the rows that are not numbers.
            values = [float(v) if not b else raw.iat[i] for i, (v, b) in enumerate(zip(num, bad_mask, strict=True))]
            arr, index, problem = _column(values, name, True, "time")
            if index is not None:
                problems.append((index, FIELD_NAMES.index(name), name, problem))
            arrays[name] = arr
            continue
        if len(bad):
            i = int(bad[0])
            problems.append((i, FIELD_NAMES.index(name), name, "is missing" if empty[i] else "must be a number"))
        arrays[name] = np.rint(num * US).astype(np.int64) if kind == "time" and not len(bad) else num
    if problems:
        index, _, name, problem = min(problems)
        raise UploadInvalid(f"row {index} column {name} {problem}", field=name, index=index)
    samples = SampleArrays(**{name: arrays[name] for name in SampleArrays.COLUMNS})
    _time_range_check(samples.t, lambda i: "t")
    return TripUpload(external_id=external_id, vehicle_id=vehicle_id, driver_id=driver_id, samples=samples)


# --- cleaning -------------------------------------------------------------------------------


def haversine_m(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2 - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _same_value(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    eq = a == b
    if a.dtype.kind == "f":
        eq |= np.isnan(a) & np.isnan(b)
    return eq


def clean_samples(samples: SampleArrays) -> CleanResult:
    """Sorts by time, drops exact duplicates, conflicting fixes at the same instant, and
    impossible fixes; returns the kept samples and the drop counts by reason."""
    received = len(samples)
    dropped = dict.fromkeys(DROP_REASONS, 0)
    steps = np.diff(samples.t)
    reordered = int(np.count_nonzero(steps < 0))
    if received > 1 and (steps > 0).all():
        # Strictly increasing times, the usual upload: already sorted, and no two fixes share
        # an instant, so there is nothing to sort and no duplicate to look for.
        s = samples
    else:
        # Sort by time, then by every other column so exact duplicates sit side by side.
        keys = [np.nan_to_num(getattr(samples, c), nan=np.inf) for c in reversed(SampleArrays.COLUMNS[1:])]
        s = samples.take(np.lexsort([*keys, samples.t]))
    if received > 1 and s is not samples:
        same_time = np.zeros(received, dtype=bool)
        same_time[1:] = s.t[1:] == s.t[:-1]
        exact = same_time.copy()
        for name in SampleArrays.COLUMNS[1:]:
            col = getattr(s, name)
            exact[1:] &= _same_value(col[1:], col[:-1])
        dropped["duplicate"] = int(exact.sum())
        s = s.take(~exact)
        same_time = np.zeros(len(s), dtype=bool)
        same_time[1:] = s.t[1:] == s.t[:-1]
        dropped["duplicate_time"] = int(same_time.sum())
        s = s.take(~same_time)

    bad_coord = ~((np.abs(s.lat) <= 90) & (np.abs(s.lon) <= 180))
    bad_speed = ~bad_coord & ~((s.speed >= 0) & (s.speed <= cfg("MAX_SPEED_MPS")))
    bad_acc = ~bad_coord & ~bad_speed & (np.hypot(s.acc_lon, s.acc_lat) > cfg("MAX_ABS_ACCEL_MPS2"))
    dropped["coordinates_out_of_range"] = int(bad_coord.sum())
    dropped["speed_out_of_range"] = int(bad_speed.sum())
    dropped["acceleration_out_of_range"] = int(bad_acc.sum())
    s = s.take(~(bad_coord | bad_speed | bad_acc))

    keep = _jump_filter(s.t, s.lat, s.lon, cfg("MAX_JUMP_SPEED_MPS"))
    dropped["implausible_jump"] = int((~keep).sum())
    s = s.take(keep)
    return CleanResult(
        samples=s, received=received, dropped={k: v for k, v in dropped.items() if v}, reordered=reordered
    )


def _jump_filter(t: np.ndarray, lat: np.ndarray, lon: np.ndarray, limit: float) -> np.ndarray:
    """Keeps fixes reachable from the last kept fix at <= limit m/s.

    Vectorised on the common path: only the samples whose implied speed from their predecessor
    is too high are examined one by one, against the last fix that was kept."""
    n = len(t)
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return keep
    secs = np.diff(t) / US
    implied = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]) / secs
    suspects = np.flatnonzero(implied > limit) + 1  # sample indexes
    if not len(suspects):
        return keep

    def too_fast(a: int, b: int) -> bool:
        d = haversine_m(lat[a], lon[a], lat[b], lon[b])
        return d / ((t[b] - t[a]) / US) > limit

    # A first fix that is itself the outlier: everything after would look like a jump.
    if suspects[0] == 1 and n > 2 and implied[1] <= limit:
        keep[0] = False
        suspects = suspects[1:]
        last_kept = 1
    else:
        last_kept = 0
    pos = 0
    while pos < len(suspects):
        i = int(suspects[pos])
        if i <= last_kept:
            pos += 1
            continue
        if keep[i - 1] and i - 1 > last_kept:
            last_kept = i - 1  # the samples between two suspects were all fine
        # Walk forward while fixes stay unreachable from the last kept one.
        while i < n and too_fast(last_kept, i):
            keep[i] = False
            i += 1
        if i < n:
            last_kept = i
        pos = int(np.searchsorted(suspects, i, side="right"))
    return keep


# --- binary COPY ----------------------------------------------------------------------------

COPY_COLUMNS = (
    "trip_id, recorded_at, latitude, longitude, speed_mps, accel_lon_mps2, accel_lat_mps2, "
    "heading_deg, speed_limit_mps, phone_use"
)
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_COPY_TRAILER = b"\xff\xff"
_FIXED = [
    ("trip", ">i8"),
    ("ts", ">i8"),
    ("lat", ">f8"),
    ("lon", ">f8"),
    ("speed", ">f4"),
    ("ax", ">f4"),
    ("ay", ">f4"),
]
_OPTIONAL = [("heading", ">f4"), ("limit", ">f4"), ("phone", "u1")]


def copy_payload(trip_ids: np.ndarray, s: SampleArrays) -> bytes:
    """The samples as one PostgreSQL binary COPY stream, built with numpy record arrays.

    Binary rows are fixed-width except for NULLs (length -1, no data), so rows are grouped by
    which optional fields are NULL (at most 8 groups) and each group is one record array; the
    order of rows in a COPY does not matter."""
    n = len(s)
    present = np.stack([~np.isnan(s.heading), ~np.isnan(s.speed_limit), s.phone >= 0], axis=1)
    pattern = present[:, 0] * 4 + present[:, 1] * 2 + present[:, 2] * 1
    chunks = [_COPY_HEADER]
    values = {
        "trip": trip_ids,
        "ts": s.t - PG_EPOCH_US,
        "lat": s.lat,
        "lon": s.lon,
        "speed": s.speed,
        "ax": s.acc_lon,
        "ay": s.acc_lat,
        "heading": s.heading,
        "limit": s.speed_limit,
        "phone": s.phone,
    }
    groups = np.unique(pattern) if n else []
    for group in groups:
        rows = pattern == group if len(groups) > 1 else slice(None)
        flags = (bool(group & 4), bool(group & 2), bool(group & 1))
        fields = [("nfields", ">i2")]
        for name, kind in _FIXED:
            fields += [(f"len_{name}", ">i4"), (name, kind)]
        for (name, kind), is_present in zip(_OPTIONAL, flags, strict=True):
            fields.append((f"len_{name}", ">i4"))
            if is_present:
                fields.append((name, kind))
        dtype = np.dtype(fields)
        count = n if isinstance(rows, slice) else int(np.count_nonzero(rows))
        rec = np.empty(count, dtype=dtype)
        rec["nfields"] = 10
        for name, _kind in fields[1:]:
            if name.startswith("len_"):
                base = name[4:]
                size = np.dtype(dict(_FIXED + _OPTIONAL)[base]).itemsize
                is_present = base not in dict(_OPTIONAL) or flags[[o[0] for o in _OPTIONAL].index(base)]
                rec[name] = size if is_present else -1
            else:
                column = values[name]
                rec[name] = column if isinstance(rows, slice) else column[rows]
        chunks.append(rec.tobytes())
    chunks.append(_COPY_TRAILER)
    return b"".join(chunks)


# Reading back: one fixed-width binary record per sample, concatenated per trip by the server
# (string_agg of the *send functions), so a trip arrives as one bytea and numpy reads it whole.
READ_RECORD_SQL = (
    "timestamptz_send(recorded_at) || float8send(latitude) || float8send(longitude) || "
    "float4send(speed_mps) || float4send(accel_lon_mps2) || float4send(accel_lat_mps2) || "
    "float4send(COALESCE(heading_deg, 'NaN')) || float4send(COALESCE(speed_limit_mps, 'NaN')) || "
    "int2send(COALESCE(phone_use::int, -1)::int2)"
)
_READ_DTYPE = np.dtype(
    [
        ("ts", ">i8"),
        ("lat", ">f8"),
        ("lon", ">f8"),
        ("speed", ">f4"),
        ("ax", ">f4"),
        ("ay", ">f4"),
        ("heading", ">f4"),
        ("limit", ">f4"),
        ("phone", ">i2"),
    ]
)


def decode_records(blob: bytes) -> SampleArrays:
    """Parses the concatenated READ_RECORD_SQL records of one trip."""
    rec = np.frombuffer(blob, dtype=_READ_DTYPE)
    return SampleArrays(
        t=rec["ts"].astype(np.int64) + PG_EPOCH_US,
        lat=rec["lat"].astype(np.float64),
        lon=rec["lon"].astype(np.float64),
        speed=rec["speed"].astype(np.float64),
        acc_lon=rec["ax"].astype(np.float64),
        acc_lat=rec["ay"].astype(np.float64),
        heading=rec["heading"].astype(np.float64),
        speed_limit=rec["limit"].astype(np.float64),
        phone=rec["phone"].astype(np.int8),
    )
