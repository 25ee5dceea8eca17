import datetime as dt

import pytest
from django.utils import timezone

from tests.customers.factories import CustomerFactory, TelematicsConsentFactory
from tests.fleet.factories import VehicleCategoryFactory
from tests.pricing.factories import RatePlanFactory
from tests.regions.factories import RegionFactory
from tests.risk.factories import RiskModelFactory, RiskScoreFactory
from tests.telematics.factories import DriverFeaturesFactory


@pytest.fixture
def plan(db):
    return RatePlanFactory(
        version=1,
        effective_from=timezone.localdate() - dt.timedelta(days=30),
        base_premiums={"*": {"*": "600.00"}, "SUV": {"*": "800.00", "BY": "900.00"}},
    )


@pytest.fixture
def active_model(db):
    return RiskModelFactory(is_active=True)


@pytest.fixture
def world(plan, active_model):
    """An eligible, consenting driver with a fresh score and features."""
    driver = CustomerFactory(licence_since=dt.date(2010, 1, 1))
    TelematicsConsentFactory(customer=driver)
    today = timezone.localdate()
    DriverFeaturesFactory(driver=driver, as_of=today, window_days=90, trips=40, km=3000.0)
    score = RiskScoreFactory(
        driver=driver,
        model=active_model,
        as_of=today - dt.timedelta(days=1),
        relative_risk=0.64,
        safety_score=82,
        contributions={"harsh_brake_per_100km": -0.2, "night_share": 0.05, "km": -0.1},
        reasons=["Few harsh brakes", "Little night driving"],
    )
    return {
        "driver": driver,
        "score": score,
        "category": VehicleCategoryFactory(code="SUV"),
        "region": RegionFactory(code="BY"),
        "plan": plan,
        "model": active_model,
    }


@pytest.fixture(autouse=True)
def _fresh_api_cache():
    """Cache keys carry the database name; a recreated test database reuses ids, so start clean."""
    from django.core.cache import cache
    from django.db import connection

    cache.delete_pattern(f"api:*:{connection.settings_dict['NAME']}:*")
    yield
