from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class OperationalEvent(models.Model):
    """Something that needs a human: what, how bad, about which entity, and its lifecycle."""

    class EventType(models.TextChoices):
        FRAUD_RISK = "fraud_risk", "Fraud risk"
        MAINTENANCE = "maintenance", "Maintenance"
        DEMAND_SURGE = "demand_surge", "Demand surge"
        SAFETY = "safety", "Safety"
        ANOMALY = "anomaly", "Anomaly"

    class Severity(models.TextChoices):
        CRITICAL = "critical"
        HIGH = "high"
        MEDIUM = "medium"
        LOW = "low"

    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"
        DISMISSED = "dismissed"

    event_type = models.CharField(max_length=16, choices=EventType.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.OPEN)
    entity_type = models.CharField(max_length=60, help_text="app_label.model of the entity, e.g. fleet.vehicle")
    entity_id = models.CharField(max_length=64)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    score = models.FloatField(null=True, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    auto_resolved = models.BooleanField(default=False)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["status", "severity", "-opened_at"], name="event_status_sev_idx"),
            models.Index(fields=["entity_type", "entity_id"], name="event_entity_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event_type", "entity_type", "entity_id"],
                condition=Q(status__in=["open", "acknowledged"]),
                name="%(app_label)s_%(class)s_one_live_per_entity",
                violation_error_message="An open event of this type exists for this entity.",
            ),
            models.CheckConstraint(
                condition=Q(event_type__in=["fraud_risk", "maintenance", "demand_surge", "safety", "anomaly"]),
                name="%(app_label)s_%(class)s_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(severity__in=["critical", "high", "medium", "low"]),
                name="%(app_label)s_%(class)s_severity_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "acknowledged", "resolved", "dismissed"]),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "acknowledged"]) | Q(closed_at__isnull=False),
                name="%(app_label)s_%(class)s_closed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.title}"
