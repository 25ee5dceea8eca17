from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """Append-only, hash-chained log. A database trigger refuses UPDATE and DELETE; each row's
    hash covers its content and the previous row's hash, so `verify_audit_chain` finds edits."""

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True, help_text="Who acted, kept even if the user goes.")
    action = models.CharField(max_length=100, db_index=True)
    entity_type = models.CharField(max_length=100, blank=True)
    entity_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["entity_type", "entity_id"], name="audit_entity_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hash__regex=r"^[0-9a-f]{64}$"), name="%(app_label)s_%(class)s_hash_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.entity_type}:{self.entity_id}"


class AuditCheckpoint(models.Model):
    """The chain's head after each append (entries, last id, last hash), signed with
    AUDIT_CHECKPOINT_KEY. The application role may only insert here, so deleting the newest
    entries or emptying the audit table no longer verifies as intact."""

    created_at = models.DateTimeField(default=timezone.now)
    entries = models.BigIntegerField()
    last_entry_id = models.BigIntegerField()
    last_hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(entries__gte=1), name="%(app_label)s_%(class)s_entries_positive"),
        ]

    def __str__(self) -> str:
        return f"checkpoint {self.entries} entries up to #{self.last_entry_id}"
