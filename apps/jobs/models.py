from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class JobRun(models.Model):
    """One run of a registered batch job (see apps.jobs.registry)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    LIVE = ("queued", "running")

    kind = models.CharField(max_length=60, db_index=True)
    parameters = models.JSONField(default=dict, blank=True)
    parameters_hash = models.CharField(max_length=64)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    trigger = models.CharField(max_length=16, default="manual", help_text="manual, schedule, api, event or cli")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    progress_note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    # When the run's message was last sent again because no worker had taken it (see
    # services.job_runs_recover); empty while the first message stands.
    resent_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "parameters_hash"],
                condition=Q(status__in=["queued", "running"]),
                name="%(app_label)s_%(class)s_one_live_per_kind_params",
                violation_error_message="A job of this kind with these parameters is already queued or running.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "succeeded", "failed", "cancelled"]),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(progress_total__isnull=True) | Q(progress_done__lte=F("progress_total")),
                name="%(app_label)s_%(class)s_progress_bounded",
            ),
            models.CheckConstraint(
                condition=Q(progress_done__gte=0), name="%(app_label)s_%(class)s_progress_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
