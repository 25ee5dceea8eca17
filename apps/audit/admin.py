from django.contrib import admin

from apps.audit.models import AuditEntry
from apps.common.admin import ReadOnlyModelAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyModelAdmin):
    """The hash-chained log: readable by staff, never edited or deleted (the database refuses too)."""

    list_display = ("id", "occurred_at", "actor_label", "action", "entity_type", "entity_id", "short_hash")
    list_filter = ("action", "entity_type")
    list_select_related = ("actor",)
    search_fields = ("action", "entity_type", "=entity_id", "actor_label")
    date_hierarchy = "occurred_at"
    fields = ("occurred_at", "actor", "actor_label", "action", "entity_type", "entity_id", "data", "prev_hash", "hash")

    @admin.display(description="hash")
    def short_hash(self, obj):
        return f"{obj.hash[:12]}…"
