from django.db.models import Count, QuerySet

from apps.alerts.models import OperationalEvent

LIVE = ("open", "acknowledged")


def event_live_list(*, event_type: str | None = None, limit: int | None = None) -> QuerySet[OperationalEvent]:
    """Live (open or acknowledged) events, most severe and newest first."""
    from django.db.models import Case, IntegerField, Value, When

    events = OperationalEvent.objects.filter(status__in=LIVE)
    if event_type:
        events = events.filter(event_type=event_type)
    events = events.annotate(
        severity_rank=Case(
            *[When(severity=s, then=Value(i)) for i, s in enumerate(["critical", "high", "medium", "low"])],
            output_field=IntegerField(),
        )
    ).order_by("severity_rank", "-last_seen_at", "-id")
    return events[:limit] if limit else events


def event_live_counts() -> dict:
    """Counts of live events by type and by severity (one query)."""
    rows = (
        OperationalEvent.objects.filter(status__in=LIVE)
        .values("event_type", "severity")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_type = dict.fromkeys(OperationalEvent.EventType.values, 0)
    by_severity = dict.fromkeys(OperationalEvent.Severity.values, 0)
    total = 0
    for row in rows:
        by_type[row["event_type"]] += row["n"]
        by_severity[row["severity"]] += row["n"]
        total += row["n"]
    return {"total": total, "by_type": by_type, "by_severity": by_severity}
