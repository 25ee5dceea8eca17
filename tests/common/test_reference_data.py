import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from apps.fleet.models import VehicleCategory
from apps.pricing.models import RatePlan
from apps.regions.models import Region
from apps.transactions.models import MerchantCategory

pytestmark = pytest.mark.django_db


def test_load_reference_data_loads_the_fixtures_and_merchant_categories_once():
    out = io.StringIO()
    call_command("load_reference_data", stdout=out)
    assert "regions.json: 6 inserted, 0 already present" in out.getvalue()
    assert set(Region.objects.values_list("code", flat=True)) == {"BER", "NRD", "RHR", "RMN", "BAY", "SAX"}
    assert VehicleCategory.objects.count() == 8
    assert MerchantCategory.objects.filter(code="5812").exists()
    assert MerchantCategory.objects.count() > 900

    plan = RatePlan.objects.get(name="standard", version=1)
    assert (plan.per_km_rate, plan.minimum_premium) == (Decimal("0.0300"), Decimal("150.00"))
    assert (plan.max_discount, plan.max_surcharge) == (Decimal("0.450"), Decimal("0.400"))
    assert (plan.eligibility_min_trips, plan.eligibility_min_km, plan.eligibility_window_days) == (20, 500, 90)
    assert plan.base_premiums["COMP"]["BER"] == "667.00"
    assert plan.base_premiums["*"]["*"] == "600.00"
    assert [f["min_years"] for f in plan.experience_factors] == sorted(f["min_years"] for f in plan.experience_factors)

    # A second run inserts nothing and leaves edited rows alone.
    Region.objects.filter(code="BER").update(name="Berlin (renamed by staff)")
    out = io.StringIO()
    call_command("load_reference_data", stdout=out)
    assert "regions.json: 0 inserted, 6 already present" in out.getvalue()
    assert "rate_plans.json: 0 inserted, 1 already present" in out.getvalue()
    assert Region.objects.get(code="BER").name == "Berlin (renamed by staff)"
    assert RatePlan.objects.count() == 1
