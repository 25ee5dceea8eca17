import hashlib
import hmac
import json
import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from apps.audit.models import AuditCheckpoint, AuditEntry

logger = logging.getLogger("fleetops.audit")

GENESIS = "0" * 64
# One writer at a time extends the chain; the lock is released at commit.
_CHAIN_LOCK = 0x4155444954  # "AUDIT"


def _entry_hash(
    *, prev_hash: str, occurred_at, actor_label: str, action: str, entity_type: str, entity_id: str, data: dict
) -> str:
    body = json.dumps(
        [prev_hash, occurred_at.isoformat(), actor_label, action, entity_type, entity_id, data],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


@transaction.atomic
def audit_record(
    *,
    action: str,
    actor=None,
    entity=None,
    entity_type: str = "",
    entity_id: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Appends an entry to the hash chain."""
    if entity is not None:
        entity_type = entity_type or entity._meta.label_lower
        entity_id = entity_id or str(entity.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
    last = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
    entry = AuditEntry(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=(actor.get_username() if getattr(actor, "pk", None) else str(actor or "system"))[:150],
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        data=json.loads(json.dumps(data or {}, default=str)),
        prev_hash=last or GENESIS,
    )
    entry.hash = _entry_hash(
        prev_hash=entry.prev_hash,
        occurred_at=entry.occurred_at,
        actor_label=entry.actor_label,
        action=action,
        entity_type=entity_type,
        entity_id=entry.entity_id,
        data=entry.data,
    )
    entry.save(force_insert=True)
    _checkpoint(entry)
    return entry


def _signature(*, entries: int, last_entry_id: int, last_hash: str) -> str:
    message = f"{entries}:{last_entry_id}:{last_hash}".encode()
    return hmac.new(settings.AUDIT_CHECKPOINT_KEY.encode(), message, hashlib.sha256).hexdigest()


def _checkpoint(entry: AuditEntry) -> None:
    """Records the new head (under the chain lock) in the checkpoint table and the log."""
    previous = AuditCheckpoint.objects.order_by("-id").values_list("entries", flat=True).first()
    entries = previous + 1 if previous is not None else AuditEntry.objects.count()
    head = {"entries": entries, "last_entry_id": entry.pk, "last_hash": entry.hash}
    signature = _signature(**head)
    AuditCheckpoint.objects.create(**head, signature=signature)
    logger.info("audit checkpoint", extra={**head, "signature": signature})


def audit_head_problem() -> str | None:
    """What the newest checkpoint says is missing from the chain (deleted newest entries, an
    emptied table) or that it was forged; None when the chain reaches the signed head."""
    checkpoint = AuditCheckpoint.objects.order_by("-id").first()
    if checkpoint is None:
        return None
    expected = _signature(
        entries=checkpoint.entries, last_entry_id=checkpoint.last_entry_id, last_hash=checkpoint.last_hash
    )
    if not hmac.compare_digest(expected, checkpoint.signature):
        return f"checkpoint #{checkpoint.pk} has an invalid signature (forged, or AUDIT_CHECKPOINT_KEY changed)"
    count = AuditEntry.objects.count()
    head = AuditEntry.objects.filter(pk=checkpoint.last_entry_id).values_list("hash", flat=True).first()
    if count < checkpoint.entries or head is None:
        return (
            f"{checkpoint.entries - count} of {checkpoint.entries} checkpointed entries are missing "
            f"(the signed head is entry #{checkpoint.last_entry_id}, {count} entries remain)"
        )
    if head != checkpoint.last_hash:
        return f"entry #{checkpoint.last_entry_id} does not match the signed head"
    return None


def audit_verify(*, batch_size: int = 5000) -> tuple[bool, int, int | None]:
    """Walks the chain; returns (ok, entries checked, id of the first broken entry)."""
    expected_prev = GENESIS
    checked = 0
    fields = ("id", "prev_hash", "hash", "occurred_at", "actor_label", "action", "entity_type", "entity_id", "data")
    for row in AuditEntry.objects.order_by("id").values(*fields).iterator(chunk_size=batch_size):
        recomputed = _entry_hash(
            prev_hash=row["prev_hash"],
            occurred_at=row["occurred_at"],
            actor_label=row["actor_label"],
            action=row["action"],
            entity_type=row["entity_type"],
            entity_id=row["entity_id"],
            data=row["data"],
        )
        if row["prev_hash"] != expected_prev or recomputed != row["hash"]:
            return False, checked, row["id"]
        expected_prev = row["hash"]
        checked += 1
    return True, checked, None
