from django.contrib import admin

from apps.common.admin import ReadOnlyModelAdmin
from apps.customers.models import Customer, PaymentCard, TelematicsConsent


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("id", "last_name", "first_name", "email", "city", "home_store", "user", "created_at")
    list_filter = ("home_store__region",)
    list_select_related = ("home_store", "user")
    search_fields = ("last_name", "first_name", "email", "=external_id", "=id")
    autocomplete_fields = ("user", "home_store")
    date_hierarchy = "created_at"


@admin.register(PaymentCard)
class PaymentCardAdmin(ReadOnlyModelAdmin):
    """Cards are masked at the door: brand, type, last four digits and expiry. The keyed hash that
    matches a card again is not shown either."""

    list_display = ("masked_number", "brand", "card_type", "expires_on", "customer", "has_chip", "on_dark_web")
    list_filter = ("brand", "card_type", "has_chip", "on_dark_web")
    list_select_related = ("customer",)
    search_fields = ("=last4", "customer__last_name", "customer__email")
    fields = (
        "customer",
        "masked_number",
        "brand",
        "card_type",
        "expires_on",
        "has_chip",
        "cards_issued",
        "credit_limit",
        "opened_on",
        "on_dark_web",
        "created_at",
    )

    @admin.display(description="card")
    def masked_number(self, obj):
        return f"•••• •••• •••• {obj.last4}"


class ConsentStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("in_force", "in force"), ("withdrawn", "withdrawn")]

    def queryset(self, request, queryset):
        if self.value() == "in_force":
            return queryset.filter(withdrawn_at__isnull=True)
        if self.value() == "withdrawn":
            return queryset.filter(withdrawn_at__isnull=False)
        return queryset


@admin.register(TelematicsConsent)
class TelematicsConsentAdmin(admin.ModelAdmin):
    list_display = ("customer", "given_at", "withdrawn_at", "in_force", "terms_version", "source")
    list_filter = (ConsentStateFilter, "terms_version", "source")
    list_select_related = ("customer",)
    search_fields = ("customer__last_name", "customer__email", "=customer__id")
    autocomplete_fields = ("customer",)
    date_hierarchy = "given_at"

    @admin.display(boolean=True, description="in force")
    def in_force(self, obj):
        return obj.in_force
