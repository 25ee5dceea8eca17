"""An unmeasurable harsh-event count is missing all the way: driver features leave those trips
out of the rate, a driver none of whose trips measured it gets NULL, and the risk model's data
reads NULL as missing (XGBoost's own handling; a missing indicator for the GLM)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from apps.risk import modeling
from apps.telematics.models import DriverFeatures, Trip
from apps.telematics.services import driver_features_refresh
from tests.customers.factories import CustomerFactory, TelematicsConsentFactory
from tests.telematics.factories import DeviceFactory, TripFactory

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 6, 30)


def _trip(driver, km, brakes, day=3):
    start = dt.datetime.combine(AS_OF - dt.timedelta(days=day), dt.time(12), tzinfo=timezone.get_default_timezone())
    TripFactory(
        device=DeviceFactory(),
        driver=driver,
        feature_status=Trip.FeatureStatus.DONE,
        started_at=start,
        ended_at=start + dt.timedelta(minutes=30),
        distance_km=km,
        moving_s=1500,
        idle_s=300,
        harsh_brake_count=brakes,
        harsh_accel_count=brakes,
        harsh_corner_count=brakes,
    )


def test_driver_rates_leave_unmeasurable_trips_out_and_are_null_when_none_measured():
    mixed, sparse_only = CustomerFactory(), CustomerFactory()
    for d in (mixed, sparse_only):
        TelematicsConsentFactory(customer=d)
    _trip(mixed, 50, 2)  # 1 Hz trip: 2 brakes in 50 km
    _trip(mixed, 150, None, day=4)  # a tracker trip minutes apart: not measurable
    _trip(sparse_only, 80, None)
    driver_features_refresh(as_of=AS_OF)
    row = DriverFeatures.objects.get(driver=mixed, as_of=AS_OF)
    assert row.km == pytest.approx(200)
    assert row.harsh_brake_per_100km == pytest.approx(4.0)  # 2 per 50 km, not 2 per 200 km
    none = DriverFeatures.objects.get(driver=sparse_only, as_of=AS_OF)
    assert none.harsh_brake_per_100km is None and none.harsh_corner_per_100km is None
    assert none.km == pytest.approx(80)


def test_the_risk_data_reads_a_missing_rate_as_missing_not_zero():
    frame = pd.DataFrame(
        {"km": [100.0, 200.0, 300.0], "harsh_brake_per_100km": [2.0, np.nan, 0.0], "claims": [0, 1, 0], "exposure": 1.0}
    )
    with pytest.raises(ValueError, match="missing"):
        modeling.Dataset(
            frame=frame, features=["km", "harsh_brake_per_100km"], count_col="claims", exposure_col="exposure"
        )
    data = modeling.Dataset(
        frame=frame,
        features=["km", "harsh_brake_per_100km"],
        count_col="claims",
        exposure_col="exposure",
        missing_ok=["harsh_brake_per_100km"],
    )
    assert np.isnan(data.xgb_matrix()["harsh_brake_per_100km"].iloc[1])
    glm = data.glm_matrix()
    assert glm["harsh_brake_per_100km_missing"].tolist() == [0.0, 1.0, 0.0]
    assert glm["harsh_brake_per_100km"].tolist() == [2.0, 0.0, 0.0]
