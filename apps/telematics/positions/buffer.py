"""Accept-and-buffer for single positions (the OsmAnd endpoint): a request is checked as
positions_store checks it — window, device, consent, cleaning — then appended to a Redis stream
and answered; a flusher writes the stream to the positions table in batches through the same
store (first received wins on (device, time)).

Exactly once in effect: the flusher reads with XREADGROUP, stores, commits, and only then
acknowledges and deletes the entries (XACK + XDEL). A flusher that dies before its commit leaves
its entries pending; the next flush claims those idle for FLUSH_CLAIM_IDLE_S (XAUTOCLAIM) and
stores them, and one that dies between commit and acknowledgement gets them stored again, which
the (device, time) key turns into nothing. Consent and the device are checked again at the
flush, in the database: a withdrawal or revocation between the answer and the flush stores
nothing. When Redis refuses the append, the request stores its positions itself, as before the
buffer; a stream longer than POSITION_BUFFER_WARN (no flusher keeping up) is logged."""

import functools
import logging
import math
import os
import socket
import time

import numpy as np
import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS
from django_redis import get_redis_connection
from redis.commands.core import Script

from apps.common.versions import version_parse, version_redis_key
from apps.customers.services import CONSENT_VERSION_KEY
from apps.telematics import hooks
from apps.telematics.ingest import UploadInvalid
from apps.telematics.models import Device
from apps.telematics.positions.parse import PositionBatch
from apps.telematics.positions.rejections import window_split
from apps.telematics.positions.services import PositionsResult, accepted_rows, positions_screen, positions_store
from apps.telematics.services.devices import device_remembered, device_version_redis_key, devices_seen, remember

logger = logging.getLogger(__name__)

GROUP = "flush"
FLUSH_BATCH = 5000  # entries (requests) per read and per stored batch
FLUSH_CLAIM_IDLE_S = 60  # entries read this long ago and never acknowledged belong to a dead flusher
FLAG_SECONDS = 120  # a wanted flush that never ran (its task lost) is asked for again after this
_FLOATS = PositionBatch.COLUMNS[2:]


def _keys() -> tuple[str, str]:
    # The database's name from the settings, not from `connection`: on an event loop (the
    # positions receiver) every request is a task of its own, and its first touch of
    # `connection` makes it a new connection object (about 25 us a request).
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "fleetops")
    base = f"{prefix}:telematics:positions:{settings.DATABASES[DEFAULT_DB_ALIAS]['NAME']}"
    return f"{base}:stream", f"{base}:flush-wanted"


@functools.cache
def _redis() -> redis.Redis:
    """The cache's Redis client, kept by this process: `caches` too is per task on an event loop,
    and the client (its connection pool shared by threads) is the same each time."""
    return get_redis_connection("default")


def _forget_client(*, setting: str, **kwargs) -> None:
    if setting == "CACHES":
        _redis.cache_clear()


setting_changed.connect(_forget_client)


def _encode(batch: PositionBatch, device_id: int) -> dict:
    return {
        "d": device_id,
        "t": batch.t.astype("<i8").tobytes(),
        "v": np.stack([getattr(batch, c) for c in _FLOATS]).astype("<f8").tobytes(),
    }


def _decode(fields: dict) -> tuple[int, np.ndarray, np.ndarray]:
    t = np.frombuffer(fields[b"t"], dtype="<i8")
    values = np.frombuffer(fields[b"v"], dtype="<f8").reshape(len(_FLOATS), len(t))
    return int(fields[b"d"]), t, values


# Devices whose positions this process accepted lately: device id -> (state as device_states
# gives it, the consent version it was read at, when). Only states that accept are kept.
_STATES: dict[int, tuple[tuple, int, float]] = {}
_STATES_MAX = 100_000


def positions_accept_remembered(*, batch: PositionBatch, raw_key: str | None) -> str | None:
    """The fast path: a device this process authenticated and accepted within the last seconds
    is checked from memory and its positions appended in one Redis round trip that also reads the
    device and consent versions. None: nothing remembered, nothing appended (take the checked
    path); "accepted"; "appended": appended, but a device was revoked or a consent changed
    somewhere since they were remembered — the caller checks this one again and answers as it
    finds (a refused device's entry is refused at the flush as well). Raises as
    positions_store(strict=True) does for bad positions."""
    remembered = device_remembered(raw_token=raw_key) if raw_key else None
    if remembered is None:
        return None
    device, device_version = remembered
    known = _STATES.get(device.pk)
    memory = settings.TELEMATICS["DEVICE_MEMORY_SECONDS"]
    if known is None or time.monotonic() - known[2] >= memory or device.serial != batch.identifiers[0]:
        return None
    state, consent_version, _ = known
    if window_split(batch.t, settings.TELEMATICS["POSITION_MAX_AGE_DAYS"])[1]:
        return None  # a rejection to record: the checked path does it
    result = PositionsResult()
    rows = accepted_rows(batch, {0: device}, result, strict=True, states={0: state})
    if result.dropped:
        return None
    try:
        versions = _append(batch.take(rows), device.pk) if len(rows) else None
    except redis.RedisError:
        return None  # the checked path stores directly
    if versions is None or versions == (device_version, consent_version):
        return "accepted"
    _STATES.pop(device.pk, None)
    return "appended"


def positions_accept(*, batch: PositionBatch, device: Device, append: bool = True) -> None:
    """The checked path, for an authenticated device: device and consent (read now), then the
    window and cleaning, whose rejections are recorded (positions_screen); then buffered, and
    the device's state remembered for the fast path. Without Redis the positions are stored
    directly."""
    try:
        consent_version = version_parse(_redis().get(version_redis_key(CONSENT_VERSION_KEY)))
    except redis.RedisError:
        consent_version = None
    kept, states = positions_screen(batch=batch, device=device)
    if consent_version is not None:
        remember(_STATES, device.pk, (states[0], consent_version, time.monotonic()), cap=_STATES_MAX)
    if not len(kept) or not append:
        return
    try:
        _append(kept, device.pk)
    except redis.RedisError as exc:
        logger.warning("positions buffer unavailable, storing directly: %s", exc)
        positions_store(batch=kept, devices={0: device}, strict=True)


# One command instead of a pipeline of five: the append is most of a buffered request's own CPU,
# and redis-py spends three times as long packing and parsing five commands as one script call.
_APPEND_LUA = """
redis.call('XADD', KEYS[1], '*', 'd', ARGV[1], 't', ARGV[2], 'v', ARGV[3])
local wanted = redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[4])
return {wanted and 1 or 0, redis.call('XLEN', KEYS[1]),
        redis.call('GET', KEYS[3]) or '0', redis.call('GET', KEYS[4]) or '0'}
"""
_APPEND = Script(None, _APPEND_LUA.encode())  # bytes: no client needed for its SHA


def _append(kept: PositionBatch, device_id: int) -> tuple[int, int]:
    """Appends in one round trip, asks for a flush when none is wanted yet (no flusher holds the
    flag), and returns the device and consent versions read in the same round trip."""
    stream, flag = _keys()
    fields = _encode(kept, device_id)
    wanted, length, device_version, consent_version = _APPEND(
        keys=[stream, flag, device_version_redis_key(), version_redis_key(CONSENT_VERSION_KEY)],
        args=[fields["d"], fields["t"], fields["v"], FLAG_SECONDS],
        client=_redis(),
    )
    if wanted:
        hooks.positions_flush_wanted.send()
    if length > settings.TELEMATICS["POSITION_BUFFER_WARN"]:
        # No flusher keeps up (workers down or too few): say so, and ask again.
        logger.warning("positions buffer holds %s entries", length)
        hooks.positions_flush_wanted.send()
    return version_parse(device_version), version_parse(consent_version)


def _consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _ensure_group(client: redis.Redis, stream: str) -> None:
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def positions_flush(*, batch: int = FLUSH_BATCH, claim_idle_s: float = FLUSH_CLAIM_IDLE_S) -> dict:
    """Stores everything buffered (and what dead flushers left pending); returns counts."""
    client = _redis()
    stream, flag = _keys()
    _ensure_group(client, stream)
    consumer = _consumer()
    counts = _counts()
    try:
        _claim_dead(client, stream, consumer, batch, claim_idle_s, counts)
        emptied = False
        while True:
            read = client.xreadgroup(GROUP, consumer, {stream: ">"}, count=batch)
            entries = read[0][1] if read else []
            if not entries:
                if emptied:
                    break
                # Clear the flag before the last look: a request appending after that look sets
                # it again and asks for the next flush, so nothing waits for the beat.
                client.delete(flag)
                emptied = True
                continue
            emptied = False
            _store_entries(client, stream, entries, counts)
    except BaseException:
        client.delete(flag)
        raise
    return counts


def _counts() -> dict:
    return {"entries": 0, "stored": 0, "duplicates": 0, "refused": 0}


def _claim_dead(client: redis.Redis, stream: str, consumer: str, batch: int, claim_idle_s: float, counts: dict) -> None:
    """Stores the entries read by a flusher that died before acknowledging them."""
    start = "0-0"
    while True:
        claimed = client.xautoclaim(
            stream, GROUP, consumer, min_idle_time=int(claim_idle_s * 1000), start_id=start, count=batch
        )
        start, entries = claimed[0], claimed[1]  # Redis 7 adds the ids deleted meanwhile
        _store_entries(client, stream, entries, counts)
        if not entries or start in (b"0-0", "0-0"):
            return


ON_DUTY_SECONDS = 10  # the flag a running flusher keeps set: requests queue no Celery flush meanwhile
FLUSH_INTERVAL_S = 0.2  # a flusher under load stores at most this often: fewer, larger batches
_BLOCK_MS = 500  # below the Redis client's 1 s socket timeout


def positions_flush_forever(
    *, should_stop=lambda: False, batch: int = FLUSH_BATCH, interval_s: float = FLUSH_INTERVAL_S
) -> dict:
    """The Procfile's flusher process: stores the stream as it fills, in batches gathered over at
    least `interval_s`, until should_stop() says so; returns the counts. While it runs it keeps
    the flush flag set (refreshed every round, expiring ON_DUTY_SECONDS after it stops), so
    requests queue no Celery flush; when it is gone the flag expires and the requests and the
    beat's flush take over. Entries it read and did not acknowledge (killed mid-batch) are
    claimed by the next flusher, as positions_flush's are."""
    client = _redis()
    stream, flag = _keys()
    consumer = _consumer()
    counts = _counts()
    claimed_at = -math.inf
    while not should_stop():
        started = time.monotonic()
        client.set(flag, 1, ex=ON_DUTY_SECONDS)
        try:
            if started - claimed_at >= FLUSH_CLAIM_IDLE_S / 2:
                _ensure_group(client, stream)
                _claim_dead(client, stream, consumer, batch, FLUSH_CLAIM_IDLE_S, counts)
                claimed_at = started
            read = client.xreadgroup(GROUP, consumer, {stream: ">"}, count=batch, block=_BLOCK_MS)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            claimed_at = -math.inf  # the stream was deleted: make the group again
            continue
        entries = read[0][1] if read else []
        _store_entries(client, stream, entries, counts)
        if len(entries) < batch:
            time.sleep(max(0.0, interval_s - (time.monotonic() - started)))
    client.delete(flag)
    return counts


def _store_entries(client: redis.Redis, stream: str, entries: list, counts: dict) -> None:
    if not entries:
        return
    ids, devices, parts = [], {}, []
    for entry_id, fields in entries:
        ids.append(entry_id)
        if not fields:  # deleted meanwhile
            continue
        device_id, t, values = _decode(fields)
        code = devices.setdefault(device_id, len(devices))
        parts.append((code, t, values))
    if parts:
        batch = PositionBatch(
            identifiers=[str(d) for d in devices],
            device=np.concatenate([np.full(len(t), code, dtype=np.int64) for code, t, _ in parts]),
            t=np.concatenate([t for _, t, _ in parts]),
            **{c: np.concatenate([v[i] for _, _, v in parts]) for i, c in enumerate(_FLOATS)},
        )
        try:
            # Checked and cleaned when accepted: the flush checks the device and consent again.
            result = positions_store(
                batch=batch, devices={code: Device(pk=d) for d, code in devices.items()}, max_age_days=0, clean=False
            )
        except UploadInvalid as exc:  # cannot happen for checked entries: never retry them forever
            logger.error("positions buffer: %s entries dropped: %s", len(ids), exc.message)
        else:
            counts["stored"] += result.stored
            counts["duplicates"] += result.duplicates
            counts["refused"] += len(result.refused)
            devices_seen(device_ids=[d for d in devices if str(d) not in result.refused])
            if result.refused:  # revoked, or consent withdrawn, since they were accepted
                logger.info("positions buffer: devices refused at the flush: %s", result.refused)
    pipe = client.pipeline(transaction=False)
    pipe.xack(stream, GROUP, *ids)
    pipe.xdel(stream, *ids)
    pipe.execute()
    counts["entries"] += len(ids)
