from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminDateWidget, AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import ModelForm
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.common.admin import ReadOnlyModelAdmin
from apps.common.exceptions import ApplicationError
from apps.customers.models import Customer
from apps.fleet.models import VehicleCategory
from apps.pricing import services
from apps.pricing.models import PartnerJob, Policy, PolicyKind, PremiumChange, Quote, RatePlan
from apps.regions.models import Region


class RatePlanForm(ModelForm):
    class Meta:
        model = RatePlan
        fields = [
            "name",
            "version",
            "effective_from",
            "effective_to",
            "currency",
            "base_premiums",
            "experience_factors",
            "vehicle_age_factors",
            "minimum_premium",
            "max_discount",
            "max_surcharge",
            "risk_elasticity",
            "eligibility_min_trips",
            "eligibility_min_km",
            "eligibility_window_days",
            "per_km_rate",
            "payd_fixed_share",
            "daily_loading",
            "quote_valid_days",
        ]

    def clean(self):
        cleaned = super().clean()
        candidate = RatePlan(**{k: v for k, v in cleaned.items() if k in {f.name for f in RatePlan._meta.fields}})
        try:
            services.rate_plan_validate(plan=candidate)
        except ApplicationError as exc:
            raise ValidationError(exc.extra.get("errors") or exc.message) from None
        start = cleaned.get("effective_from")
        if (
            start
            and start <= timezone.localdate()
            and (self.instance.pk is None or start != self.instance.effective_from)
        ):
            raise ValidationError({"effective_from": "A plan can only be set to take effect in the future."})
        return cleaned


@admin.register(RatePlan)
class RatePlanAdmin(admin.ModelAdmin):
    """A version whose period has started is frozen (read-only): use "New version" to change the
    tariff. Future versions stay editable until they take effect."""

    form = RatePlanForm
    list_display = ("name", "version", "effective_from", "effective_to", "state", "minimum_premium", "max_discount")
    list_filter = ("name",)
    ordering = ("name", "-version")
    actions = ["new_version"]
    fieldsets = (
        (None, {"fields": ("name", "version", "effective_from", "effective_to", "currency")}),
        (
            "Traditional premium",
            {"fields": ("base_premiums", "experience_factors", "vehicle_age_factors", "minimum_premium")},
        ),
        (
            "Telematics",
            {
                "fields": (
                    "max_discount",
                    "max_surcharge",
                    "risk_elasticity",
                    "eligibility_min_trips",
                    "eligibility_min_km",
                    "eligibility_window_days",
                )
            },
        ),
        (
            "Pay as you drive and rentals",
            {"fields": ("per_km_rate", "payd_fixed_share", "daily_loading", "quote_valid_days")},
        ),
    )

    @admin.display(description="state")
    def state(self, obj):
        today = timezone.localdate()
        if obj.effective_from > today:
            return "scheduled"
        if obj.effective_to and obj.effective_to <= today:
            return "ended"
        return "in force"

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_in_force_or_past():
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and (obj.is_in_force_or_past() or obj.quotes.exists()):
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description="New version (copy, takes effect tomorrow, editable until then)", permissions=["add"])
    def new_version(self, request, queryset):
        for plan in queryset.order_by("name", "version"):
            created = services.rate_plan_new_version(plan=plan)
            url = reverse("admin:pricing_rateplan_change", args=[created.pk])
            self.message_user(
                request, format_html('Created <a href="{}">{}</a> from {}.', url, created, plan), messages.SUCCESS
            )


@admin.register(Quote)
class QuoteAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "driver",
        "partner",
        "kind",
        "traditional_premium",
        "telematics_factor",
        "annual_premium",
        "rate_plan",
        "created_at",
        "valid_until",
    )
    list_filter = ("kind", "partner", "rate_plan")
    list_select_related = ("driver", "partner", "rate_plan")
    search_fields = ("=id", "=driver__id", "driver__last_name", "inputs_hash")
    date_hierarchy = "created_at"
    raw_id_fields = ("driver", "risk_score")


class PremiumChangeInline(admin.TabularInline):
    model = PremiumChange
    fields = ("created_at", "reason", "previous_premium", "annual_premium", "quote")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-created_at",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PolicyBindForm(forms.Form):
    driver = forms.ModelChoiceField(queryset=Customer.objects.all())
    # The partners a policy can name (the foreign key's model: partners sits above pricing).
    partner = forms.ModelChoiceField(
        queryset=Policy._meta.get_field("partner").related_model.objects.filter(is_active=True).order_by("name")
    )
    kind = forms.ChoiceField(choices=PolicyKind.choices, initial=PolicyKind.PHYD)
    vehicle_category = forms.ModelChoiceField(queryset=VehicleCategory.objects.order_by("code"))
    region = forms.ModelChoiceField(queryset=Region.objects.order_by("code"))
    vehicle_age_years = forms.IntegerField(min_value=0, max_value=40, required=False)
    starts_on = forms.DateField(
        widget=AdminDateWidget, initial=timezone.localdate, help_text="Today or within 90 days."
    )

    def __init__(self, *args, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        # Thousands of customers: searched, not listed (the Customer admin's search fields).
        self.fields["driver"] = forms.ModelChoiceField(
            queryset=Customer.objects.all(), widget=AutocompleteSelect(Policy._meta.get_field("driver"), admin_site)
        )


@admin.register(Policy)
class PolicyAdmin(ReadOnlyModelAdmin):
    """Policies are bound, requoted and cancelled by services (API or the actions here)."""

    list_display = ("id", "driver", "partner", "kind", "status", "annual_premium", "starts_on", "ends_on", "bound_at")
    list_filter = ("status", "kind", "partner")
    list_select_related = ("driver", "partner")
    search_fields = ("=id", "=driver__id", "driver__last_name", "partner__name")
    date_hierarchy = "bound_at"
    inlines = [PremiumChangeInline]
    actions = ["requote", "cancel"]

    def has_change_permission(self, request, obj=None):
        # Actions need the change permission on the changelist; the rows themselves stay read-only.
        return obj is None and request.user.has_perm("pricing.change_policy")

    def get_urls(self):
        return [
            path("bind/", self.admin_site.admin_view(self.bind_view), name="pricing_policy_bind"),
            *super().get_urls(),
        ]

    def has_bind_permission(self, request) -> bool:
        return request.user.has_perm("pricing.add_policy")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_bind": self.has_bind_permission(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def bind_view(self, request):
        """Quote a driver with a partner and bind the quote: how the back office adds a driver to
        a partner's book (the partner API only quotes drivers a partner already insures)."""
        if not self.has_bind_permission(request):
            raise PermissionDenied
        form = PolicyBindForm(request.POST or None, admin_site=self.admin_site)
        if request.method == "POST" and form.is_valid():
            try:
                policy = services.policy_quote_and_bind(**form.cleaned_data, user=request.user)
            except ApplicationError as exc:
                field = (exc.extra or {}).get("field")
                form.add_error(field if field in form.fields else None, exc.message)
            else:
                self.message_user(
                    request,
                    format_html(
                        'Policy <a href="{}">{}</a> bound: {} {} a year ({}).',
                        reverse("admin:pricing_policy_change", args=[policy.pk]),
                        policy.pk,
                        policy.annual_premium,
                        policy.quote.currency,
                        policy.get_kind_display(),
                    ),
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:pricing_policy_change", args=[policy.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Quote and bind a policy",
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/pricing/policy/bind.html", context)

    @admin.action(description="Requote with the current rate plan and scores", permissions=["change"])
    def requote(self, request, queryset):
        # Only the selected policies: the same driver's policies with other partners stay as they are.
        result = services.policies_requote(policy_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{result['policies']} policies requoted, {result['changed']} changed premium.")

    @admin.action(description="Cancel selected active policies", permissions=["change"])
    def cancel(self, request, queryset):
        done = 0
        for policy in queryset.filter(status=Policy.Status.ACTIVE).order_by("pk"):
            services.policy_cancel(policy=policy, reason=f"cancelled in the back office by {request.user}")
            done += 1
        self.message_user(request, f"{done} policies cancelled.", messages.SUCCESS)


@admin.register(PremiumChange)
class PremiumChangeAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "policy", "driver", "partner", "reason", "previous_premium", "annual_premium")
    list_filter = ("reason", "partner")
    list_select_related = ("policy", "driver", "partner")
    search_fields = ("=driver__id", "=policy__id")
    date_hierarchy = "created_at"


@admin.register(PartnerJob)
class PartnerJobAdmin(ReadOnlyModelAdmin):
    list_display = ("job", "partner", "created_at")
    list_select_related = ("job", "partner")
    list_filter = ("partner",)
