"""Uploads parsed into sample columns: the body decoded (gzip bounded), JSON rows, JSON columns
and CSV, every check a vectorised mask that names the first bad sample.

A JSON body is decoded by orjson, each field is pulled into a list and turned into one numpy
array: samples never become one Python object each on the hot path."""

import datetime as dt
import gzip
import io
import zlib

import numpy as np
import orjson

from apps.telematics.ingest.samples import (
    FIELD_NAMES,
    FIELDS,
    US,
    SampleArrays,
    TripUpload,
    UploadInvalid,
    UploadTooLarge,
    cfg,
)

# Epoch seconds beyond this (year 5138) cannot be a sample's time.
MAX_EPOCH_SECONDS = 1e11
_NUMBER_TYPES = frozenset({int, float})
_NUMBER_OR_NULL = frozenset({int, float, type(None)})
_BOOL_OR_NULL = frozenset({bool, type(None)})

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
            raise UploadTooLarge(f"the decoded body is larger than {limit} bytes", field="body")
        if not decompressor.eof:
            raise UploadInvalid("the gzip stream is truncated", field="body")
    else:
        raise UploadInvalid(f"unsupported Content-Encoding {content_encoding!r}; use gzip", field="Content-Encoding")
    if len(body) > limit:
        raise UploadTooLarge(f"the body is larger than {limit} bytes", field="body")
    return body


def gzip_body(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=5)


# --- JSON -----------------------------------------------------------------------------------


def _optional_id(value, name: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 < value < 2**63:
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
        out_of_range = ~(np.abs(arr) < MAX_EPOCH_SECONDS)  # NaN and infinities too
        if out_of_range.any():
            return None, int(np.flatnonzero(out_of_range)[0]), "must be a finite number of epoch seconds"
        return np.rint(arr * US).astype(np.int64), None, ""
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        if type(v) in _NUMBER_TYPES:
            # Checked here: an infinite or huge number would overflow the int64 microseconds.
            if not abs(v) < MAX_EPOCH_SECONDS:
                return None, i, "must be a finite number of epoch seconds"
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
    if isinstance(samples, list):
        _bounds_check(arrays, lambda name, i: f"samples[{i}].{name}")
    else:
        _bounds_check(arrays, lambda name, i: f"samples.{name}[{i}]")
    _time_range_check(arrays.t, lambda i: f"samples[{i}].t" if isinstance(samples, list) else f"samples.t[{i}]")
    return TripUpload(external_id=external_id, vehicle_id=vehicle_id, driver_id=driver_id, samples=arrays)


# Documented bounds of the optional fields (docs/telematics.md): a value outside them is a 400
# naming the sample, not a silent event (a limit of -1 made every sample "speeding").
OPTIONAL_BOUNDS = {"heading": (0.0, 360.0), "speed_limit": (1.0, 90.0)}


def _bounds_check(arrays: "SampleArrays", field_of) -> None:
    problems = []
    for name, (low, high) in OPTIONAL_BOUNDS.items():
        col = getattr(arrays, name)
        bad = np.flatnonzero(~np.isnan(col) & ~((col >= low) & (col <= high)))
        if len(bad):
            problems.append((int(bad[0]), name, f"must be between {low:g} and {high:g} or missing"))
    if problems:
        index, name, problem = min(problems)
        raise UploadInvalid(f"{field_of(name, index)} {problem}", field=field_of(name, index), index=index)


def _time_range_check(t: np.ndarray, field_of, max_age_days: float | None = None) -> None:
    """Refuses times in the future (beyond a day of clock skew) or older than max_age_days
    (default MAX_SAMPLE_AGE_DAYS; 0 or less means any age, for historical imports)."""
    days = cfg("MAX_SAMPLE_AGE_DAYS") if max_age_days is None else max_age_days
    now = dt.datetime.now(dt.UTC).timestamp()
    low = int((now - days * 86400) * US) if days > 0 else np.iinfo(np.int64).min
    high = int((now + 86400) * US)
    bad = np.flatnonzero((t < low) | (t > high))
    if len(bad):
        i = int(bad[0])
        raise UploadInvalid(
            f"{field_of(i)} is outside the accepted time range (the last {days:g} days)",
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
        text = str(value)
        # isascii: isdigit() alone accepts "²", which int() does not.
        if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
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
        raise UploadInvalid(f"column {unknown[0]!r} is not a known field", field=unknown[0] or "header")
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
        if kind == "time":
            bad_mask |= np.abs(num) >= MAX_EPOCH_SECONDS
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
    _bounds_check(samples, lambda name, i: name)
    _time_range_check(samples.t, lambda i: "t")
    return TripUpload(external_id=external_id, vehicle_id=vehicle_id, driver_id=driver_id, samples=samples)
