import hashlib
import json
from typing import Any

from django.db import connection, transaction

from apps.audit.models import AuditEntry

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
    return entry


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
