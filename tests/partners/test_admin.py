import re

import pytest
from django.urls import reverse

from apps.partners.models import ApiToken
from apps.partners.services import api_token_authenticate, hash_key
from tests.partners.factories import ApiTokenFactory, PartnerFactory

pytestmark = pytest.mark.django_db
KEY = re.compile(r"<code>(fo_[0-9a-f]{8}\.[A-Za-z0-9_-]+)</code>")


def test_creating_a_token_shows_the_key_once_and_stores_its_hash(back_office_client):
    partner = PartnerFactory()
    response = back_office_client.post(
        reverse("admin:partners_apitoken_add"),
        {"partner": partner.pk, "name": "pricing engine", "scopes": ["drivers:read", "quotes:write"]},
        follow=True,
    )

    assert response.status_code == 200
    (raw_key,) = KEY.findall(response.content.decode())
    token = ApiToken.objects.get()
    assert (token.partner, token.name, token.scopes) == (partner, "pricing engine", ["drivers:read", "quotes:write"])
    assert token.key_hash == hash_key(raw_key)
    assert token.created_by.groups.filter(name="back_office").exists()
    assert api_token_authenticate(raw_key=raw_key) == token
    # Never again: the change page shows the prefix only.
    again = back_office_client.get(reverse("admin:partners_apitoken_change", args=[token.pk])).content.decode()
    assert raw_key not in again
    assert token.prefix in again


def test_creating_a_token_with_an_unknown_scope_stores_nothing(back_office_client):
    response = back_office_client.post(
        reverse("admin:partners_apitoken_add"), {"partner": PartnerFactory().pk, "name": "x", "scopes": ["root"]}
    )
    assert response.status_code == 200
    assert "root is not one of the available choices" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoke_action(back_office_client):
    live, other = ApiTokenFactory(), ApiTokenFactory()
    response = back_office_client.post(
        reverse("admin:partners_apitoken_changelist"), {"action": "revoke", "_selected_action": [live.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "1 token(s) revoked." in response.content.decode()
    assert api_token_authenticate(raw_key=live.raw_key) is None
    assert api_token_authenticate(raw_key=other.raw_key) == other


def test_tokens_cannot_be_deleted(back_office_client):
    token = ApiTokenFactory()
    assert back_office_client.get(reverse("admin:partners_apitoken_delete", args=[token.pk])).status_code == 403
