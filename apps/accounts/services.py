import hashlib
import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import ApiToken, Partner
from apps.audit.services import audit_record

TOKEN_PREFIX_LEN = 8


def hash_key(raw_key: str) -> str:
    # Keys are 256-bit random values, so a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def new_secret_key(label: str) -> tuple[str, str]:
    """A fresh key `<label>_<prefix>.<secret>` and its lookup prefix."""
    prefix = secrets.token_hex(TOKEN_PREFIX_LEN // 2)
    return f"{label}_{prefix}.{secrets.token_urlsafe(32)}", prefix


def split_key(raw_key: str) -> str | None:
    """The lookup prefix of a presented key, or None when it is not of our shape."""
    try:
        head, _secret = raw_key.split(".", 1)
        prefix = head.rsplit("_", 1)[1]
    except (ValueError, IndexError):
        return None
    return prefix if len(prefix) == TOKEN_PREFIX_LEN else None


@transaction.atomic
def api_token_create(
    *, partner: Partner | None, name: str, scopes: list[str], expires_at: datetime | None = None, created_by=None
) -> tuple[ApiToken, str]:
    """Creates a token and returns it with the raw key, which is never stored or shown again."""
    raw_key, prefix = new_secret_key("fo")
    token = ApiToken.objects.create(
        partner=partner,
        name=name,
        prefix=prefix,
        key_hash=hash_key(raw_key),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        created_by=created_by,
    )
    audit_record(
        action="api_token.create",
        actor=created_by,
        entity=token,
        data={"partner": partner.pk if partner else None, "scopes": token.scopes},
    )
    return token, raw_key


def api_token_authenticate(*, raw_key: str) -> ApiToken | None:
    """The usable token for a presented key, or None. Records last use at most once a minute."""
    prefix = split_key(raw_key)
    if prefix is None:
        return None
    token = ApiToken.objects.select_related("partner").filter(prefix=prefix).first()
    if token is None or not secrets.compare_digest(token.key_hash, hash_key(raw_key)) or not token.is_usable:
        return None
    if token.partner is not None and not token.partner.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor=None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit_record(action="api_token.revoke", actor=actor, entity=token)
    return token
