"""`Authorization: Token <key>` for partner insurers (ApiToken, stored hashed)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.accounts.models import ApiToken, Partner
from apps.accounts.services import api_token_authenticate


class PartnerPrincipal:
    """The authenticated caller of the partner API: a token of a partner, not a staff user."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: ApiToken):
        self.token = token
        self.partner: Partner | None = token.partner
        self.username = f"token:{token.prefix}"

    def __str__(self) -> str:
        return self.username

    def has_perm(self, perm, obj=None) -> bool:
        return False


class PartnerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: use 'Authorization: Token <key>'.")
        try:
            raw_key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = api_token_authenticate(raw_key=raw_key)
        if token is None:
            # One message for unknown, revoked and expired keys: nothing to learn from it.
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return PartnerPrincipal(token), token

    def authenticate_header(self, request):
        return self.keyword


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.PartnerTokenAuthentication"
    name = "partnerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`: a partner API key issued in the back office (shown once).",
        }
