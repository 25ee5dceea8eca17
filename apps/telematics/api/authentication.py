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


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Device <token>`; request.auth is the Device."""

    keyword = "Device"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Device header: expected `Device <token>`.")
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid device token.") from None
        device = device_authenticate(raw_token=raw)
        if device is None:
            raise exceptions.AuthenticationFailed("Invalid, revoked or inactive device token.")
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
