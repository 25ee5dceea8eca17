import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.common.keys import hash_key, new_secret_key, split_key
from apps.partners.models import ApiToken, Partner


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
