from rest_framework import permissions

from apps.partners.models import ApiToken


class StaffOrScopedToken(permissions.BasePermission):
    """Staff users signed in to the back office, or an API token holding the view's
    `required_scope` (e.g. metrics:read)."""

    message = "Staff session or a token with the required scope."

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiToken):
            return view.required_scope in (request.auth.scopes or [])
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)
