"""`Authorization: Token <key>` for partner insurers (ApiToken, stored hashed)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.partners.models import ApiToken, Partner
from apps.partners.services import api_token_authenticate, hash_key

logger = logging.getLogger(__name__)


def _token_cache_seconds() -> int:
    return int(getattr(settings, "PARTNER_API_TOKEN_CACHE_SECONDS", 10))


def _cache_key(raw_key: str) -> str:
    # The key's SHA-256, never the key itself, names the entry.
    return f"api:token:{connection.settings_dict['NAME']}:{hash_key(raw_key)}"


def _from_cache(entry: dict) -> ApiToken | None:
    expires_at = parse_datetime(entry["expires_at"]) if entry.get("expires_at") else None
    if expires_at is not None and expires_at <= timezone.now():
        return None
    partner = None
    if entry["partner_id"] is not None:
        partner = Partner(
            pk=entry["partner_id"],
            name=entry["partner_name"],
            slug=entry["partner_slug"],
            is_active=True,
            requests_per_minute=entry["partner_rpm"],
        )
    token = ApiToken(
        pk=entry["id"],
        prefix=entry["prefix"],
        name=entry["name"],
        scopes=entry["scopes"],
        expires_at=expires_at,
        partner=partner,
    )
    token._state.adding = False
    return token


def authenticate_key(raw_key: str) -> ApiToken | None:
    """api_token_authenticate with the positive answer cached for a few seconds
    (PARTNER_API_TOKEN_CACHE_SECONDS, 10 by default): a revoked or expired token, or a
    deactivated partner, is refused at most that long after the change."""
    ttl = _token_cache_seconds()
    key = _cache_key(raw_key) if ttl > 0 else None
    if key is not None:
        try:
            entry = cache.get(key)
        except Exception:
            logger.warning("token cache read failed", exc_info=True)
            entry = None
        if entry is not None:
            return _from_cache(entry)
    token = api_token_authenticate(raw_key=raw_key)
    if token is not None and key is not None:
        partner = token.partner
        entry = {
            "id": token.pk,
            "prefix": token.prefix,
            "name": token.name,
            "scopes": list(token.scopes or []),
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            "partner_id": partner.pk if partner else None,
            "partner_name": partner.name if partner else None,
            "partner_slug": partner.slug if partner else None,
            "partner_rpm": partner.requests_per_minute if partner else None,
        }
        try:
            cache.set(key, entry, timeout=ttl)
        except Exception:
            logger.warning("token cache write failed", exc_info=True)
    return token


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
        token = authenticate_key(raw_key)
        if token is None:
            # One message for unknown, revoked and expired keys: nothing to learn from it.
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return PartnerPrincipal(token), token

    def authenticate_header(self, request):
        return self.keyword


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.partners.authentication.PartnerTokenAuthentication"
    name = "partnerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`: a partner API key issued in the back office (shown once).",
        }
