import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.pricing import services
from tests.customers.factories import CustomerFactory, TelematicsConsentFactory
from tests.partners.factories import ApiTokenFactory, PartnerFactory
from tests.pricing.conftest import active_model, plan, world  # noqa: F401  (shared fixtures)
from tests.risk.factories import RiskScoreFactory
from tests.telematics.factories import DriverFeaturesFactory, TripFactory


def client_for(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.raw_key}")
    return client


def insured_driver(world, partner, *, relative_risk=0.81, trips=2):  # noqa: F811
    """A consenting driver with features, a score, trips and an active PHYD policy with partner."""
    driver = CustomerFactory(licence_since=dt.date(2012, 5, 1), gender="female", birth_year=1990)
    TelematicsConsentFactory(customer=driver)
    today = timezone.localdate()
    DriverFeaturesFactory(driver=driver, as_of=today, window_days=90, trips=30, km=1500.0)
    RiskScoreFactory(
        driver=driver,
        model=world["model"],
        as_of=today - dt.timedelta(days=1),
        relative_risk=relative_risk,
        safety_score=75,
        contributions={"night_share": 0.1, "harsh_brake_per_100km": -0.3},
        features={"night_share": 0.2, "harsh_brake_per_100km": 0.5},
        reasons=["Few harsh brakes"],
    )
    for _ in range(trips):
        TripFactory(driver=driver)
    quote = services.quote_create(
        driver=driver, vehicle_category=world["category"], region=world["region"], kind="phyd", partner=partner
    )
    policy = services.policy_bind(quote=quote, partner=partner)
    return driver, quote, policy


@pytest.fixture
def two_partners(world):  # noqa: F811
    """Partner A and B, each with a token (all scopes) and one insured driver of its own."""
    out = {}
    for name in ("a", "b"):
        partner = PartnerFactory()
        token = ApiTokenFactory(partner=partner)
        driver, quote, policy = insured_driver(world, partner)
        out[name] = {
            "partner": partner,
            "token": token,
            "client": client_for(token),
            "driver": driver,
            "quote": quote,
            "policy": policy,
        }
    return out


@pytest.fixture(autouse=True)
def _fresh_api_cache():
    """Cache keys carry the database name; a recreated test database reuses ids, so start clean."""
    from django.core.cache import cache
    from django.db import connection

    cache.delete_pattern(f"api:*:{connection.settings_dict['NAME']}:*")
    yield
