"""Building blocks every partner API view shares: token auth, scopes, per-partner throttle,
strict query parameters (unknown ones are 400s; strict bodies are common.api.StrictSerializer),
page pagination and the partner's own driver lookup (another partner's driver is a 404, never a
403)."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, pagination, permissions
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView

from apps.common.api import error_response
from apps.partners import selectors
from apps.partners.authentication import PartnerTokenAuthentication
from apps.partners.throttling import PartnerRateThrottle


class IsPartner(permissions.BasePermission):
    message = "This API is for partner tokens."

    def has_permission(self, request, view) -> bool:
        return getattr(request.user, "partner", None) is not None


class HasScopes(permissions.BasePermission):
    """The view's `required_scopes` maps a method to scopes of which the token needs one."""

    message = "The token lacks the scope this endpoint needs."

    def has_permission(self, request, view) -> bool:
        needed = getattr(view, "required_scopes", {}).get(request.method)
        if needed is None:
            needed = getattr(view, "required_scopes", {}).get("GET" if request.method in ("HEAD", "OPTIONS") else "*")
        if not needed:
            return False  # a method without declared scopes is closed
        scopes = set(request.auth.scopes or [])
        return any(scope in scopes for scope in needed)


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter that refuses query parameters it does not know (typos must not silently
    return everything)."""

    allowed_extra = {"page", "page_size"}

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        known = set(filterset_class.base_filters) if filterset_class else set()
        unknown = sorted(set(request.query_params) - known - self.allowed_extra)
        if unknown:
            raise exceptions.ValidationError({name: ["Unknown query parameter."] for name in unknown})
        return super().filter_queryset(request, queryset, view)


class PartnerPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        errors = {}
        for name, upper in (("page", 10**9), ("page_size", self.max_page_size)):
            raw = request.query_params.get(name)
            if raw is None:
                continue
            if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= upper:
                errors[name] = [f"A whole number from 1 to {upper}."]
        if errors:
            raise exceptions.ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)


class PartnerAPIView(GenericAPIView):
    authentication_classes = [PartnerTokenAuthentication]
    permission_classes = [IsPartner, HasScopes]
    throttle_classes = [PartnerRateThrottle]
    filter_backends = [StrictFilterBackend]
    pagination_class = PartnerPagination
    required_scopes: dict[str, list[str]] = {}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Ids beyond bigint match the URL pattern but cannot exist: a 404, not a database error.
        for value in kwargs.values():
            if isinstance(value, int) and not 0 < value < 2**63:
                raise NotFound("Not found.")

    def is_schema_generation(self) -> bool:
        return getattr(self, "swagger_fake_view", False)

    @property
    def partner(self):
        return self.request.user.partner

    def check_no_query_params(self, request) -> None:
        """Single-object endpoints take no query parameters at all."""
        if request.query_params:
            raise exceptions.ValidationError({name: ["Unknown query parameter."] for name in request.query_params})

    def get_driver_id_or_404(self, driver_id) -> int:
        if not selectors.partner_driver_visible_cached(partner=self.partner, driver_id=int(driver_id)):
            raise NotFound("No such driver.")
        return int(driver_id)


COMMON_ERRORS = {
    401: error_response("Missing, invalid, expired or revoked token."),
    403: error_response("The token lacks the scope."),
    404: error_response("No such object for this partner."),
    429: error_response("Rate limit of the partner exceeded (Retry-After)."),
}
