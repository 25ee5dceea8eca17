"""Shared admin building blocks."""

from django.contrib import admin


class ReadOnlyAdminMixin:
    """For rows written only by services (quotes, audit entries, ingest runs, …): staff may look,
    nobody adds, edits or deletes them through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyModelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass
