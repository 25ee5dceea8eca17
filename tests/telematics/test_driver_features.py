"""The one-statement driver-feature SQL against the same aggregates computed in Python."""

import datetime as dt
import random

import pytest
from django.utils import timezone

from apps.jobs.services import job_execute, job_start
from apps.telematics.models import DriverFeatures, Trip
from apps.telematics.services import driver_features_refresh
from tests.customers.factories import CustomerFactory, TelematicsConsentFactory
from tests.telematics.factories import DeviceFactory, TripFactory

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 6, 30)
ZONE = timezone.get_default_timezone()


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=ZONE)


def make_trips():
    rng = random.Random(4)
    device = DeviceFactory()
    drivers = [CustomerFactory() for _ in range(4)]
    for d in drivers[:3]:
        TelematicsConsentFactory(customer=d)
    for n, driver in enumerate(drivers[:3]):
        for i in range(6 + n):
            moving = rng.uniform(600, 2400)
            TripFactory(
                device=device,
                driver=driver,
                feature_status=Trip.FeatureStatus.DONE,
                started_at=at(AS_OF - dt.timedelta(days=rng.randint(0, 89)), rng.choice([2, 8, 12, 17])),
                ended_at=at(AS_OF) + dt.timedelta(hours=23),
                distance_km=rng.uniform(2, 60),
                moving_s=moving,
                idle_s=rng.uniform(0, 300),
                harsh_brake_count=rng.randint(0, 4),
                harsh_accel_count=rng.randint(0, 2),
                harsh_corner_count=rng.randint(0, 3),
                speeding_s=rng.uniform(0, moving / 3),
                night_s=rng.uniform(0, moving / 4),
                rush_hour_s=rng.uniform(0, moving / 2),
                highway_s=rng.uniform(0, moving / 2),
                phone_use_s=rng.uniform(0, 60),
                score=rng.randint(40, 100),
                external_id=f"{driver.pk}-{i}",
            )
    # Outside the window, or not computed: must not count.
    TripFactory(
        device=device,
        driver=drivers[0],
        feature_status="done",
        started_at=at(AS_OF - dt.timedelta(days=90)),
        distance_km=999,
    )
    TripFactory(
        device=device,
        driver=drivers[0],
        feature_status="done",
        started_at=at(AS_OF + dt.timedelta(days=1)),
        distance_km=999,
    )
    TripFactory(device=device, driver=drivers[1], feature_status="pending", started_at=at(AS_OF), distance_km=999)
    # A driver with trips but no consent row any more still gets features; one with consent and no trips gets zeros.
    TripFactory(
        device=device,
        driver=drivers[3],
        feature_status="done",
        started_at=at(AS_OF - dt.timedelta(days=3)),
        distance_km=10,
        moving_s=600,
    )
    quiet = CustomerFactory()
    TelematicsConsentFactory(customer=quiet)
    return [*drivers, quiet]


def expected(driver) -> dict:
    start, end = at(AS_OF - dt.timedelta(days=89), 0), at(AS_OF + dt.timedelta(days=1), 0)
    trips = [t for t in Trip.objects.filter(driver=driver, feature_status="done") if start <= t.started_at < end]
    km = sum(t.distance_km for t in trips)
    driving = sum(t.moving_s + t.idle_s for t in trips)

    def per_100(attr):
        return 100 * sum(getattr(t, attr) for t in trips) / km if km else 0.0

    def share(attr):
        return min(sum(getattr(t, attr) for t in trips) / driving, 1) if driving else 0.0

    scores = [t.score for t in trips if t.score is not None]
    return {
        "trips": len(trips),
        "km": km,
        "hours": driving / 3600,
        "harsh_brake_per_100km": per_100("harsh_brake_count"),
        "harsh_accel_per_100km": per_100("harsh_accel_count"),
        "harsh_corner_per_100km": per_100("harsh_corner_count"),
        "speeding_share": share("speeding_s"),
        "night_share": share("night_s"),
        "rush_hour_share": share("rush_hour_s"),
        "highway_share": share("highway_s"),
        "phone_use_per_hour": sum(t.phone_use_s for t in trips) / (driving / 3600) if driving else 0.0,
        "mean_trip_score": sum(scores) / len(scores) if scores else None,
    }


def test_sql_matches_python_for_every_driver():
    drivers = make_trips()
    rows = driver_features_refresh(as_of=AS_OF, window_days=90)
    assert rows == len(drivers)
    for driver in drivers:
        got = DriverFeatures.objects.get(driver=driver, as_of=AS_OF, window_days=90)
        want = expected(driver)
        for name, value in want.items():
            if value is None:
                assert getattr(got, name) is None, name
            else:
                assert getattr(got, name) == pytest.approx(value, rel=1e-9, abs=1e-9), name
    assert DriverFeatures.objects.get(driver=drivers[-1]).trips == 0


def test_refresh_is_an_idempotent_upsert():
    make_trips()
    driver_features_refresh(as_of=AS_OF, window_days=90)
    first = list(DriverFeatures.objects.order_by("driver").values_list("driver", "km", "trips"))
    driver_features_refresh(as_of=AS_OF, window_days=90)
    assert list(DriverFeatures.objects.order_by("driver").values_list("driver", "km", "trips")) == first


def test_driver_features_job_runs_the_refresh():
    make_trips()
    run = job_start(kind="telematics.driver_features", parameters={"as_of": AS_OF.isoformat()})
    run = job_execute(run_id=run.pk)
    assert run.status == "succeeded", run.error
    assert run.result["drivers"] == 5
    assert DriverFeatures.objects.filter(as_of=AS_OF).count() == 5
