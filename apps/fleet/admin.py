from django.contrib import admin

from apps.common.admin import ReadOnlyModelAdmin
from apps.fleet.models import MaintenanceForecast, MaintenanceRecord, Vehicle, VehicleCategory


@admin.register(VehicleCategory)
class VehicleCategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "seats", "base_price_per_day")
    search_fields = ("code", "name")


class MaintenanceRecordInline(admin.TabularInline):
    """The vehicle's service book: what was done, when, at which mileage, for how much, and what is due next."""

    model = MaintenanceRecord
    fields = ("kind", "performed_on", "odometer_km", "cost", "store", "description", "next_due_on", "next_due_km")
    autocomplete_fields = ("store",)
    extra = 0
    ordering = ("-performed_on",)
    verbose_name = "service book entry"
    verbose_name_plural = "service book"


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = (
        "plate",
        "vin",
        "make",
        "model",
        "model_year",
        "category",
        "home_store",
        "current_store",
        "status",
        "odometer_km",
        "price_per_day",
    )
    list_filter = ("status", "category", "fuel", "home_store__region")
    list_select_related = ("category", "home_store", "current_store")
    search_fields = ("=vin", "plate", "make", "model")
    autocomplete_fields = ("category", "home_store", "current_store")
    inlines = [MaintenanceRecordInline]


@admin.register(MaintenanceRecord)
class MaintenanceRecordAdmin(admin.ModelAdmin):
    list_display = ("performed_on", "vehicle", "kind", "odometer_km", "cost", "store", "next_due_on", "next_due_km")
    list_filter = ("kind", "store__region")
    list_select_related = ("vehicle", "store")
    search_fields = ("vehicle__plate", "=vehicle__vin", "description")
    autocomplete_fields = ("vehicle", "store")
    date_hierarchy = "performed_on"


@admin.register(MaintenanceForecast)
class MaintenanceForecastAdmin(ReadOnlyModelAdmin):
    list_display = (
        "vehicle",
        "as_of",
        "urgency",
        "predicted_service_on",
        "km_since_service",
        "days_since_service",
        "utilisation",
        "idle_days",
    )
    list_filter = ("urgency", "as_of")
    list_select_related = ("vehicle",)
    search_fields = ("vehicle__plate", "=vehicle__vin")
    date_hierarchy = "predicted_service_on"
