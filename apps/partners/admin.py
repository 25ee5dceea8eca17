from django import forms
from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html

from apps.common.admin import ReadOnlyModelAdmin
from apps.partners.models import ApiToken, IdempotencyKey, Partner, Scope, WebhookDelivery, WebhookEndpoint
from apps.partners.services import api_token_create, api_token_revoke


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "contact_email", "is_active", "requests_per_minute", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "slug", "contact_email")
    prepopulated_fields = {"slug": ("name",)}


class ApiTokenCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple, required=False)

    class Meta:
        model = ApiToken
        fields = ("partner", "name", "scopes", "expires_at")


class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("usable", "usable"), ("revoked", "revoked")]

    def queryset(self, request, queryset):
        if self.value() == "usable":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """The raw key exists only in the message shown right after creation; the row keeps its hash."""

    list_display = ("name", "partner", "prefix", "scopes", "expires_at", "last_used_at", "revoked_at", "created_at")
    list_filter = (TokenStateFilter, "partner")
    list_select_related = ("partner",)
    search_fields = ("name", "prefix", "partner__name")
    autocomplete_fields = ("partner",)
    date_hierarchy = "created_at"
    actions = ["revoke"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("partner", "name", "scopes", "expires_at")
        return (
            "partner",
            "name",
            "prefix",
            "scopes",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "created_by",
            "created_at",
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # A key's reach is fixed at creation: to change it, create a new token and revoke this one.
        return ("partner", "prefix", "scopes", "last_used_at", "revoked_at", "created_by", "created_at")

    def has_delete_permission(self, request, obj=None):
        # Tokens are revoked, never deleted, so the audit trail keeps pointing at them.
        return False

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token, raw_key = api_token_create(
            partner=form.cleaned_data["partner"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data["expires_at"],
            created_by=request.user,
        )
        # The admin continues with `obj` (log entry, redirect): make it the stored row.
        obj.pk = token.pk
        obj.prefix = token.prefix
        obj.key_hash = token.key_hash
        obj.scopes = token.scopes
        obj.created_at = token.created_at
        obj._state.adding = False
        messages.warning(
            request,
            format_html(
                "API key for “{}” — copy it now, it is not stored and will not be shown again: <code>{}</code>",
                token.name,
                raw_key,
            ),
        )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True).order_by("pk"):
            api_token_revoke(token=token, actor=request.user)
            revoked += 1
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyModelAdmin):
    list_display = ("url", "partner", "events", "is_active", "created_at")
    list_filter = ("is_active", "partner")
    list_select_related = ("partner",)
    search_fields = ("url", "partner__name")
    # The signing secret stays out of every page.
    exclude = ("secret_encrypted",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = (
        "event_type",
        "event_id",
        "endpoint",
        "partner",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event_type")
    list_select_related = ("endpoint__partner",)
    search_fields = ("=event_id", "endpoint__url", "endpoint__partner__name")
    date_hierarchy = "created_at"

    @admin.display(description="partner", ordering="endpoint__partner__name")
    def partner(self, obj):
        return obj.endpoint.partner


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyModelAdmin):
    list_display = ("key", "partner", "method", "path", "response_status", "created_at")
    list_filter = ("method", "response_status")
    list_select_related = ("partner",)
    search_fields = ("key", "path", "partner__name")
    date_hierarchy = "created_at"
