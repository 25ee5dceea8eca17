import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from apps.pricing.models import Policy, PolicyKind, Quote, RatePlan
from tests.customers.factories import CustomerFactory
from tests.fleet.factories import VehicleCategoryFactory
from tests.partners.factories import PartnerFactory
from tests.regions.factories import RegionFactory


class RatePlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RatePlan

    name = "standard"
    version = factory.Sequence(lambda n: n + 1)
    effective_from = dt.date(2026, 1, 1)
    base_premiums = factory.LazyFunction(lambda: {"*": {"*": "600.00"}})
    experience_factors = factory.LazyFunction(
        lambda: [
            {"min_years": 0, "factor": "1.60"},
            {"min_years": 3, "factor": "1.20"},
            {"min_years": 10, "factor": "1.00"},
        ]
    )
    vehicle_age_factors = factory.LazyFunction(lambda: [{"min_years": 0, "factor": "1.00"}])


class QuoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Quote

    driver = factory.SubFactory(CustomerFactory)
    partner = factory.SubFactory(PartnerFactory)
    rate_plan = factory.SubFactory(RatePlanFactory)
    vehicle_category = factory.SubFactory(VehicleCategoryFactory)
    region = factory.SubFactory(RegionFactory)
    kind = PolicyKind.PHYD
    traditional_premium = Decimal("600.00")
    telematics_premium = Decimal("540.00")
    discount = Decimal("60.00")
    annual_premium = Decimal("540.00")
    daily_price = Decimal("1.48")
    inputs = factory.LazyFunction(lambda: {"driver_id": 1})
    inputs_hash = "0" * 64
    valid_until = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=30))


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Policy

    quote = factory.SubFactory(QuoteFactory)
    driver = factory.SelfAttribute("quote.driver")
    partner = factory.SelfAttribute("quote.partner")
    kind = factory.SelfAttribute("quote.kind")
    starts_on = dt.date(2026, 7, 1)
    ends_on = dt.date(2027, 6, 30)
    annual_premium = factory.SelfAttribute("quote.annual_premium")
