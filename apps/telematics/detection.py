"""Trip detection: trips cut from each device's stream of positions, as trackers' servers do.

A trip starts when the vehicle moves — an interval whose reported speed reaches MOVING_SPEED_MPS,
or whose displacement goes beyond the fixes' reported accuracy (at least POSITION_MOVE_MIN_M) at
a moving pace — and ends at the last movement before TRIP_STOP_MINUTES without any. Movements
shorter than TRIP_MIN_DISTANCE_M or TRIP_MIN_DURATION_S are not trips. A trip whose last movement
is less than the stop time ago is open (`in_progress`); it closes when the stop time has passed.

Incremental: the positions store marks a device with the earliest time it stored
(PositionCursor.dirty_from), and a run reads that device's positions from a little before that
time on (from the start of the trip it may touch). Idempotent: the same positions give the same
segments, which are matched to the stored trips by overlap and updated in place, so running it
again changes nothing; a late position extends or re-opens the right trip, or merges two. A trip
that changed gets its positions copied into the samples (accelerometer unknown: NaN) and its
features computed again by the trip-features path."""

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.telematics.ingest import US, haversine_m
from apps.telematics.ingest.cleaning import _jump_filter
from apps.telematics.models import Device, PositionCursor, Trip
from apps.telematics.partitions import SAMPLES_TABLE, partitions_ensure
from apps.telematics.positions.services import trips_detect_request_clear
from apps.telematics.sampling import interval_motion
from apps.telematics.services import trip_features_request

logger = logging.getLogger(__name__)


def _cfg(name: str):
    return settings.TELEMATICS[name]


@dataclass(frozen=True)
class Segment:
    start_us: int
    end_us: int
    distance_m: float
    positions: int
    closed: bool


@dataclass
class Track:
    t: np.ndarray  # int64 µs, strictly increasing
    lat: np.ndarray
    lon: np.ndarray
    speed: np.ndarray  # NaN unknown
    accuracy: np.ndarray  # NaN unknown


def moving_intervals(track: Track) -> np.ndarray:
    """For each interval between consecutive positions: did the vehicle move? Read as the trip
    features read it (apps.telematics.sampling.interval_motion), except that a silence as long as
    a stop is movement only when the vehicle is elsewhere afterwards."""
    if len(track.t) < 2:
        return np.zeros(0, dtype=bool)
    secs = np.diff(track.t) / US
    step = haversine_m(track.lat[:-1], track.lon[:-1], track.lat[1:], track.lon[1:])
    moving, _, _ = interval_motion(
        secs, step, track.speed[:-1], track.speed[1:], track.accuracy[:-1], track.accuracy[1:]
    )
    reach = np.fmax(np.fmax(track.accuracy[:-1], track.accuracy[1:]), _cfg("POSITION_MOVE_MIN_M"))
    displaced = (step > reach) & (step / np.maximum(secs, 1e-9) >= _cfg("MOVING_SPEED_MPS"))
    long = secs >= _cfg("TRIP_STOP_MINUTES") * 60
    return np.where(long, displaced, moving)


def segments(track: Track, *, now_us: int) -> list[Segment]:
    """The trips of a track: runs of movement split by stops of TRIP_STOP_MINUTES or more."""
    moving = moving_intervals(track)
    moves = np.flatnonzero(moving)
    if not len(moves):
        return []
    stop_us = int(_cfg("TRIP_STOP_MINUTES") * 60 * US)
    # Interval i runs from position i to i+1; a new trip starts where the time from the end of
    # the previous moving interval to the start of this one is a full stop.
    new = np.ones(len(moves), dtype=bool)
    new[1:] = track.t[moves[1:]] - track.t[moves[:-1] + 1] >= stop_us
    starts = moves[new]
    ends = np.append(moves[np.flatnonzero(new)[1:] - 1], moves[-1])
    step = haversine_m(track.lat[:-1], track.lon[:-1], track.lat[1:], track.lon[1:])
    cum = np.concatenate([[0.0], np.cumsum(np.where(moving, step, 0.0))])
    out = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        start, end = int(track.t[a]), int(track.t[b + 1])
        distance = float(cum[b + 1] - cum[a])
        if distance < _cfg("TRIP_MIN_DISTANCE_M") or (end - start) / US < _cfg("TRIP_MIN_DURATION_S"):
            continue
        out.append(Segment(start, end, distance, b + 2 - a, closed=now_us - end >= stop_us))
    return out


def _to_dt(t_us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t_us / US, tz=dt.UTC)


def _track(device_id: int, since: dt.datetime, *, limit: int) -> tuple[Track, bool]:
    """At most `limit` of the device's positions from `since` on, the implausible jumps between
    requests removed by the uploads' own jump filter, and whether they reach the stream's end."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (extract(epoch FROM recorded_at) * 1000000)::bigint, latitude, longitude, "
            "COALESCE(speed_mps, 'NaN'), COALESCE(accuracy_m, 'NaN') FROM telematics_position "
            "WHERE device_id = %s AND recorded_at >= %s ORDER BY recorded_at LIMIT %s",
            [device_id, since, limit],
        )
        rows = cursor.fetchall()
    if not rows:
        empty = np.zeros(0)
        return Track(np.zeros(0, dtype=np.int64), empty, empty, empty, empty), True
    t, lat, lon, speed, acc = (np.array(c) for c in zip(*rows, strict=True))
    track = Track(t.astype(np.int64), lat.astype(float), lon.astype(float), speed.astype(float), acc.astype(float))
    keep = _jump_filter(track.t, track.lat, track.lon, _cfg("MAX_JUMP_SPEED_MPS"))
    return Track(*(getattr(track, f)[keep] for f in ("t", "lat", "lon", "speed", "accuracy"))), len(rows) < limit


def _last_stop(track: Track) -> tuple[int, int] | None:
    """(a, b): the positions around the last stretch of the track without movement lasting a full
    stop time, or None. Segments end before position a and start after position b whatever
    positions come after the track, so the stream can be cut anywhere in between."""
    moving = moving_intervals(track)
    if not len(moving):
        return None
    stop_us = _cfg("TRIP_STOP_MINUTES") * 60 * US
    # Positions where a still run starts (after a move, or at the first) and ends (before a move, or the last).
    still = ~moving
    starts = np.flatnonzero(still & np.concatenate([[True], moving[:-1]]))
    ends = np.flatnonzero(still & np.concatenate([moving[1:], [True]])) + 1
    long = np.flatnonzero(track.t[ends] - track.t[starts] >= stop_us)
    if not len(long):
        return None
    return int(starts[long[-1]]), int(ends[long[-1]])


def _window_start(device_id: int, dirty_from: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(read from, trips ending from): far enough back that every trip the new positions can
    touch is read whole — the position before the earliest new one may be joined to it — and at
    least one stop time before that trip, so the segmentation there is the full one's."""
    stop = dt.timedelta(minutes=_cfg("TRIP_STOP_MINUTES"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(recorded_at) FROM telematics_position WHERE device_id = %s AND recorded_at < %s",
            [device_id, dirty_from],
        )
        before = cursor.fetchone()[0]
        touch_from = min(dirty_from, before or dirty_from) - stop
        cursor.execute(
            "SELECT started_at FROM telematics_trip WHERE device_id = %s AND source = %s AND ended_at >= %s "
            "ORDER BY started_at LIMIT 1",
            [device_id, Trip.Source.POSITIONS, touch_from],
        )
        first = cursor.fetchone()
    first_trip = first[0] if first else None
    return min(touch_from, first_trip or touch_from) - stop, touch_from


def _chunks(device_id: int, read_from: dt.datetime, *, limit: int):
    """Yields (track, cut_us): the device's stream from `read_from` in pieces of at most `limit`
    positions (more only while one movement outlasts them), each cut inside a stop; the segments
    of a piece that end by cut_us are the whole stream's (None: the piece reaches the end)."""
    since = read_from
    while True:
        track, complete = _track(device_id, since, limit=limit)
        if complete:
            yield track, None
            return
        stop = _last_stop(track)
        if stop is None:  # one movement longer than the piece: read more of it at once
            limit *= 2
            continue
        a, b = stop
        yield track, int(track.t[a])
        since = _to_dt(int(track.t[b]))


@transaction.atomic
def device_trips_detect(
    *, device: Device, dirty_from: dt.datetime, now: dt.datetime | None = None, chunk: int | None = None
) -> dict:
    """Detects the trips of one device touched by positions from `dirty_from` on; returns counts.

    The stream is read in pieces of DETECT_CHUNK_POSITIONS (`chunk`) positions cut inside stops,
    so a device with months of new positions is detected in bounded memory with the same trips
    as one read of the whole range would give."""
    now = now or timezone.now()
    now_us = int(now.timestamp() * US)
    read_from, touch_from = _window_start(device.pk, dirty_from)
    touch_us = touch_from.timestamp() * US
    counts = {"created": 0, "updated": 0, "unchanged": 0, "removed": 0}
    decided = touch_from  # stored trips ending before this were matched by an earlier piece
    for track, cut_us in _chunks(device.pk, read_from, limit=chunk or _cfg("DETECT_CHUNK_POSITIONS")):
        found = [
            s for s in segments(track, now_us=now_us) if s.end_us >= touch_us and (cut_us is None or s.end_us <= cut_us)
        ]
        stored = Trip.objects.select_for_update().filter(
            device_id=device.pk, source=Trip.Source.POSITIONS, ended_at__gte=touch_from
        )
        if decided > touch_from:
            stored = stored.filter(ended_at__gt=decided)
        if cut_us is not None:
            stored = stored.filter(started_at__lte=_to_dt(cut_us))
        _match(device, found, list(stored.order_by("started_at", "pk")), dirty_from, cut_us, counts)
        if cut_us is not None:
            decided = _to_dt(cut_us)
    if counts["created"] or counts["updated"]:
        transaction.on_commit(trip_features_request, robust=True)
    return counts


def _match(device: Device, found: list[Segment], stored: list[Trip], dirty_from, cut_us, counts: dict) -> None:
    """Matches a piece's segments to the stored trips by overlap: updates, creates and removes."""
    claimed: set[int] = set()
    for segment in found:
        start, end = _to_dt(segment.start_us), _to_dt(segment.end_us)
        overlapping = [t for t in stored if t.pk not in claimed and t.started_at <= end and t.ended_at >= start]
        copied_to = None  # the trip's samples are its positions up to here already
        if not overlapping:
            trip = _trip_create(device=device, segment=segment)
            counts["created"] += 1
        else:
            trip = overlapping[0]
            claimed.update(t.pk for t in overlapping)
            for merged in overlapping[1:]:  # a late position joined two trips into one
                _trip_remove(merged)
                counts["removed"] += 1
            unchanged = (
                trip.started_at == start
                and trip.ended_at == end
                and trip.in_progress == (not segment.closed)
                and dirty_from > end
                and len(overlapping) == 1
            )
            if unchanged:
                counts["unchanged"] += 1
                continue
            if len(overlapping) == 1 and trip.started_at == start and dirty_from > trip.ended_at <= end:
                # A trip in progress extended at its end: no position up to its old end changed,
                # so only the new ones are copied (copying it whole each run cost a trip's
                # length per position streamed).
                copied_to = trip.ended_at
            trip.started_at, trip.ended_at, trip.in_progress = start, end, not segment.closed
            trip.samples_received = trip.samples_stored = segment.positions
            trip.feature_status = Trip.FeatureStatus.PENDING
            trip.updated_at = timezone.now()
            Trip.objects.filter(pk=trip.pk).update(  # what save(update_fields=...) writes, without its cost
                started_at=start,
                ended_at=end,
                in_progress=trip.in_progress,
                samples_received=segment.positions,
                samples_stored=segment.positions,
                feature_status=trip.feature_status,
                updated_at=trip.updated_at,
            )
            counts["updated"] += 1
        _samples_copy(trip, after=copied_to)
    for trip in stored:
        # No movement left where it was (positions re-read after cleaning changed it); a trip
        # reaching past the piece's cut may still match a segment of the next piece.
        if trip.pk is not None and trip.pk not in claimed and (cut_us is None or trip.ended_at <= _to_dt(cut_us)):
            _trip_remove(trip)
            counts["removed"] += 1


def _trip_create(*, device: Device, segment: Segment) -> Trip:
    start = _to_dt(segment.start_us)
    driver_id, rental_id = device.customer_id, None
    if device.vehicle_id:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, customer_id FROM transactions_rental WHERE vehicle_id = %s AND rented_at <= %s "
                "AND (returned_at IS NULL OR returned_at >= %s) ORDER BY rented_at DESC LIMIT 1",
                [device.vehicle_id, start, start],
            )
            rental = cursor.fetchone()
        if rental:
            driver_id = driver_id or rental[1]
            rental_id = rental[0] if rental[1] == driver_id else None
    return Trip.objects.create(
        device=device,
        external_id=f"stream-{segment.start_us // US}",
        source=Trip.Source.POSITIONS,
        in_progress=not segment.closed,
        driver_id=driver_id,
        vehicle_id=device.vehicle_id,
        rental_id=rental_id,
        started_at=start,
        ended_at=_to_dt(segment.end_us),
        samples_received=segment.positions,
        samples_stored=segment.positions,
    )


def _trip_remove(trip: Trip) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {SAMPLES_TABLE} WHERE trip_id = %s", [trip.pk])
    trip.delete()


def _samples_copy(trip: Trip, *, after: dt.datetime | None = None) -> None:
    """The trip's positions become its samples (replacing those of an earlier cut); with `after`,
    its samples up to that time are already its positions and only the later ones are added."""
    partitions_ensure(table=SAMPLES_TABLE, first=(after or trip.started_at).date(), last=trip.ended_at.date())
    low, op = (after, ">") if after is not None else (trip.started_at, ">=")
    with connection.cursor() as cursor:
        if after is None:
            cursor.execute(f"DELETE FROM {SAMPLES_TABLE} WHERE trip_id = %s", [trip.pk])
        cursor.execute(
            f"INSERT INTO {SAMPLES_TABLE} (trip_id, recorded_at, latitude, longitude, speed_mps, "
            "accel_lon_mps2, accel_lat_mps2, heading_deg, speed_limit_mps, phone_use) "
            "SELECT %s, recorded_at, latitude, longitude, COALESCE(speed_mps, 'NaN'), 'NaN', 'NaN', "
            "heading_deg, NULL, NULL FROM telematics_position "
            f"WHERE device_id = %s AND recorded_at {op} %s AND recorded_at <= %s",
            [trip.pk, trip.device_id, low, trip.ended_at],
        )


def trips_detect_pending(*, now: dt.datetime | None = None) -> int:
    """Runs detection for every device with new positions, and for every device whose open trip
    has passed the stop time (its vehicle stopped reporting). Devices are claimed with SKIP
    LOCKED, so two runs share the work; a device's mark is cleared only when no position
    arrived during its run (the version did not move). Returns the number of devices run."""
    trips_detect_request_clear()
    now = now or timezone.now()
    stop = dt.timedelta(minutes=_cfg("TRIP_STOP_MINUTES"))
    stale = Trip.objects.filter(in_progress=True, ended_at__lte=now - stop).values_list("device_id", "started_at")
    for device_id, started_at in stale:
        PositionCursor.objects.filter(device_id=device_id, dirty_from__isnull=True).update(dirty_from=started_at)
    done, failed = 0, []
    while True:
        with transaction.atomic():
            # Plain SQL for the claim and the clear: built by the ORM they cost more than the
            # detection of a device with a few new positions.
            with connection.cursor() as cursor:
                cursor.execute(_CLAIM_SQL, [failed])
                row = cursor.fetchone()
            if row is None:
                return done
            device_id, dirty_from, version, customer_id, vehicle_id = row
            device = Device(pk=device_id, customer_id=customer_id, vehicle_id=vehicle_id)
            try:
                with transaction.atomic():
                    device_trips_detect(device=device, dirty_from=dirty_from, now=now)
            except Exception:
                logger.exception("trip detection failed for device %s", device_id)
                failed.append(device_id)
                continue
            with connection.cursor() as cursor:
                cursor.execute(_CLEAR_SQL, [now, device_id, version])
            done += 1


# The first device with new positions that no other run holds (SKIP LOCKED: two runs share the
# work), with what detection needs of the device.
_CLAIM_SQL = (
    "SELECT c.device_id, c.dirty_from, c.version, d.customer_id, d.vehicle_id "
    "FROM telematics_positioncursor c JOIN telematics_device d ON d.id = c.device_id "
    "WHERE c.dirty_from IS NOT NULL AND NOT (c.device_id = ANY(%s::bigint[])) "
    "ORDER BY c.device_id LIMIT 1 FOR UPDATE OF c SKIP LOCKED"
)
# Cleared only when no position arrived during the run (the version did not move).
_CLEAR_SQL = (
    "UPDATE telematics_positioncursor SET dirty_from = NULL, detected_at = %s WHERE device_id = %s AND version = %s"
)
