import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from apps.risk.models import Claim, RiskModel, RiskScore
from tests.customers.factories import CustomerFactory


class ClaimFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Claim

    driver = factory.SubFactory(CustomerFactory)
    occurred_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=30))
    reported_at = factory.LazyAttribute(lambda o: o.occurred_at + dt.timedelta(days=1))
    amount = Decimal("1800.00")


class RiskModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RiskModel

    version = factory.Sequence(lambda n: f"test-{n}")
    artifact_path = "var/artifacts/test.json"
    feature_names = factory.LazyFunction(lambda: ["harsh_brake_per_100km", "km"])
    training_data_hash = "0" * 64


class RiskScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RiskScore

    driver = factory.SubFactory(CustomerFactory)
    model = factory.SubFactory(RiskModelFactory)
    as_of = dt.date(2026, 6, 30)
    expected_claims_per_year = 0.08
    relative_risk = 1.0
    safety_score = 70
    band = RiskScore.Band.MILD
    # The snapshot by name, as readers see it (RiskScore.features); stored in the model's order.
    feature_values = factory.LazyAttribute(
        lambda o: [float((o.features or {}).get(name, 0.0)) for name in o.model.feature_names]
    )

    class Params:
        features = None
