"""Historical positions from a CSV export (Traccar's, a telematics provider's) of any age,
streamed in chunks through the same parsing checks, cleaning, consent check and store as live
positions (months without a partition are created), then cut into trips by trip detection."""

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from apps.common.exceptions import ApplicationError
from apps.telematics.ingest import US, UploadInvalid
from apps.telematics.models import Device
from apps.telematics.positions.parse import KNOT_MPS, PositionBatch
from apps.telematics.positions.services import positions_store

# Accepted header names (lower case) for each field; the first column found is used.
COLUMNS = {
    "device": ("device", "device_id", "deviceid", "id", "imei", "uniqueid", "unique_id", "serial"),
    "t": ("time", "timestamp", "fixtime", "fix_time", "devicetime", "recorded_at", "datetime", "t"),
    "lat": ("latitude", "lat"),
    "lon": ("longitude", "lon", "lng"),
    "speed": ("speed", "speed_mps"),
    "heading": ("course", "bearing", "heading"),
    "altitude": ("altitude", "alt"),
    "accuracy": ("accuracy", "hdop_m"),
    "battery": ("batt", "battery", "batterylevel"),
}
REQUIRED = ("device", "t", "lat", "lon")
SPEED_UNITS = {"mps": 1.0, "kmh": 1 / 3.6, "knots": KNOT_MPS}


@dataclass
class ImportResult:
    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def device_map_parse(text: str | None) -> dict[str, str]:
    """`a=SERIAL,b=SERIAL` or the path of a two-column CSV (export id, FleetOps serial)."""
    if not text:
        return {}
    path = Path(text)
    if path.exists():
        frame = pd.read_csv(path, dtype=str, header=None, keep_default_na=False)
        if frame.shape[1] < 2:
            raise ApplicationError(f"{path}: needs two columns (export id, device serial)", code="invalid")
        pairs = zip(frame[0].str.strip(), frame[1].str.strip(), strict=True)
        return {a: b for a, b in pairs if a and b and a.lower() not in ("id", "source", "device")}
    mapping = {}
    for part in text.split(","):
        if "=" not in part:
            raise ApplicationError(f"--device-map entry {part!r} is not id=serial", code="invalid")
        a, b = part.split("=", 1)
        mapping[a.strip()] = b.strip()
    return mapping


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApplicationError(f"--tz {name!r} is not a time zone", code="invalid") from None


def _times(values: pd.Series, zone: ZoneInfo, first_line: int, path: str) -> np.ndarray:
    """Epoch seconds/ms, or date-time text; text without an offset is local time in `zone`."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        raw = numbers.to_numpy(dtype=np.float64)
        raw = np.where(raw > 2**31, raw / 1000, raw)
        return np.rint(raw * US).astype(np.int64)
    parsed = pd.to_datetime(values, errors="coerce", utc=False, format="mixed")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        i = int(bad[0])
        raise ApplicationError(f"{path}:{first_line + i}: time {str(values.iat[i])[:40]!r} is not a time")
    if parsed.dt.tz is None:
        parsed = parsed.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    since_epoch = parsed.dt.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")
    return (since_epoch // pd.Timedelta(microseconds=1)).to_numpy(dtype=np.int64)


def positions_import(
    *, path: str, device_map: dict[str, str], tz: str = "UTC", speed_unit: str = "mps", chunk: int = 100_000
) -> ImportResult:
    """Imports a positions CSV in chunks of `chunk` rows; errors name the file and line."""
    zone = _zone(tz)
    if speed_unit not in SPEED_UNITS:
        raise ApplicationError(f"--speed-unit must be one of {', '.join(SPEED_UNITS)}", code="invalid")
    result = ImportResult()
    devices: dict[str, Device | None] = {}
    try:
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=chunk, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ApplicationError(f"{path}: {exc}".splitlines()[0]) from None
    line = 2  # the first data line (line 1 is the header)
    for frame in reader:
        names = {c.strip().lower(): c for c in frame.columns}
        found = {key: next((names[n] for n in options if n in names), None) for key, options in COLUMNS.items()}
        missing = [key for key in REQUIRED if found[key] is None]
        if missing:
            raise ApplicationError(f"{path}:1: no column for {missing[0]} (one of {', '.join(COLUMNS[missing[0]])})")
        ids = frame[found["device"]].str.strip().map(lambda v: device_map.get(v, v))
        identifiers = sorted(set(ids))
        for identifier in identifiers:
            if identifier not in devices:
                devices[identifier] = Device.objects.filter(serial=identifier).first()
        unknown = [i for i in identifiers if devices[i] is None]
        for identifier in unknown:
            result.refused[identifier] = "unknown_device"
        code = {identifier: i for i, identifier in enumerate(identifiers)}
        arrays = {}
        for key in ("lat", "lon", "speed", "heading", "altitude", "accuracy", "battery"):
            column = found[key]
            values = frame[column].str.strip() if column else pd.Series([""] * len(frame))
            numbers = pd.to_numeric(values.where(values != ""), errors="coerce")
            empty = (values == "").to_numpy()
            bad = np.flatnonzero((numbers.isna().to_numpy() & ~empty) | (empty & (key in REQUIRED)))
            if len(bad):
                i = int(bad[0])
                raise ApplicationError(f"{path}:{line + i}: {key} {values.iat[i][:40]!r} is not a number")
            arrays[key] = numbers.to_numpy(dtype=np.float64)
        arrays["speed"] = arrays["speed"] * SPEED_UNITS[speed_unit]
        batch = PositionBatch(
            identifiers=identifiers,
            device=ids.map(code).to_numpy(dtype=np.int64),
            t=_times(frame[found["t"]].str.strip(), zone, line, path),
            **arrays,
        )
        known = {code[i]: devices[i] for i in identifiers if devices[i] is not None}
        result.rows += len(frame)
        if known:
            try:
                stored = positions_store(
                    batch=batch, devices=known, max_age_days=0, field_of=lambda i, line=line: f"line {line + i}"
                )
            except UploadInvalid as exc:
                raise ApplicationError(f"{path}: {exc.field}: {exc.message}") from None
            result.stored += stored.stored
            result.duplicates += stored.duplicates
            for reason, count in stored.dropped.items():
                result.dropped[reason] = result.dropped.get(reason, 0) + count
            result.refused.update(stored.refused)
        line += len(frame)
    return result
