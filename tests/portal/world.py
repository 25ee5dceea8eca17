"""A driver of the demo's kind for the portal's page and browser tests: `driver1` with a login,
consent, a device, scored trips, a score history of the active model (weekly, improving from 48
to 61), an active policy bound through the real pricing code, a badge and notifications."""

import datetime as dt

from django.utils import timezone

from apps.customers.models import Notification
from apps.pricing import services as pricing
from apps.telematics.models import Badge
from tests.accounts.factories import UserFactory
from tests.customers.factories import CustomerFactory, TelematicsConsentFactory
from tests.fleet.factories import VehicleCategoryFactory
from tests.partners.factories import PartnerFactory
from tests.pricing.factories import RatePlanFactory
from tests.regions.factories import RegionFactory
from tests.risk.factories import RiskModelFactory, RiskScoreFactory
from tests.telematics.factories import DeviceFactory, DriverFeaturesFactory, TripFactory

# (weeks ago, relative risk, safety score, band): the scoring curve's own pairs.
HISTORY = ((7, 1.67, 45, "high"), (6, 1.58, 47, "high"), (5, 1.5, 50, "medium"), (4, 1.45, 52, "medium"),
           (3, 1.4, 53, "medium"), (2, 1.3, 57, "medium"), (1, 1.2, 61, "medium"))  # fmt: skip


# The score's reasons as risk.scoring words them (feature, effect on expected claims, text).
REASONS = (
    ("harsh_brake_per_100km", 0.1275, "harsh braking 4.2 per 100 km, more than 90% of drivers: +13% expected claims"),
    ("km", -0.0952, "distance driven 3,000 km in the window, less than 60% of drivers: \u221210% expected claims"),
)


def build_portal_world(*, username: str = "driver1", kind: str = "phyd", score: bool = True) -> dict:
    today = timezone.localdate()
    user = UserFactory(username=username)
    driver = CustomerFactory(user=user, first_name="Dana", last_name="Driver", licence_since=dt.date(2010, 1, 1))
    RatePlanFactory(version=1, effective_from=today - dt.timedelta(days=30), base_premiums={"*": {"*": "900.00"}})
    TelematicsConsentFactory(customer=driver)
    device = DeviceFactory(customer=driver)
    now = timezone.now()
    trips = [
        TripFactory(
            driver=driver,
            device=device,
            started_at=now - dt.timedelta(days=i, hours=3),
            feature_status="done",
            score=70 + i % 25,
            distance_km=12.0 + i,
            harsh_brake_count=i % 3,
        )
        for i in range(1, 13)
    ]
    DriverFeaturesFactory(driver=driver, as_of=today, window_days=90, trips=40, km=3000.0)
    model = None
    scores = []
    if score:
        model = RiskModelFactory(
            is_active=True,
            feature_names=["harsh_brake_per_100km", "night_share", "speeding_share", "km"],
            model_card={"portfolio_mean_frequency": 0.05},
        )
        for weeks, relative, safety, band in HISTORY:
            scores.append(
                RiskScoreFactory(
                    driver=driver,
                    model=model,
                    as_of=today - dt.timedelta(days=7 * weeks),
                    relative_risk=relative,
                    expected_claims_per_year=round(0.05 * relative, 4),
                    safety_score=safety,
                    band=band,
                    features={"harsh_brake_per_100km": 4.2, "night_share": 0.31, "speeding_share": 0.06, "km": 3000.0},
                    contributions={
                        "harsh_brake_per_100km": 0.12,
                        "night_share": 0.05,
                        "speeding_share": 0.03,
                        "km": -0.1,
                    },
                    reasons=[dict(zip(("feature", "effect", "text"), r, strict=True)) for r in REASONS],
                )
            )
    partner = PartnerFactory(name="Acme Insurance")
    quote = pricing.quote_create(
        driver=driver, vehicle_category=VehicleCategoryFactory(), region=RegionFactory(), partner=partner, kind=kind
    )
    policy = pricing.policy_bind(quote=quote, partner=partner)
    Badge.objects.create(driver=driver, code="first_trip", earned_at=trips[-1].ended_at, trip=trips[-1])
    for i, (title, body) in enumerate(
        (("Trip scored: 82", "Your trip of 14 km scored 82."), ("Badge earned: First trip", "Your first trip scored."))
    ):
        Notification.objects.create(
            customer=driver, kind="trip_scored" if i == 0 else "badge", title=title, body=body, dedupe_key=f"w-{i}"
        )
    return {"user": user, "driver": driver, "device": device, "trips": trips, "model": model, "scores": scores,
            "quote": quote, "policy": policy, "partner": partner}  # fmt: skip
