"""The samples table's binary COPY format: written from sample columns, read back per trip."""

import numpy as np

from apps.telematics.ingest.samples import US, SampleArrays

# PostgreSQL's binary timestamps count microseconds from 2000-01-01.
PG_EPOCH_US = 946_684_800 * US

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
