from django.contrib import admin
from django.db.models import Count

from apps.common.admin import ReadOnlyModelAdmin
from apps.regions.models import Region, Salesperson, Store, StoreDailyMetrics


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "timezone", "store_count", "created_at")
    search_fields = ("code", "name")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(store_count=Count("stores"))

    @admin.display(description="stores", ordering="store_count")
    def store_count(self, obj):
        return obj.store_count


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "region", "city", "capacity", "opened_on", "is_active")
    list_filter = ("region", "is_active")
    list_select_related = ("region",)
    search_fields = ("code", "name", "city")
    autocomplete_fields = ("region",)


@admin.register(Salesperson)
class SalespersonAdmin(admin.ModelAdmin):
    list_display = ("employee_code", "last_name", "first_name", "store", "email", "hired_on", "is_active")
    list_filter = ("is_active", "store__region")
    list_select_related = ("store",)
    search_fields = ("employee_code", "first_name", "last_name", "email", "store__code")
    autocomplete_fields = ("store",)


@admin.register(StoreDailyMetrics)
class StoreDailyMetricsAdmin(ReadOnlyModelAdmin):
    """Computed by the KPI job; a wrong figure is fixed by recomputing, not by hand."""

    list_display = (
        "date",
        "store",
        "revenue",
        "rentals",
        "active_rentals",
        "fleet_size",
        "utilisation",
        "average_daily_rate",
    )
    list_filter = ("store__region",)
    list_select_related = ("store",)
    search_fields = ("store__code", "store__name")
    date_hierarchy = "date"
