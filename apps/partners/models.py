"""Partner insurers and what their API access needs. The tables were created by `accounts` and
keep their names (`db_table`), so databases from before the move keep their rows."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.common.models import TimeStampedModel


class Partner(TimeStampedModel):
    """An insurer organisation that buys risk data and binds policies through the API."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    contact_email = models.EmailField(blank=True)
    is_active = models.BooleanField(default=True)
    requests_per_minute = models.PositiveIntegerField(default=6000)

    class Meta:
        db_table = "accounts_partner"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Scope(models.TextChoices):
    DRIVERS_READ = "drivers:read"
    QUOTES_WRITE = "quotes:write"
    POLICIES_WRITE = "policies:write"
    JOBS_WRITE = "jobs:write"
    METRICS_READ = "metrics:read"


class ApiToken(TimeStampedModel):
    """A partner's API key. Only a SHA-256 of the key is stored; the key is shown once."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="tokens", null=True, blank=True)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True, help_text="First characters of the key, for lookup.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices), default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "accounts_apitoken"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scopes__contained_by=Scope.values),
                name="%(app_label)s_%(class)s_scopes_known",
                violation_error_message="Unknown scope.",
            ),
            models.CheckConstraint(
                condition=Q(key_hash__regex=r"^[0-9a-f]{64}$"), name="%(app_label)s_%(class)s_key_hash_sha256"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class WebhookEndpoint(TimeStampedModel):
    class Event(models.TextChoices):
        SCORE_CHANGED = "score.changed"
        POLICY_UPDATED = "policy.updated"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    # The signing secret must be usable to sign, so it is kept, but only encrypted under the server's
    # FLEETOPS_ENCRYPTION_KEY (apps.common.crypto; webhooks.webhook_endpoint_secret reads it back).
    secret_encrypted = models.TextField(editable=False)
    events = ArrayField(models.CharField(max_length=40, choices=Event.choices), default=list)
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "accounts_webhookendpoint"
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "url"],
                name="%(app_label)s_%(class)s_unique_url",
                violation_error_message="This partner already has a webhook at this URL.",
            ),
            models.CheckConstraint(
                condition=Q(events__contained_by=["score.changed", "policy.updated"]),
                name="%(app_label)s_%(class)s_events_known",
            ),
        ]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40)
    event_id = models.UUIDField()
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    attempt_log = models.JSONField(default=list, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "accounts_webhookdelivery"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "delivered", "failed"]), name="%(app_label)s_%(class)s_status_valid"
            ),
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="%(app_label)s_%(class)s_once_per_event"),
        ]


class IdempotencyKey(models.Model):
    """The first response to a POST with an Idempotency-Key, replayed for the same key and body."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "accounts_idempotencykey"
        constraints = [
            models.UniqueConstraint(fields=["partner", "key"], name="%(app_label)s_%(class)s_unique_key"),
        ]
        # The hourly sweep of expired keys (idempotency.idempotency_keys_expire).
        indexes = [models.Index(fields=["created_at"], name="partners_idemkey_created_at")]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.key}"
