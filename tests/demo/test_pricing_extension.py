import io
import random

import pytest
from django.core.management.base import OutputWrapper

from apps.demo.extensions import pricing
from apps.partners.models import ApiToken, Partner
from apps.partners.services import api_token_authenticate
from apps.pricing.models import Policy
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_demo_seed_creates_partners_tokens_shown_once_and_policies(world):
    CustomerFactory.create_batch(5)
    buffer = io.StringIO()
    pricing.seed(size="small", rng=random.Random(7), stdout=OutputWrapper(buffer))
    text = buffer.getvalue()
    assert Partner.objects.filter(slug__in=["aurora", "nordlicht"]).count() == 2
    keys = [line.rsplit(" ", 1)[1] for line in text.splitlines() if "API key" in line]
    assert len(keys) == 2
    for key in keys:
        token = api_token_authenticate(raw_key=key)
        assert token is not None and token.partner.slug in ("aurora", "nordlicht")
        assert not ApiToken.objects.filter(key_hash=key).exists()  # the raw key is not stored
    assert Policy.objects.filter(partner__slug__in=["aurora", "nordlicht"]).exists()
    # a second run adds no keys and binds nobody twice
    again = io.StringIO()
    before = Policy.objects.count()
    pricing.seed(size="small", rng=random.Random(7), stdout=OutputWrapper(again))
    assert "API key" not in again.getvalue()
    assert Policy.objects.count() == before
