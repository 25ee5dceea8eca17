from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from apps.telematics.services import device_authenticate


class DevicePrincipal:
    """request.user for a device: authenticated, but never a staff or portal user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, device):
        self.device = device
        self.pk = None

    def __str__(self) -> str:
        return f"device {self.device.serial}"


INVALID_TOKEN = "Invalid, revoked or inactive device token."


class DeviceHeaderError(Exception):
    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


def device_token(authorization: str) -> str:
    """The token of an `Authorization: Device <token>` header value; DeviceHeaderError with kind
    `not_authenticated` (no Device credentials at all) or `authentication_failed` (malformed)."""
    parts = authorization.split()
    if not parts or parts[0].lower() != DeviceTokenAuthentication.keyword.lower():
        raise DeviceHeaderError("not_authenticated", "Authentication credentials were not provided.")
    if len(parts) != 2:
        raise DeviceHeaderError("authentication_failed", "Invalid Device header: expected `Device <token>`.")
    return parts[1]


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Device <token>`; request.auth is the Device."""

    keyword = "Device"

    def authenticate(self, request):
        try:
            raw = device_token(request.META.get("HTTP_AUTHORIZATION", ""))
        except DeviceHeaderError as exc:
            if exc.kind == "not_authenticated":
                return None
            raise exceptions.AuthenticationFailed(exc.detail) from None
        device = device_authenticate(raw_token=raw)
        if device is None:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN)
        return DevicePrincipal(device), device

    def authenticate_header(self, request):
        return self.keyword


class IsDevice(permissions.BasePermission):
    message = "Only a telematics device may upload trips."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, DevicePrincipal)


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.telematics.api.authentication.DeviceTokenAuthentication"
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Device <token>`: the device's own token, shown once when the device is created.",
        }
