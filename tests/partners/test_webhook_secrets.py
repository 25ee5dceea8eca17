"""Webhook signing secrets at rest: the row holds only a token under FLEETOPS_ENCRYPTION_KEY,
deliveries are still signed with the secret the partner was shown, and the key can be rotated."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from apps.common import crypto
from apps.partners import webhooks
from apps.partners.models import WebhookDelivery, WebhookEndpoint
from tests.partners.factories import WEBHOOK_SECRET, WebhookDeliveryFactory, WebhookEndpointFactory
from tests.partners.test_webhooks import Receiver, local_http  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

OLD_KEY = "test-only-encryption-key"  # fleetops/settings/test.py
NEW_KEY = "a-new-test-only-encryption-key"


def _raw_secret_column(endpoint_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted FROM accounts_webhookendpoint WHERE id = %s", [endpoint_id])
        return cursor.fetchone()[0]


def _deliver(endpoint) -> WebhookDelivery:
    delivery = WebhookDeliveryFactory(endpoint=endpoint, payload={"id": "e-1", "type": "score.changed"})
    webhooks.webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


def _signature_ok(received: dict, secret: str) -> bool:
    headers = received["headers"]
    return webhooks.webhook_signature_verify(
        secret=secret,
        timestamp=headers["X-Fleetops-Timestamp"],
        body=received["body"],
        signature=headers["X-Fleetops-Signature"],
    )


def test_the_stored_column_never_holds_the_secret(two_partners):
    created = two_partners["a"]["client"].post(
        "/api/v1/webhooks/", {"url": "https://hooks.insurer.example/enc", "events": ["score.changed"]}, format="json"
    )
    secret = created.json()["secret"]
    raw = _raw_secret_column(created.json()["id"])
    assert secret.startswith("whsec_") and secret not in raw and secret[6:26] not in raw
    assert raw.startswith("gAAAAA")  # a Fernet token
    assert crypto.decrypt(raw) == secret
    with connection.cursor() as cursor:  # nowhere else in the row either
        cursor.execute(
            "SELECT row_to_json(e)::text FROM accounts_webhookendpoint e WHERE id = %s", [created.json()["id"]]
        )
        assert secret not in cursor.fetchone()[0]


def test_two_endpoints_with_the_same_secret_store_different_tokens(db):
    first, second = WebhookEndpointFactory(), WebhookEndpointFactory()
    assert _raw_secret_column(first.pk) != _raw_secret_column(second.pk)


def test_a_delivery_is_signed_with_the_secret_the_partner_was_shown(local_http):  # noqa: F811
    from tests.partners.factories import PartnerFactory

    with Receiver() as receiver:
        endpoint, secret = webhooks.webhook_endpoint_create(
            partner=PartnerFactory(), url=receiver.url, events=["score.changed"]
        )
        assert _deliver(endpoint).status == "delivered"
    assert _signature_ok(receiver.received[0], secret)
    assert not _signature_ok(receiver.received[0], endpoint.secret_encrypted)


def test_a_rotated_key_still_signs_through_its_fallback_and_reencrypting_moves_every_secret(
    local_http,  # noqa: F811
    settings,
):
    endpoints = [WebhookEndpointFactory(url=f"http://127.0.0.1:1/{n}") for n in range(3)]
    before = {e.pk: _raw_secret_column(e.pk) for e in endpoints}
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    # Rotated, not yet re-encrypted: the old key still decrypts.
    assert webhooks.webhook_endpoint_secret(endpoint=endpoints[0]) == WEBHOOK_SECRET

    call_command("reencrypt_webhook_secrets")
    after = {e.pk: _raw_secret_column(e.pk) for e in endpoints}
    assert all(after[pk] != before[pk] and WEBHOOK_SECRET not in after[pk] for pk in after)
    # Under the new key alone now: the fallback can go.
    settings.ENCRYPTION_KEY_FALLBACKS = []
    with Receiver() as receiver:
        endpoint = WebhookEndpoint.objects.get(pk=endpoints[0].pk)
        endpoint.url = receiver.url
        endpoint.save(update_fields=["url"])
        assert _deliver(endpoint).status == "delivered"
    assert _signature_ok(receiver.received[0], WEBHOOK_SECRET)
    # The old key alone decrypts nothing any more.
    settings.ENCRYPTION_KEY = OLD_KEY
    with pytest.raises(crypto.SecretUndecryptable):
        webhooks.webhook_endpoint_secret(endpoint=endpoint)


def test_without_the_old_key_nothing_is_sent_or_rewritten_and_the_delivery_says_why(settings):
    endpoint = WebhookEndpointFactory(url="https://hooks.partner.example/x")
    raw = _raw_secret_column(endpoint.pk)
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_KEY_FALLBACKS = NEW_KEY, []
    with pytest.raises(CommandError, match="FLEETOPS_ENCRYPTION_KEY_FALLBACKS"):
        call_command("reencrypt_webhook_secrets")
    assert _raw_secret_column(endpoint.pk) == raw
    delivery = _deliver(endpoint)
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert delivery.last_error.startswith("cannot sign: no configured key decrypts this secret")


def test_the_admin_page_of_an_endpoint_shows_neither_the_secret_nor_its_token(admin_client):
    endpoint = WebhookEndpointFactory()
    html = admin_client.get(f"/admin/partners/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.url in html
    assert WEBHOOK_SECRET not in html and _raw_secret_column(endpoint.pk) not in html and "gAAAAA" not in html
