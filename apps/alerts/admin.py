import datetime as dt
import json

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from apps.alerts.models import OperationalEvent
from apps.alerts.services import event_acknowledge, event_dismiss, event_resolve
from apps.common.exceptions import ApplicationError


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BUCKETS = {
        "1d": ("opened in the last 24 hours", 0, 1),
        "7d": ("1 to 7 days old", 1, 7),
        "30d": ("7 to 30 days old", 7, 30),
        "old": ("older than 30 days", 30, None),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in self.BUCKETS.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.BUCKETS:
            return queryset
        _, newer_days, older_days = self.BUCKETS[self.value()]
        now = timezone.now()
        queryset = queryset.filter(opened_at__lte=now - dt.timedelta(days=newer_days))
        if older_days is not None:
            queryset = queryset.filter(opened_at__gt=now - dt.timedelta(days=older_days))
        return queryset


class NoteForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=False)


TRANSITIONS = {
    "acknowledge_events": ("Acknowledge", event_acknowledge, False),
    "resolve_events": ("Resolve", event_resolve, False),
    "dismiss_events": ("Dismiss", event_dismiss, True),
}


@admin.register(OperationalEvent)
class OperationalEventAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "severity_badge",
        "event_type",
        "title",
        "entity",
        "status",
        "occurrences",
        "opened_at",
        "last_seen_at",
        "auto_resolved",
    )
    list_filter = ("event_type", "severity", "status", AgeFilter, "auto_resolved")
    search_fields = ("title", "entity_id", "description")
    date_hierarchy = "opened_at"
    list_select_related = ("acknowledged_by", "closed_by")
    actions = list(TRANSITIONS)
    readonly_fields = (
        "event_type",
        "severity",
        "status",
        "entity_type",
        "entity_id",
        "title",
        "description",
        "metadata_pretty",
        "score",
        "occurrences",
        "opened_at",
        "last_seen_at",
        "acknowledged_at",
        "acknowledged_by",
        "closed_at",
        "closed_by",
        "auto_resolved",
        "note",
    )
    fields = readonly_fields

    def has_add_permission(self, request):
        return False  # events come from services and jobs

    def has_delete_permission(self, request, obj=None):
        return False  # dismiss instead, so the history stays

    @admin.display(description="severity", ordering="severity")
    def severity_badge(self, event):
        colour = {"critical": "#b71c1c", "high": "#e65100", "medium": "#f9a825", "low": "#558b2f"}[event.severity]
        return format_html('<b style="color:{}">{}</b>', colour, event.severity)

    @admin.display(description="entity")
    def entity(self, event):
        return f"{event.entity_type} {event.entity_id}"

    @admin.display(description="metadata")
    def metadata_pretty(self, event):
        return format_html("<pre>{}</pre>", json.dumps(event.metadata, indent=2, sort_keys=True, default=str))

    def _transition(self, request, queryset, action_name: str):
        label, service, note_required = TRANSITIONS[action_name]
        if "apply" in request.POST:
            form = NoteForm(request.POST)
            if form.is_valid() and (form.cleaned_data["note"].strip() or not note_required):
                done, refused = 0, []
                for event in queryset.order_by("pk"):
                    try:
                        service(event=event, user=request.user, note=form.cleaned_data["note"])
                        done += 1
                    except ApplicationError as exc:
                        refused.append(exc.message)
                self.message_user(request, f"{label}d {done} event(s).", messages.SUCCESS)
                for message in refused[:10]:
                    self.message_user(request, message, messages.WARNING)
                return None
            form.add_error("note", "Say why.")
        else:
            form = NoteForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{label} {queryset.count()} event(s)",
            "events": queryset[:50],
            "form": form,
            "action": action_name,
            "label": label,
            "note_required": note_required,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(request, "admin/alerts/operationalevent/transition.html", context)

    @admin.action(description="Acknowledge selected events (with a note)", permissions=["change"])
    def acknowledge_events(self, request, queryset):
        return self._transition(request, queryset, "acknowledge_events")

    @admin.action(description="Resolve selected events (with a note)", permissions=["change"])
    def resolve_events(self, request, queryset):
        return self._transition(request, queryset, "resolve_events")

    @admin.action(description="Dismiss selected events as not a problem (note required)", permissions=["change"])
    def dismiss_events(self, request, queryset):
        return self._transition(request, queryset, "dismiss_events")
