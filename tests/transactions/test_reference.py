import pytest
from django.core.management import call_command

from apps.transactions.models import MerchantCategory

pytestmark = pytest.mark.django_db


def test_load_merchant_categories_is_idempotent_and_overwrites_descriptions():
    MerchantCategory.objects.create(code="5812", description="stale", source="file")
    call_command("load_merchant_categories")
    first = MerchantCategory.objects.count()
    call_command("load_merchant_categories")
    assert MerchantCategory.objects.count() == first == 932
    restaurant = MerchantCategory.objects.get(code="5812")
    assert restaurant.description == "Eating places and restaurants"
    assert restaurant.source == "iso18245"
    # Reserved-range codes (no ISO text) take the scheme's name rather than an empty label.
    assert MerchantCategory.objects.get(code="3000").description == "UNITED AIRLINES"
    assert not MerchantCategory.objects.filter(description="").exists()
