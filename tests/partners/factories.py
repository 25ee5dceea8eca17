import factory
from django.utils import timezone

from apps.common import crypto
from apps.common.keys import hash_key, new_secret_key
from apps.partners.models import ApiToken, IdempotencyKey, Partner, WebhookDelivery, WebhookEndpoint


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Insurer {n}")
    slug = factory.Sequence(lambda n: f"insurer-{n}")


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """`ApiTokenFactory()` then `token.raw_key` holds the key to present."""

    class Meta:
        model = ApiToken

    partner = factory.SubFactory(PartnerFactory)
    name = "test token"
    scopes = factory.LazyFunction(lambda: ["drivers:read", "quotes:write", "policies:write", "jobs:write"])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        raw_key, prefix = new_secret_key("fo")
        kwargs.setdefault("prefix", prefix)
        kwargs.setdefault("key_hash", hash_key(raw_key))
        token = super()._create(model_class, *args, **kwargs)
        token.raw_key = raw_key
        return token


# The signing secret of factory-made endpoints (stored encrypted, as every endpoint's).
WEBHOOK_SECRET = "whsec_test"


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    partner = factory.SubFactory(PartnerFactory)
    url = factory.Sequence(lambda n: f"https://hooks.example.com/{n}")
    secret_encrypted = factory.LazyFunction(lambda: crypto.encrypt(WEBHOOK_SECRET))
    events = factory.LazyFunction(lambda: ["score.changed", "policy.updated"])


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    event_type = "score.changed"
    event_id = factory.Faker("uuid4")
    payload = factory.LazyFunction(lambda: {"driver_id": 1})


class IdempotencyKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdempotencyKey

    partner = factory.SubFactory(PartnerFactory)
    key = factory.Sequence(lambda n: f"key-{n}")
    method = "POST"
    path = "/api/v1/quotes/"
    request_hash = "0" * 64
    created_at = factory.LazyFunction(timezone.now)
