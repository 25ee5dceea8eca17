import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from apps.common.admin import ReadOnlyModelAdmin
from apps.telematics import services
from apps.telematics.models import Device, DriverFeatures, PositionRejection, TelematicsSample, Trip

SAMPLE_PREVIEW = 300  # the samples table is far too big for a changelist; a trip shows its first fixes


class DeviceCreateForm(forms.ModelForm):
    class Meta:
        model = Device
        fields = ("serial", "kind", "vehicle", "customer")


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    """The raw token exists only in the message shown right after creation (or rotation)."""

    list_display = ("serial", "kind", "vehicle", "customer", "token_prefix", "is_active", "last_seen_at", "revoked_at")
    list_filter = ("kind", "is_active")
    list_select_related = ("vehicle", "customer")
    search_fields = ("serial", "=token_prefix", "vehicle__plate", "customer__last_name", "customer__email")
    autocomplete_fields = ("vehicle", "customer")
    actions = ["revoke", "rotate_token"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = DeviceCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("serial", "kind", "vehicle", "customer")
        return (
            "serial",
            "kind",
            "vehicle",
            "customer",
            "token_prefix",
            "is_active",
            "last_seen_at",
            "revoked_at",
            "created_at",
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("serial", "token_prefix", "is_active", "last_seen_at", "revoked_at", "created_at")

    def has_delete_permission(self, request, obj=None):
        return False  # devices are revoked, never deleted: trips point at them

    def _show_token(self, request, device, raw):
        messages.warning(
            request,
            format_html(
                "Token for device “{}” — copy it now, it is not stored and will not be shown again: <code>{}</code>",
                device.serial,
                raw,
            ),
        )

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        device, raw = services.device_create(
            serial=form.cleaned_data["serial"],
            kind=form.cleaned_data["kind"],
            vehicle=form.cleaned_data["vehicle"],
            customer=form.cleaned_data["customer"],
            actor=request.user,
        )
        obj.pk, obj.token_prefix, obj.token_hash, obj.created_at = (
            device.pk,
            device.token_prefix,
            device.token_hash,
            device.created_at,
        )
        obj._state.adding = False
        self._show_token(request, device, raw)

    @admin.action(description="Revoke selected devices", permissions=["change"])
    def revoke(self, request, queryset):
        count = 0
        for device in queryset.filter(revoked_at__isnull=True).order_by("pk"):
            services.device_revoke(device=device, actor=request.user)
            count += 1
        self.message_user(request, f"{count} device(s) revoked.", messages.SUCCESS)

    @admin.action(description="Issue a new token (the old one stops working)", permissions=["change"])
    def rotate_token(self, request, queryset):
        for device in queryset.filter(revoked_at__isnull=True).order_by("pk"):
            device, raw = services.device_token_rotate(device=device, actor=request.user)
            self._show_token(request, device, raw)


@admin.register(Trip)
class TripAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "external_id",
        "driver",
        "vehicle",
        "started_at",
        "distance_km_display",
        "score",
        "harsh_brake_count",
        "samples_stored",
        "feature_status",
    )
    list_filter = ("feature_status", "device__kind")
    list_select_related = ("driver", "vehicle", "device")
    search_fields = ("=id", "external_id", "device__serial", "driver__last_name", "driver__email", "vehicle__plate")
    date_hierarchy = "started_at"
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("device", "external_id", "driver", "vehicle", "rental", "started_at", "ended_at")}),
        ("Samples", {"fields": ("samples_received", "samples_stored", "samples_dropped", "sample_preview")}),
        (
            "Features",
            {
                "fields": (
                    "feature_status",
                    "features_computed_at",
                    # the measured features, in the service's order; events and deductions rendered
                    *(f for f in services.TRIP_FEATURE_FIELDS if f not in ("events", "score_deductions")),
                    "score_deductions_display",
                    "events_display",
                )
            },
        ),
    )
    readonly_fields = ("sample_preview", "score_deductions_display", "events_display")

    @admin.display(description="km", ordering="distance_km")
    def distance_km_display(self, obj):
        return f"{obj.distance_km:.1f}"

    @admin.display(description="score deductions")
    def score_deductions_display(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.score_deductions, indent=1))

    @admin.display(description="events")
    def events_display(self, obj):
        if not obj.events:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}, {}</td><td>{}</td></tr>",
            ((e["type"], e["at"], e["magnitude"], e["lat"], e["lon"], e.get("duration_s", "")) for e in obj.events),
        )
        return format_html(
            "<table><tr><th>type</th><th>at</th><th>magnitude</th><th>place</th><th>s</th></tr>{}</table>", rows
        )

    @admin.display(description=f"first {SAMPLE_PREVIEW} samples")
    def sample_preview(self, obj):
        samples = TelematicsSample.objects.filter(
            trip_id=obj.pk, recorded_at__gte=obj.started_at, recorded_at__lte=obj.ended_at
        ).order_by("recorded_at")[:SAMPLE_PREVIEW]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{:.6f}</td><td>{:.6f}</td><td>{:.1f}</td><td>{:.2f}</td><td>{:.2f}</td>"
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    s.recorded_at.isoformat(),
                    s.latitude,
                    s.longitude,
                    s.speed_mps,
                    s.accel_lon_mps2,
                    s.accel_lat_mps2,
                    "" if s.speed_limit_mps is None else f"{s.speed_limit_mps:.1f}",
                    "" if s.phone_use is None else s.phone_use,
                )
                for s in samples
            ),
        )
        if not rows:
            return "no stored samples"
        return format_html(
            "<table><tr><th>time</th><th>lat</th><th>lon</th><th>m/s</th><th>acc lon</th><th>acc lat</th>"
            "<th>limit</th><th>phone</th></tr>{}</table>",
            rows,
        )


@admin.register(DriverFeatures)
class DriverFeaturesAdmin(ReadOnlyModelAdmin):
    list_display = (
        "driver",
        "as_of",
        "window_days",
        "trips",
        "km",
        "harsh_brake_per_100km",
        "speeding_share",
        "night_share",
        "phone_use_per_hour",
        "mean_trip_score",
    )
    list_filter = ("window_days",)
    list_select_related = ("driver",)
    search_fields = ("=driver__id", "driver__last_name", "driver__email")
    date_hierarchy = "as_of"
    show_full_result_count = False


@admin.register(PositionRejection)
class PositionRejectionAdmin(ReadOnlyModelAdmin):
    """Positions answered 200 and never stored (late, ahead of the clock, refused by cleaning):
    a device that keeps appearing here has a wrong clock, was offline past the late window, or
    sends broken fixes."""

    list_display = ("device", "reason", "count", "last_at", "last_recorded_at", "first_at", "detail")
    list_filter = ("reason",)
    list_select_related = ("device",)
    search_fields = ("device__serial",)
    date_hierarchy = "last_at"
