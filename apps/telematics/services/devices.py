"""Devices: created with a token shown once, rotated, revoked, and authenticated per request."""

import itertools
import secrets
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.common.keys import hash_key, new_secret_key, split_key
from apps.common.versions import version_bump, version_redis_key
from apps.telematics.models import Device
from apps.telematics.services.prepared import prepared_cursor


@transaction.atomic
def device_create(
    *, serial: str, kind: str = Device.Kind.OBD, vehicle=None, customer=None, actor=None
) -> tuple[Device, str]:
    """Creates a device and returns it with its raw token, which is never stored or shown again."""
    raw, prefix = new_secret_key("dev")
    device = Device.objects.create(
        serial=serial, kind=kind, vehicle=vehicle, customer=customer, token_prefix=prefix, token_hash=hash_key(raw)
    )
    audit_record(action="device.create", actor=actor, entity=device, data={"serial": serial, "kind": kind})
    return device, raw


@transaction.atomic
def device_token_rotate(*, device: Device, actor=None) -> tuple[Device, str]:
    raw, prefix = new_secret_key("dev")
    device.token_prefix, device.token_hash = prefix, hash_key(raw)
    device.save(update_fields=["token_prefix", "token_hash", "updated_at"])
    audit_record(action="device.token_rotate", actor=actor, entity=device)
    devices_forget()
    return device, raw


@transaction.atomic
def device_revoke(*, device: Device, actor=None) -> Device:
    if device.revoked_at is None:
        device.revoked_at = timezone.now()
        device.is_active = False
        device.save(update_fields=["revoked_at", "is_active", "updated_at"])
        audit_record(action="device.revoke", actor=actor, entity=device)
        devices_forget()
    return device


# Every web process remembers the devices it authenticated (below); a revocation, rotation or
# deactivation bumps this shared version and each process then forgets what it remembered.
_DEVICE_VERSION_KEY = "telematics:device-version"


def devices_forget() -> None:
    """Makes every process check devices against the database again: now, and once more at
    commit (a process reading in between re-remembers the still-active row)."""
    version_bump(_DEVICE_VERSION_KEY)


def device_version_redis_key() -> str:
    return version_redis_key(_DEVICE_VERSION_KEY)


# In the model's field order, as Model.from_db expects for a partial row.
_DEVICE_FIELDS = tuple(
    f.attname
    for f in Device._meta.concrete_fields
    if f.attname in {"id", "token_hash", "is_active", "revoked_at", "last_seen_at", "customer_id", "vehicle_id"}
)
_DEVICE_BY_PREFIX_SQL = f"SELECT {', '.join(_DEVICE_FIELDS)} FROM telematics_device WHERE token_prefix = %s"


LAST_SEEN_EVERY_SECONDS = 60  # a device's last contact is written at most this often


def device_authenticate(*, raw_token: str) -> Device | None:
    """The active device for a presented token, or None. Records last contact at most once a minute.

    One plain query on the token prefix: it runs on every upload, where the ORM's query
    building cost more than the query. The device comes back with only these fields loaded
    (the rest are deferred)."""
    prefix = split_key(raw_token)
    if prefix is None:
        return None
    with prepared_cursor() as cursor:
        cursor.execute(_DEVICE_BY_PREFIX_SQL, [prefix], prepare=True)
        row = cursor.fetchone()
    if row is None:
        return None
    device = Device.from_db(connection.alias, _DEVICE_FIELDS, row)
    if not secrets.compare_digest(device.token_hash, hash_key(raw_token)):
        return None
    if not device.is_active or device.revoked_at is not None:
        return None
    now = timezone.now()
    if device.last_seen_at is None or (now - device.last_seen_at).total_seconds() > LAST_SEEN_EVERY_SECONDS:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE telematics_device SET last_seen_at = %s WHERE id = %s", [now, device.pk])
        device.last_seen_at = now
    return device


# Devices this process authenticated for uploads lately: the token's SHA-256 -> (device, when).
_UPLOAD_DEVICES: dict[str, tuple[Device, float, int | None]] = {}
UPLOAD_DEVICE_SECONDS = 30
_UPLOAD_DEVICES_MAX = 100_000


def remember(memory: dict, key, value, *, cap: int) -> None:
    """memory[key] = value, as its newest entry; a full memory forgets its oldest tenth (dicts
    keep insertion order), not everything at once: a fleet larger than the cap kept being
    checked again otherwise."""
    memory.pop(key, None)
    if len(memory) >= cap:
        for old in list(itertools.islice(memory, max(cap // 10, 1))):
            del memory[old]
    memory[key] = value


def devices_seen(*, device_ids: list[int]) -> None:
    """Records the last contact of devices whose positions were just stored (the positions
    flush), at most once a minute each, as device_authenticate does for the requests it checks:
    a device answered from memory has no request that does it."""
    if device_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE telematics_device SET last_seen_at = now() WHERE id = ANY(%s) "
                "AND (last_seen_at IS NULL OR last_seen_at < now() - make_interval(secs => %s))",
                [device_ids, LAST_SEEN_EVERY_SECONDS],
            )


def device_version() -> int | None:
    """The shared device version (None when Redis is down: then nothing remembered is used)."""
    return cache.get(_DEVICE_VERSION_KEY, 0)


_READ = object()


def device_authenticate_for_upload(*, raw_token: str, version: int | None = _READ) -> Device | None:
    """device_authenticate, remembered by this process for UPLOAD_DEVICE_SECONDS.

    For uploads only: the trip statement reads the device row again in the upload's own
    transaction and refuses a device revoked or deactivated meanwhile (DeviceRefused), so this
    saves a query per upload without letting such a device store anything. A revocation or
    rotation anywhere bumps the shared device version, after which nothing remembered is used.
    `version`: device_version() read once by a caller authenticating many devices."""
    key = hash_key(raw_token)
    now = time.monotonic()
    # One Redis read: a device revoked anywhere is never answered from memory (None, when Redis
    # is down, means no memory either).
    if version is _READ:
        version = device_version()
    known = _UPLOAD_DEVICES.get(key)
    if known is not None and version is not None and known[2] == version and now - known[1] < UPLOAD_DEVICE_SECONDS:
        return known[0]
    device = device_authenticate(raw_token=raw_token)
    if device is None:
        _UPLOAD_DEVICES.pop(key, None)
        return None
    remember(_UPLOAD_DEVICES, key, (device, now, version), cap=_UPLOAD_DEVICES_MAX)
    return device


def device_remembered(*, raw_token: str) -> tuple[Device, int | None] | None:
    """The device this process authenticated for this token within DEVICE_MEMORY_SECONDS, and the
    device version it was remembered at, without any I/O. The caller must compare that version
    with the current one (the positions buffer reads it in the same round trip as its append,
    and the flush checks the device in the database again)."""
    known = _UPLOAD_DEVICES.get(hash_key(raw_token))
    if known is None or time.monotonic() - known[1] >= settings.TELEMATICS["DEVICE_MEMORY_SECONDS"]:
        return None
    return known[0], known[2]
