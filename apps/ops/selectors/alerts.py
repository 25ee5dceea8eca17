"""The alert monitor: filtered lists, one alert with who is on it, and which roles may act."""

import datetime as dt

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from apps.alerts.models import OperationalEvent

SEVERITY_ORDER = ["critical", "high", "medium", "low"]
STATUS_CHOICES = [("live", "Open or acknowledged"), *OperationalEvent.Status.choices, ("all", "All")]
AGE_CHOICES = [
    ("", "Any age"),
    ("1", "Last 24 hours"),
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("old", "Older than 30 days"),
]
SORTS = {
    "severity": "severity_rank",
    "opened": "opened_at",
    "seen": "last_seen_at",
    "occurrences": "occurrences",
    "type": "event_type",
    "status": "status",
}


def alert_list(
    *,
    event_type: str = "",
    severity: str = "",
    status: str = "live",
    age: str = "",
    q: str = "",
    entity_type: str = "",
    entity_id: str = "",
) -> QuerySet[OperationalEvent]:
    """Events matching the filters with their people, most severe and newest first by default."""
    events = OperationalEvent.objects.select_related("acknowledged_by", "closed_by").annotate(
        severity_rank=Case(
            *[When(severity=s, then=Value(i)) for i, s in enumerate(SEVERITY_ORDER)], output_field=IntegerField()
        )
    )
    if event_type:
        events = events.filter(event_type=event_type)
    if severity:
        events = events.filter(severity=severity)
    if status == "live":
        events = events.filter(status__in=("open", "acknowledged"))
    elif status and status != "all":
        events = events.filter(status=status)
    now = timezone.now()
    if age == "old":
        events = events.filter(opened_at__lt=now - dt.timedelta(days=30))
    elif age:
        events = events.filter(opened_at__gte=now - dt.timedelta(days=int(age)))
    if q:
        events = events.filter(Q(title__icontains=q) | Q(description__icontains=q) | Q(entity_id=q))
    if entity_type:
        events = events.filter(entity_type=entity_type)
    if entity_id:
        events = events.filter(entity_id=str(entity_id))
    return events.order_by("severity_rank", "-last_seen_at", "-id")


def alert_get(*, pk: int) -> OperationalEvent | None:
    return OperationalEvent.objects.select_related("acknowledged_by", "closed_by").filter(pk=pk).first()


def user_can_work_alerts(user) -> bool:
    """Acknowledge, resolve and dismiss: back office, ops and admin (the alerts change permission)."""
    return bool(user.is_active and user.has_perm("alerts.change_operationalevent"))


def alert_feed_since(*, since: dt.datetime, limit: int = 20) -> list[OperationalEvent]:
    return list(OperationalEvent.objects.filter(last_seen_at__gte=since).order_by("-last_seen_at")[:limit])
