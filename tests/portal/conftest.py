import datetime as dt

import pytest
from django.utils import timezone

from apps.pricing import services as pricing
from tests.accounts.factories import UserFactory
from tests.customers.factories import CustomerFactory, TelematicsConsentFactory
from tests.fleet.factories import VehicleCategoryFactory
from tests.partners.factories import PartnerFactory
from tests.pricing.factories import RatePlanFactory
from tests.regions.factories import RegionFactory
from tests.risk.factories import RiskModelFactory, RiskScoreFactory
from tests.telematics.factories import DriverFeaturesFactory

PASSWORD = "pass-for-tests-1"  # UserFactory's password


@pytest.fixture
def driver_user(db):
    """A portal user linked to a customer record, with nothing else yet."""
    user = UserFactory(username="portal-driver")
    CustomerFactory(user=user, first_name="Dana", last_name="Driver", licence_since=dt.date(2010, 1, 1))
    return user


@pytest.fixture
def driver_client(client, driver_user):
    client.force_login(driver_user)
    return client


@pytest.fixture
def scored_driver(driver_user):
    """The portal driver with a score of the active model (1.44 x average risk: safety score 52),
    SHAP contributions, reasons, and an active PHYD policy bound through the real pricing code."""
    driver = driver_user.customer
    today = timezone.localdate()
    RatePlanFactory(version=1, effective_from=today - dt.timedelta(days=30), base_premiums={"*": {"*": "900.00"}})
    model = RiskModelFactory(
        is_active=True,
        feature_names=["harsh_brake_per_100km", "night_share", "km"],
        model_card={"portfolio_mean_frequency": 0.05},
    )
    TelematicsConsentFactory(customer=driver)
    DriverFeaturesFactory(driver=driver, as_of=today, window_days=90, trips=40, km=3000.0)
    older = RiskScoreFactory(
        driver=driver, model=model, as_of=today - dt.timedelta(days=8), relative_risk=1.0, safety_score=69
    )
    score = RiskScoreFactory(
        driver=driver,
        model=model,
        as_of=today - dt.timedelta(days=1),
        expected_claims_per_year=0.072,
        relative_risk=1.44,
        safety_score=52,
        band="medium",
        features={"harsh_brake_per_100km": 4.2, "night_share": 0.31, "km": 3000.0},
        # exp(0.2) - 1 = +22%, exp(0.05) - 1 = +5%, exp(-0.1) - 1 = -10%
        contributions={"harsh_brake_per_100km": 0.2, "night_share": 0.05, "km": -0.1},
        reasons=[
            {
                "feature": "harsh_brake_per_100km",
                "effect": 0.2214,
                "text": "harsh braking 4.2 per 100 km, more than 90% of drivers: +22% expected claims",
            },
            {
                "feature": "km",
                "effect": -0.0952,
                "text": "distance driven 3,000 km in the window, \u221210% expected claims",
            },
        ],
    )
    partner = PartnerFactory(name="Acme Insurance")
    quote = pricing.quote_create(
        driver=driver, vehicle_category=VehicleCategoryFactory(), region=RegionFactory(), partner=partner
    )
    policy = pricing.policy_bind(quote=quote, partner=partner)
    return {"driver": driver, "model": model, "score": score, "older": older, "quote": quote, "policy": policy}
