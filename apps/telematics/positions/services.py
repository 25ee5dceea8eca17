"""Storing streamed positions: the same time window, cleaning and consent rules as trip uploads
(apps.telematics.ingest.clean_samples, apps.telematics.services.consent_check), then one
INSERT per request into the month-partitioned positions table, idempotent on (device, time)."""

import datetime as dt
import math
import time
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from apps.common import live
from apps.common.partitions import add_months, month_start
from apps.common.sql import int_array_literal, statement
from apps.telematics import hooks
from apps.telematics.ingest import US, SampleArrays, clean_samples
from apps.telematics.ingest.parsing import _time_range_check
from apps.telematics.models import Device
from apps.telematics.partitions import partitions_ensure
from apps.telematics.positions.parse import PositionBatch
from apps.telematics.positions.rejections import positions_rejections_record, window_split
from apps.telematics.services import ConsentRefused, DeviceRefused, consent_check

POSITIONS_TABLE = "telematics_position"


@dataclass
class PositionsResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0  # stored before (the first received wins) or repeated in the request
    dropped: dict[str, int] = field(default_factory=dict)  # by cleaning reason
    refused: dict[str, str] = field(default_factory=dict)  # device identifier -> reason

    def as_dict(self) -> dict:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "dropped": self.dropped,
            "refused": self.refused,
        }


def _float_array(values: np.ndarray) -> str:
    return "{" + ",".join(map(repr, values.tolist())) + "}"


def _first_received(t: np.ndarray) -> np.ndarray:
    """Indexes of the first position of each instant, in time order (np.unique keeps the first
    occurrence), so a conflicting later fix in the same request loses as a later request does."""
    _, first = np.unique(t, return_index=True)
    return first


def _cleaned(batch: PositionBatch, rows: np.ndarray, dropped: dict[str, int]) -> np.ndarray:
    """Indexes (into batch) of one device's positions that pass the trip upload's cleaning."""
    if len(rows) == 1:
        return _cleaned_one(batch, rows, dropped)
    samples = SampleArrays(
        t=batch.t[rows],
        lat=batch.lat[rows],
        lon=batch.lon[rows],
        speed=batch.speed[rows],
        acc_lon=np.full(len(rows), np.nan),
        acc_lat=np.full(len(rows), np.nan),
        heading=batch.heading[rows],
        speed_limit=np.full(len(rows), np.nan),
        phone=np.full(len(rows), -1, dtype=np.int8),
    )
    result = clean_samples(samples)
    for reason, count in result.dropped.items():
        dropped[reason] = dropped.get(reason, 0) + count
    # Times are unique here, so the kept times find their rows again.
    return rows[np.searchsorted(samples.t, result.samples.t)]


def _cleaned_one(batch: PositionBatch, rows: np.ndarray, dropped: dict[str, int]) -> np.ndarray:
    """clean_samples' answer for a single position (the OsmAnd request's), without its sorting
    and duplicate machinery: nothing to sort, no duplicate, no jump to judge, no accelerometer —
    only the coordinates and the speed ranges remain (a test holds the two to the same answers)."""
    i = int(rows[0])
    lat, lon, speed = float(batch.lat[i]), float(batch.lon[i]), float(batch.speed[i])
    if not (abs(lat) <= 90 and abs(lon) <= 180):
        reason = "coordinates_out_of_range"
    elif not (math.isnan(speed) or 0 <= speed <= settings.TELEMATICS["MAX_SPEED_MPS"]):
        reason = "speed_out_of_range"
    else:
        return rows
    dropped[reason] = dropped.get(reason, 0) + 1
    return rows[:0]


def device_states(devices: dict[int, Device], batch: PositionBatch) -> dict[int, tuple]:
    """code -> (active, driver_id, consent state) for every device of the batch, in one query."""
    codes = sorted(devices)
    last_at = [dt.datetime.fromtimestamp(int(batch.t[batch.device == code].max()) / US, tz=dt.UTC) for code in codes]
    with connection.cursor() as cursor:
        cursor.execute(
            statement(__name__, "positions.sql", "devices"),
            {"devices": [devices[c].pk for c in codes], "last_at": last_at},
        )
        by_id = {row[0]: row[1:] for row in cursor.fetchall()}
    states = {}
    for code in codes:
        active, driver_id, total, in_force = by_id.get(devices[code].pk, (False, None, 0, 0))
        state = "in_force" if in_force else "withdrawn" if total else "none"
        states[code] = (active, driver_id, state)
    return states


def positions_store(
    *,
    batch: PositionBatch,
    devices: dict[int, Device],
    max_age_days: float | None = None,
    strict: bool = False,
    field_of=None,
    clean: bool = True,
) -> PositionsResult:
    """Stores the positions of authenticated devices (`devices`: batch device code -> Device).

    Positions outside the window (older than POSITION_MAX_AGE_DAYS, or `max_age_days`, 0 for
    any age; more than a day ahead) refuse the whole request, as a trip upload's samples do.
    A device revoked meanwhile or whose driver has no consent in force stores nothing: with
    `strict` (one device, the OsmAnd protocol, whose positions positions_screen has already
    windowed and cleaned) that raises DeviceRefused / ConsentRefused, otherwise its identifier
    is listed in `refused` and the other devices' positions are kept.
    `clean=False` skips the cleaning, for positions cleaned when they were accepted (the buffer)."""
    window = settings.TELEMATICS["POSITION_MAX_AGE_DAYS"] if max_age_days is None else max_age_days
    _time_range_check(batch.t, field_of or (lambda i: "timestamp"), window)
    result = PositionsResult(received=len(batch))
    rows = accepted_rows(batch, devices, result, strict=strict, clean=clean)
    if len(rows):
        stored = _insert(batch, rows, devices)
        result.duplicates += len(rows) - stored
        result.stored = stored
    return result


def accepted_rows(
    batch: PositionBatch,
    devices: dict[int, Device],
    result: PositionsResult,
    *,
    strict: bool,
    clean: bool = True,
    states: dict[int, tuple] | None = None,
) -> np.ndarray:
    """Indexes of the positions to store: of devices active and with consent in force (`states`
    as device_states gives them, read now when not given), the first received of each instant,
    cleaned; refusals and drops are counted in `result`."""
    keep: list[np.ndarray] = []
    for code, device_state in (states or device_states(devices, batch)).items():
        identifier = batch.identifiers[code]
        try:
            _refuse_unless_accepted(device_state)
        except (DeviceRefused, ConsentRefused) as exc:
            if strict:
                raise
            result.refused[identifier] = exc.code
            continue
        rows = np.flatnonzero(batch.device == code)
        rows = rows[np.argsort(batch.t[rows], kind="stable")]
        first = rows[_first_received(batch.t[rows])]
        result.duplicates += len(rows) - len(first)
        keep.append(_cleaned(batch, first, result.dropped) if clean else first)
    return np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)


def _refuse_unless_accepted(device_state: tuple) -> None:
    """Raises DeviceRefused or ConsentRefused for a device state (as device_states gives it)
    whose positions are not to be stored."""
    active, driver_id, state = device_state
    if not active:
        raise DeviceRefused("the device is revoked or inactive: nothing was stored", code="device_inactive")
    consent_check(driver_id=driver_id, state=state)


def positions_screen(
    *, batch: PositionBatch, device: Device, states: dict[int, tuple] | None = None
) -> tuple[PositionBatch, dict[int, tuple]]:
    """One OsmAnd request's positions (one device) as they can be stored: the device and its
    driver's consent are checked first (DeviceRefused / ConsentRefused, nothing recorded); then
    positions outside the time window (POSITION_MAX_AGE_DAYS back, a day ahead) and those
    cleaning refuses are set aside and recorded as rejections, never a 400 (a Traccar Client
    would send them again forever: apps.telematics.positions.rejections). Returns the positions
    to store (the first received of each instant, cleaned) and the device's state."""
    states = states or device_states({0: device}, batch)
    _refuse_unless_accepted(states[0])
    days = settings.TELEMATICS["POSITION_MAX_AGE_DAYS"]
    inside, outside = window_split(batch.t, days)
    rejected = {
        reason: (len(rows), int(batch.t[rows].max()), f"outside the accepted time range (the last {days:g} days)")
        for reason, rows in outside.items()
    }
    inside_batch = batch.take(inside)
    result = PositionsResult()
    rows = accepted_rows(inside_batch, {0: device}, result, strict=True, states=states) if len(inside) else inside
    if result.dropped:
        left_out = np.setdiff1d(np.arange(len(inside_batch)), rows)
        last = int(inside_batch.t[left_out].max()) if len(left_out) else None
        for reason, count in result.dropped.items():
            rejected[reason] = (count, last, f"refused by cleaning: {reason.replace('_', ' ')}")
    positions_rejections_record(device_id=device.pk, rejected=rejected)
    return inside_batch.take(rows), states


# Months whose partition this process has seen lately (monotonic time of the check).
_KNOWN_MONTHS: dict[dt.date, float] = {}


def _partitions_for(t: np.ndarray) -> None:
    now = time.monotonic()
    first = dt.datetime.fromtimestamp(int(t.min()) / US, tz=dt.UTC).date()
    last = dt.datetime.fromtimestamp(int(t.max()) / US, tz=dt.UTC).date()
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    if all(now - _KNOWN_MONTHS.get(m, -1e9) < 60 for m in months):
        return
    # Before the request's own transaction, so a rolled-back request never takes a month with it.
    partitions_ensure(table=POSITIONS_TABLE, first=first, last=last)
    if not connection.in_atomic_block:
        for m in months:
            _KNOWN_MONTHS[m] = now


def _insert(batch: PositionBatch, rows: np.ndarray, devices: dict[int, Device]) -> int:
    _partitions_for(batch.t[rows])
    id_of = np.zeros(len(batch.identifiers), dtype=np.int64)
    for code, device in devices.items():
        id_of[code] = device.pk
    b = batch.take(rows)
    params = {
        "device": int_array_literal(id_of[b.device]),
        "t": int_array_literal(b.t),
        **{name: _float_array(getattr(b, name)) for name in PositionBatch.COLUMNS[2:]},
    }
    codes = np.unique(b.device)
    firsts = np.full(len(batch.identifiers), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(firsts, b.device, b.t)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement(__name__, "positions.sql", "insert"), params)
        stored = cursor.rowcount
        cursor.execute(
            statement(__name__, "positions.sql", "mark"),
            {"devices": int_array_literal(id_of[codes]), "first": int_array_literal(firsts[codes])},
        )
        # robust: the positions are committed; a broker outage must not turn the answer into a
        # 500 (the beat schedule runs detection every minute as well).
        transaction.on_commit(trips_detect_request, robust=True)
        latest = positions_latest_message(device_ids=id_of[b.device], batch=b)
        if latest:
            live.publish("positions", latest)
    return stored


LIVE_DEVICES_MAX = 1000


def positions_latest_message(*, device_ids: np.ndarray, batch: PositionBatch) -> dict | None:
    """The live map's message for one store: each device's newest position of it (one message
    per request or buffered flush, never one per position), or `reload` when too many devices
    moved to list; None when every position is older than the live window (an import)."""
    recent = batch.t >= (time.time() - settings.TELEMATICS["POSITION_MAX_AGE_DAYS"] * 86400) * US
    if not recent.any():
        return None
    rows = np.flatnonzero(recent)
    order = rows[np.lexsort((batch.t[rows], device_ids[rows]))]
    last = order[np.append(device_ids[order][1:] != device_ids[order][:-1], True)]
    if len(last) > LIVE_DEVICES_MAX:
        return {"reload": True}

    def known(value: float) -> float | None:
        return None if np.isnan(value) else round(float(value), 2)

    return {
        "positions": [
            {
                "device": int(device_ids[i]),
                "t": int(batch.t[i]) // US,
                "lat": round(float(batch.lat[i]), 6),
                "lon": round(float(batch.lon[i]), 6),
                "speed": known(batch.speed[i]),
                "heading": known(batch.heading[i]),
            }
            for i in last.tolist()
        ]
    }


DETECT_REQUESTED_SECONDS = 30  # beyond the run's delay (TRIP_DETECT_DELAY_SECONDS)


def _detect_requested_key() -> str:
    return f"telematics:trips-detect-requested:{connection.settings_dict['NAME']}"


def trips_detect_request() -> None:
    """Makes sure a Celery task will run trip detection over the devices marked so far: one task
    for all the requests that arrive while it waits (see trip_features_request)."""
    timeout = DETECT_REQUESTED_SECONDS + settings.TELEMATICS["TRIP_DETECT_DELAY_SECONDS"]
    if cache.add(_detect_requested_key(), 1, timeout=timeout):
        hooks.trips_detect_wanted.send()


def trips_detect_request_clear() -> None:
    cache.delete(_detect_requested_key())
