from django.contrib import admin, messages

from apps.common.admin import ReadOnlyModelAdmin
from apps.common.exceptions import ApplicationError
from apps.customers.models import Customer, ErasureRequest, Notification, PaymentCard, TelematicsConsent
from apps.customers.services import erasure_request_close
from apps.telematics.erasure import driver_trips_erase


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


@admin.register(ErasureRequest)
class ErasureRequestAdmin(admin.ModelAdmin):
    """Drivers ask from the portal; the back office erases (or refuses with a note) here."""

    list_display = ("id", "customer", "requested_at", "scope", "status", "handled_by", "handled_at")
    list_filter = ("status", "scope")
    list_select_related = ("customer", "handled_by")
    search_fields = ("customer__last_name", "customer__email", "=customer__id")
    readonly_fields = ("customer", "requested_at", "scope", "reason", "status", "handled_by", "handled_at")
    fields = ("customer", "requested_at", "scope", "reason", "status", "handled_by", "handled_at", "note")
    actions = ("erase_trips", "refuse")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Erase the trips of the selected requests' drivers", permissions=["change"])
    def erase_trips(self, request, queryset):
        for erasure in queryset.filter(status=ErasureRequest.Status.PENDING).select_related("customer"):
            counts = driver_trips_erase(driver_id=erasure.customer_id, actor=request.user)
            note = (
                f"{counts['trips_erased']} trips and {counts['samples_erased']} samples erased; "
                f"{counts['trips_kept_for_claims']} kept because a claim refers to them."
            )
            erasure_request_close(request=erasure, status=ErasureRequest.Status.DONE, actor=request.user, note=note)
            self.message_user(request, f"{erasure.customer}: {note}", messages.SUCCESS)

    @admin.action(
        description="Refuse the selected requests (write the reason in the note first)", permissions=["change"]
    )
    def refuse(self, request, queryset):
        for erasure in queryset.filter(status=ErasureRequest.Status.PENDING):
            try:
                erasure_request_close(
                    request=erasure, status=ErasureRequest.Status.REFUSED, actor=request.user, note=erasure.note
                )
            except ApplicationError as exc:
                self.message_user(request, f"Request {erasure.pk}: {exc}", messages.ERROR)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "customer", "kind", "title", "read_at")
    list_filter = ("kind",)
    list_select_related = ("customer",)
    search_fields = ("customer__last_name", "customer__email", "=customer__id", "title")
