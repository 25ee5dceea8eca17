"""The alert lifecycle: open (or update) → acknowledged → resolved / dismissed.

At most one live (open or acknowledged) event exists per type and entity; that rule is the
partial unique constraint `alerts_operationalevent_one_live_per_entity`, and every write here
goes through `INSERT … ON CONFLICT` on it, so two workers raising the same event at once end with
one row and two occurrences, never an IntegrityError.

Batch jobs call `events_sync(event_type=…, findings=[…], source=…)`: every finding is opened or
updated, and the live events of that type that this `source` raised earlier but did not find
again are closed as auto-resolved. An event found by two sources (rental and payment fraud on one
customer) stays open until neither finds it; `metadata["sources"]` records who found it when.
"""

import json
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone
from psycopg import sql

from apps.alerts.models import OperationalEvent
from apps.common import live
from apps.common.exceptions import ApplicationError
from apps.common.sql import statement_sql

logger = logging.getLogger(__name__)

EVENT_TYPES = set(OperationalEvent.EventType.values)
SEVERITIES = set(OperationalEvent.Severity.values)
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
LIVE = (OperationalEvent.Status.OPEN, OperationalEvent.Status.ACKNOWLEDGED)
FINDING_KEYS = {"event_type", "severity", "entity_type", "entity_id", "title", "description", "metadata", "score"}
TABLE = OperationalEvent._meta.db_table


def _alert_setting(name: str, default: Any) -> Any:
    return getattr(settings, "ALERTS", {}).get(name, default)


def _clean_finding(finding: dict[str, Any], *, event_type: str, position: int | None = None) -> dict[str, Any]:
    where = "" if position is None else f"finding #{position}: "
    unknown = set(finding) - FINDING_KEYS
    if unknown:
        raise ApplicationError(f"{where}unknown key(s) {', '.join(sorted(unknown))}", code="invalid_event")
    if finding.get("event_type", event_type) != event_type:
        raise ApplicationError(
            f"{where}event_type {finding.get('event_type')!r} differs from {event_type!r}", code="invalid_event"
        )
    severity = finding.get("severity")
    if severity not in SEVERITIES:
        raise ApplicationError(
            f"{where}severity must be one of {', '.join(sorted(SEVERITIES))}, not {severity!r}", code="invalid_event"
        )
    entity_type = str(finding.get("entity_type") or "").strip()
    entity_id = str(finding.get("entity_id") if finding.get("entity_id") is not None else "").strip()
    title = str(finding.get("title") or "").strip()
    if not entity_type or not entity_id or not title:
        raise ApplicationError(f"{where}entity_type, entity_id and title are required", code="invalid_event")
    if len(entity_type) > 60 or len(entity_id) > 64:
        raise ApplicationError(f"{where}entity_type or entity_id too long", code="invalid_event")
    metadata = finding.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ApplicationError(f"{where}metadata must be a dict", code="invalid_event")
    score = finding.get("score")
    if score is not None:
        try:
            score = float(score)
        except (TypeError, ValueError):
            raise ApplicationError(f"{where}score must be a number, not {score!r}", code="invalid_event") from None
    return {
        "severity": severity,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "title": title[:200],
        "description": str(finding.get("description") or ""),
        # default=str turns Decimals and dates of a job's findings into JSON strings.
        "metadata": json.dumps(metadata, default=str),
        "score": score,
    }


# The event upsert and the auto-resolve (sql/events.sql), composed once with the table's name.
_UPSERT_SQL = statement_sql(__name__, "events.sql", "upsert", table=sql.Identifier(TABLE)).as_string(None)
_AUTO_RESOLVE_SQL = statement_sql(__name__, "events.sql", "auto_resolve", table=sql.Identifier(TABLE)).as_string(None)


def _upsert(*, event_type: str, findings: list[dict[str, Any]], source: str, suppress: bool) -> list[tuple]:
    now = timezone.now()
    params = {
        "event_type": event_type,
        "source": source,
        "now": now,
        "suppress": suppress,
        "suppress_since": now - timedelta(days=_alert_setting("DISMISS_SUPPRESS_DAYS", 30)),
    }
    for key in ("severity", "entity_type", "entity_id", "title", "description", "metadata", "score"):
        params[key] = [f[key] for f in findings]
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT_SQL, params)
        return cursor.fetchall()


def _publish_changes(rows: list[tuple], *, event_type: str) -> None:
    """Tells the live pages about events that are new or changed severity (after commit)."""
    changed = [row for row in rows if row[5] or (row[6] is not None and row[6] != row[1])]
    if changed:
        live.publish(
            "alerts",
            {"event_type": event_type, "changed": len(changed), "ids": [row[0] for row in changed[:50]]},
        )


def _notify_critical(rows: Iterable[tuple], *, event_type: str) -> None:
    """E-mails the ops group about events that are new or newly escalated to critical."""
    newly_critical = [
        row for row in rows if row[1] == "critical" and (row[5] or (row[6] is not None and row[6] != "critical"))
    ]
    if not newly_critical:
        return
    recipients = list(
        get_user_model()
        .objects.filter(groups__name="ops", is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if not recipients:
        logger.warning(
            "%d critical %s event(s) and no ops user with an e-mail address", len(newly_critical), event_type
        )
        return
    lines = [f"- #{row[0]} {row[2]} ({row[3]} {row[4]})" for row in newly_critical[:200]]
    if len(newly_critical) > 200:
        lines.append(f"… and {len(newly_critical) - 200} more")
    subject = (
        f"[FleetOps] critical {event_type}: {newly_critical[0][2]}"
        if len(newly_critical) == 1
        else f"[FleetOps] {len(newly_critical)} critical {event_type} events"
    )
    body = "Critical operational events need attention:\n\n" + "\n".join(lines) + "\n\nReview them in /admin/alerts/."

    def send() -> None:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)

    transaction.on_commit(send)


@transaction.atomic
def event_raise(
    *,
    event_type: str,
    severity: str,
    entity_type: str,
    entity_id: str | int,
    title: str,
    description: str = "",
    metadata: dict | None = None,
    score: float | None = None,
    source: str = "manual",
) -> OperationalEvent:
    """Opens an event, or updates the live one of the same type and entity (one more occurrence)."""
    if event_type not in EVENT_TYPES:
        raise ApplicationError(
            f"event_type must be one of {', '.join(sorted(EVENT_TYPES))}, not {event_type!r}", code="invalid_event"
        )
    finding = _clean_finding(
        {
            "severity": severity,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "title": title,
            "description": description,
            "metadata": metadata,
            "score": score,
        },
        event_type=event_type,
    )
    rows = _upsert(event_type=event_type, findings=[finding], source=source, suppress=False)
    _notify_critical(rows, event_type=event_type)
    _publish_changes(rows, event_type=event_type)
    return OperationalEvent.objects.get(pk=rows[0][0])


@transaction.atomic
def events_sync(*, event_type: str, findings: list[dict], source: str) -> dict:
    """Opens/updates one event per finding and auto-resolves this source's events not found again.

    Returns counts: opened, updated, suppressed (recently dismissed, not worse), auto_resolved.
    Invalid input raises ApplicationError before anything is written."""
    if event_type not in EVENT_TYPES:
        raise ApplicationError(
            f"event_type must be one of {', '.join(sorted(EVENT_TYPES))}, not {event_type!r}", code="invalid_event"
        )
    if not source or not isinstance(source, str):
        raise ApplicationError("source is required (the job kind that found these)", code="invalid_event")
    cleaned = [_clean_finding(f, event_type=event_type, position=n) for n, f in enumerate(findings)]
    seen: set[tuple[str, str]] = set()
    for n, finding in enumerate(cleaned):
        key = (finding["entity_type"], finding["entity_id"])
        if key in seen:
            raise ApplicationError(f"finding #{n}: duplicate entity {key[0]} {key[1]}", code="invalid_event")
        seen.add(key)

    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _AUTO_RESOLVE_SQL,
            {
                "event_type": event_type,
                "source": source,
                "now": now,
                "entity_type": [f["entity_type"] for f in cleaned],
                "entity_id": [f["entity_id"] for f in cleaned],
                "note": f"\n[{now:%Y-%m-%d %H:%M}] auto-resolved: {source} no longer finds this condition.",
            },
        )
        resolved = sum(1 for _, status in cursor.fetchall() if status == "resolved")
    rows = _upsert(event_type=event_type, findings=cleaned, source=source, suppress=True) if cleaned else []
    _notify_critical(rows, event_type=event_type)
    _publish_changes(rows, event_type=event_type)
    if resolved:
        live.publish("alerts", {"event_type": event_type, "auto_resolved": resolved})
    opened = sum(1 for row in rows if row[5])
    return {
        "opened": opened,
        "updated": len(rows) - opened,
        "suppressed": len(cleaned) - len(rows),
        "auto_resolved": resolved,
    }


def _transition(
    *, event: OperationalEvent, user, note: str, to_status: str, from_statuses: tuple[str, ...], verb: str
) -> OperationalEvent:
    now = timezone.now()
    who = getattr(user, "get_username", lambda: "system")() if user else "system"
    line = f"[{now:%Y-%m-%d %H:%M}] {who} {verb}" + (f": {note.strip()}" if note and note.strip() else "")
    fields: dict[str, Any] = {
        "status": to_status,
        "note": Concat(F("note"), Value("\n" + line)) if event.note else Value(line),
    }
    if to_status == OperationalEvent.Status.ACKNOWLEDGED:
        fields.update(acknowledged_at=now, acknowledged_by=user)
    else:
        fields.update(closed_at=now, closed_by=user, auto_resolved=False)
    updated = OperationalEvent.objects.filter(pk=event.pk, status__in=from_statuses).update(**fields)
    if not updated:
        current = OperationalEvent.objects.filter(pk=event.pk).values_list("status", flat=True).first()
        raise ApplicationError(
            f"event #{event.pk} is {current or 'gone'}; only {' or '.join(from_statuses)} events can be {verb}.",
            code="invalid_transition",
        )
    event.refresh_from_db()
    live.publish("alerts", {"event_type": event.event_type, "ids": [event.pk], "status": to_status})
    return event


@transaction.atomic
def event_acknowledge(*, event: OperationalEvent, user, note: str = "") -> OperationalEvent:
    """Someone is on it: open → acknowledged."""
    return _transition(
        event=event, user=user, note=note, to_status="acknowledged", from_statuses=("open",), verb="acknowledged"
    )


@transaction.atomic
def event_resolve(*, event: OperationalEvent, user, note: str = "") -> OperationalEvent:
    """The condition was dealt with: open/acknowledged → resolved."""
    return _transition(event=event, user=user, note=note, to_status="resolved", from_statuses=LIVE, verb="resolved")


@transaction.atomic
def event_dismiss(*, event: OperationalEvent, user, note: str) -> OperationalEvent:
    """Not a real problem (a false positive): open/acknowledged → dismissed; the note says why.

    For ALERTS["DISMISS_SUPPRESS_DAYS"] days batch jobs do not reopen it unless it gets worse."""
    if not note or not note.strip():
        raise ApplicationError("a dismissal needs a note saying why", code="note_required")
    return _transition(event=event, user=user, note=note, to_status="dismissed", from_statuses=LIVE, verb="dismissed")
