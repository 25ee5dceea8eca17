import datetime as dt

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.partners.models import ApiToken
from apps.partners.services import api_token_authenticate, api_token_create, api_token_revoke, hash_key
from tests.accounts.factories import UserFactory
from tests.partners.factories import ApiTokenFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def test_create_stores_only_the_hash_and_audits():
    partner = PartnerFactory()
    creator = UserFactory()

    scopes = ["quotes:write", "drivers:read", "drivers:read"]
    token, raw_key = api_token_create(partner=partner, name="claims system", scopes=scopes, created_by=creator)

    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == hash_key(raw_key)
    assert raw_key.startswith(f"fo_{stored.prefix}.")
    assert stored.scopes == ["drivers:read", "quotes:write"]
    assert raw_key not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    entry = AuditEntry.objects.get(action="api_token.create")
    assert (entry.entity_type, entry.entity_id, entry.actor_id) == ("partners.apitoken", str(token.pk), creator.pk)
    assert raw_key not in str(entry.data)


def test_authenticate_accepts_the_key_and_records_use():
    token = ApiTokenFactory()
    assert token.last_used_at is None

    assert api_token_authenticate(raw_key=token.raw_key) == token
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_last_use_is_written_at_most_once_a_minute():
    token = ApiTokenFactory(last_used_at=timezone.now() - dt.timedelta(seconds=10))
    before = token.last_used_at
    assert api_token_authenticate(raw_key=token.raw_key) == token
    token.refresh_from_db()
    assert token.last_used_at == before


@pytest.mark.parametrize(
    "presented",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # right prefix, wrong secret
        lambda key: "fo_00000000." + key.split(".", 1)[1],  # unknown prefix
        lambda key: "garbage",
        lambda key: "",
    ],
    ids=["wrong-secret", "unknown-prefix", "malformed", "empty"],
)
def test_authenticate_refuses_wrong_keys(presented):
    token = ApiTokenFactory()
    assert api_token_authenticate(raw_key=presented(token.raw_key)) is None


def test_authenticate_refuses_an_expired_token():
    token = ApiTokenFactory(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert api_token_authenticate(raw_key=token.raw_key) is None


def test_authenticate_refuses_a_revoked_token_and_revoking_is_audited_once():
    token = ApiTokenFactory()
    api_token_revoke(token=token)
    api_token_revoke(token=token)

    assert api_token_authenticate(raw_key=token.raw_key) is None
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert AuditEntry.objects.filter(action="api_token.revoke", entity_id=str(token.pk)).count() == 1


def test_authenticate_refuses_the_token_of_an_inactive_partner():
    token = ApiTokenFactory(partner=PartnerFactory(is_active=False))
    assert api_token_authenticate(raw_key=token.raw_key) is None
