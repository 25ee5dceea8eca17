"""Streamed positions as numpy columns: the OsmAnd protocol (query/form parameters and the JSON
body of the current Traccar Client) and the gateways' JSON batch.

Times are int64 µs since the epoch (UTC), speeds m/s; NaN marks a value the device did not
send. Field checks reuse the trip upload's column parser (apps.telematics.ingest._column), so a
position's fields are judged by the same rules as an uploaded sample's."""

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import orjson

from apps.telematics.ingest import UploadInvalid
from apps.telematics.ingest.parsing import _column

KNOT_MPS = 1852 / 3600
# Epoch values above this are milliseconds (as Traccar reads them): 2^31 s is in 2038.
_EPOCH_MS_ABOVE = 2**31

# The extra columns a position has beside the ones a sample has.
EXTRA_COLUMNS = ("altitude", "accuracy", "battery")


@dataclass
class PositionBatch:
    """Positions of one or more devices: `device` indexes `identifiers` (the devices' own ids)."""

    identifiers: list[str]
    device: np.ndarray  # int64 index into identifiers
    t: np.ndarray  # int64 µs since the epoch
    lat: np.ndarray
    lon: np.ndarray
    speed: np.ndarray  # m/s, NaN unknown
    heading: np.ndarray
    altitude: np.ndarray
    accuracy: np.ndarray
    battery: np.ndarray  # percent

    COLUMNS = ("device", "t", "lat", "lon", "speed", "heading", "altitude", "accuracy", "battery")

    def __len__(self) -> int:
        return len(self.t)

    def take(self, index) -> "PositionBatch":
        return PositionBatch(identifiers=self.identifiers, **{c: getattr(self, c)[index] for c in self.COLUMNS})


def _number(value, name: str, *, required: bool = False) -> float:
    """A query/form parameter as a float (NaN when absent and optional)."""
    if value is None or value == "":
        if required:
            raise UploadInvalid(f"{name} is required", field=name)
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UploadInvalid(f"{name} must be a number", field=name) from None
    if not math.isfinite(number):
        raise UploadInvalid(f"{name} must be a finite number", field=name)
    return number


def _times(values: list, name: str) -> np.ndarray:
    """Epoch seconds, epoch milliseconds or ISO 8601 text with an offset, per value."""
    values = [_numeric_text(v) for v in values]
    values = [v / 1000 if type(v) in (int, float) and v > _EPOCH_MS_ABOVE else v for v in values]
    arr, bad, problem = _column(values, name, True, "time")
    if bad is not None:
        raise UploadInvalid(f"{name} {problem}", field=name, index=bad if len(values) > 1 else None)
    return arr


def _numeric_text(value):
    if isinstance(value, str):
        try:
            return int(value) if value.isdigit() else float(value) if _looks_numeric(value) else value
        except ValueError:
            return value
    return value


def _looks_numeric(text: str) -> bool:
    return bool(text) and all(ch.isdigit() or ch in ".-+eE" for ch in text) and any(ch.isdigit() for ch in text)


def _batch(identifier: str, rows: list[dict]) -> PositionBatch:
    n = len(rows)
    columns = {c: np.array([r[c] for r in rows], dtype=np.float64) for c in PositionBatch.COLUMNS[2:]}
    return PositionBatch(
        identifiers=[identifier],
        device=np.zeros(n, dtype=np.int64),
        t=_times([r["t"] for r in rows], "timestamp"),
        **columns,
    )


def _identifier(value, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UploadInvalid(f"{name} is required: the device identifier", field=name)
    if len(value) > 64:
        raise UploadInvalid(f"{name} is longer than 64 characters", field=name)
    return value.strip()


def parse_osmand_params(params) -> PositionBatch:
    """One position from OsmAnd query or form parameters: id, lat, lon (or location=lat,lon),
    timestamp (epoch s or ms, or ISO 8601; now when absent), speed (knots), bearing (or
    heading), altitude, accuracy, batt (percent)."""
    identifier = _identifier(params.get("id") or params.get("deviceid"), "id")
    location = params.get("location")
    if location and not params.get("lat"):
        parts = location.split(",")
        if len(parts) != 2:
            raise UploadInvalid("location must be `lat,lon`", field="location")
        lat, lon = _number(parts[0], "location", required=True), _number(parts[1], "location", required=True)
    else:
        lat, lon = _number(params.get("lat"), "lat", required=True), _number(params.get("lon"), "lon", required=True)
    timestamp = params.get("timestamp")
    row = {
        "t": timestamp if timestamp not in (None, "") else dt.datetime.now(dt.UTC).timestamp(),
        "lat": lat,
        "lon": lon,
        "speed": _number(params.get("speed"), "speed") * KNOT_MPS,
        "heading": _number(params.get("bearing") or params.get("heading"), "bearing"),
        "altitude": _number(params.get("altitude"), "altitude"),
        "accuracy": _number(params.get("accuracy"), "accuracy"),
        "battery": _number(params.get("batt"), "batt"),
    }
    return _batch(identifier, [row])


def _json_number(value, name: str, *, required: bool = False, unknown_below: float | None = None) -> float:
    if value is None:
        if required:
            raise UploadInvalid(f"{name} is required", field=name)
        return math.nan
    if type(value) not in (int, float) or not math.isfinite(value):
        raise UploadInvalid(f"{name} must be a number", field=name)
    if unknown_below is not None and value < unknown_below:
        return math.nan  # the platforms send -1 for "not known"
    return float(value)


def parse_traccar_json(body: bytes) -> PositionBatch:
    """The current Traccar Client's body: {"device_id", "location": {"timestamp", "coords":
    {latitude, longitude, speed (m/s), heading, altitude, accuracy}, "battery": {level 0..1},
    ...}}; `location` may also be a list of such objects (the app's batched sync)."""
    doc = _json_object(body)
    identifier = _identifier(doc.get("device_id"), "device_id")
    locations = doc.get("location")
    if isinstance(locations, dict):
        locations = [locations]
    if not isinstance(locations, list) or not locations:
        raise UploadInvalid("location is required: an object with timestamp and coords", field="location")
    rows = []
    for i, loc in enumerate(locations):
        at = "location" if len(locations) == 1 else f"location[{i}]"
        if not isinstance(loc, dict):
            raise UploadInvalid(f"{at} must be an object", field=at)
        coords = loc.get("coords")
        if not isinstance(coords, dict):
            raise UploadInvalid(f"{at}.coords is required", field=f"{at}.coords")
        battery = loc.get("battery") if isinstance(loc.get("battery"), dict) else {}
        level = _json_number(battery.get("level"), f"{at}.battery.level", unknown_below=0)
        timestamp = loc.get("timestamp")
        if timestamp is None:
            raise UploadInvalid(f"{at}.timestamp is required", field=f"{at}.timestamp")
        rows.append(
            {
                "t": timestamp,
                "lat": _json_number(coords.get("latitude"), f"{at}.coords.latitude", required=True),
                "lon": _json_number(coords.get("longitude"), f"{at}.coords.longitude", required=True),
                "speed": _json_number(coords.get("speed"), f"{at}.coords.speed", unknown_below=0),
                "heading": _json_number(coords.get("heading"), f"{at}.coords.heading", unknown_below=0),
                "altitude": _json_number(coords.get("altitude"), f"{at}.coords.altitude"),
                "accuracy": _json_number(coords.get("accuracy"), f"{at}.coords.accuracy", unknown_below=0),
                "battery": level * 100,
            }
        )
    try:
        return _batch(identifier, rows)
    except UploadInvalid as exc:
        if exc.field == "timestamp":
            raise UploadInvalid(
                f"location.timestamp {exc.message.removeprefix('timestamp ')}", field="location.timestamp"
            ) from None
        raise


def _json_object(body: bytes) -> dict:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UploadInvalid(f"the body is not valid JSON: {exc}", field="body") from None
    if not isinstance(doc, dict):
        raise UploadInvalid("the body must be a JSON object", field="body")
    return doc


# (batch name, required) of a gateway position; speed in m/s, battery in percent.
BATCH_FIELDS = (
    ("lat", True),
    ("lon", True),
    ("speed", False),
    ("heading", False),
    ("altitude", False),
    ("accuracy", False),
    ("battery", False),
)
_BATCH_KEYS = frozenset({"id", "t", *(name for name, _ in BATCH_FIELDS)})


def parse_batch_json(body: bytes, *, limit: int) -> tuple[PositionBatch, dict[str, str]]:
    """A gateway's batch: {"keys": {"<device id>": "<device key>", ...}, "positions": [{"id",
    "t", "lat", "lon", "speed"?, "heading"?, "altitude"?, "accuracy"?, "battery"?}, ...]} or
    "positions" as one object of equal-length arrays with those names (the faster form).
    Returns the positions and the keys by device identifier."""
    doc = _json_object(body)
    keys = doc.get("keys")
    if not isinstance(keys, dict) or not keys or not all(isinstance(v, str) for v in keys.values()):
        raise UploadInvalid("keys is required: an object of device id -> device key", field="keys")
    positions = doc.get("positions")
    if isinstance(positions, list):
        bad = next((i for i, p in enumerate(positions) if not isinstance(p, dict)), None)
        if bad is not None:
            raise UploadInvalid(f"positions[{bad}] must be an object", field=f"positions[{bad}]", index=bad)
        for i, p in enumerate(positions):
            if not p.keys() <= _BATCH_KEYS:
                name = sorted(p.keys() - _BATCH_KEYS)[0]
                raise UploadInvalid(f"positions[{i}].{name} is not a known field", field=f"positions[{i}].{name}")
        columns = {name: [p.get(name) for p in positions] for name in _BATCH_KEYS}

        def field_of(name, i):
            return f"positions[{i}].{name}"
    elif isinstance(positions, dict):
        unknown = sorted(positions.keys() - _BATCH_KEYS)
        if unknown:
            raise UploadInvalid(f"positions.{unknown[0]} is not a known field", field=f"positions.{unknown[0]}")
        n = len(positions.get("t") or [])
        for name in _BATCH_KEYS:
            col = positions.get(name)
            if col is not None and (not isinstance(col, list) or len(col) != n):
                raise UploadInvalid(f"positions.{name} must be an array as long as positions.t", field=name)
        columns = {name: positions.get(name) or [None] * n for name in _BATCH_KEYS}

        def field_of(name, i):
            return f"positions.{name}[{i}]"
    else:
        raise UploadInvalid("positions is required: a list of objects or an object of arrays", field="positions")
    n = len(columns["t"])
    if n == 0:
        raise UploadInvalid("positions is empty", field="positions")
    if n > limit:
        raise UploadInvalid(f"{n} positions is more than the limit of {limit}", field="positions", index=limit)
    identifiers = sorted(keys)
    code = {identifier: i for i, identifier in enumerate(identifiers)}
    device = np.empty(n, dtype=np.int64)
    for i, identifier in enumerate(columns["id"]):
        index = code.get(identifier)
        if index is None:
            raise UploadInvalid(f"{field_of('id', i)} has no key in keys", field=field_of("id", i), index=i)
        device[i] = index
    arrays = {}
    for name, required in BATCH_FIELDS:
        arr, bad, problem = _column(columns[name], name, required, "num")
        if bad is not None:
            raise UploadInvalid(f"{field_of(name, bad)} {problem}", field=field_of(name, bad), index=bad)
        arrays[name] = arr
    t, bad, problem = _column(columns["t"], "t", True, "time")
    if bad is not None:
        raise UploadInvalid(f"{field_of('t', bad)} {problem}", field=field_of("t", bad), index=bad)
    batch = PositionBatch(identifiers=identifiers, device=device, t=t, **arrays)
    return batch, {identifier: keys[identifier] for identifier in identifiers}
