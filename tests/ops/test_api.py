import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.accounts.factories import UserFactory
from tests.alerts.factories import OperationalEventFactory
from tests.fleet.factories import VehicleFactory
from tests.partners.factories import ApiTokenFactory
from tests.regions.factories import RegionFactory, StoreDailyMetricsFactory, StoreFactory

URL = "/api/v1/metrics/"


@pytest.fixture
def metrics_world():
    north, south = RegionFactory(code="N", name="North"), RegionFactory(code="S", name="South")
    a, b = StoreFactory(region=north), StoreFactory(region=south)
    day = dt.date(2026, 3, 1)
    StoreDailyMetricsFactory(
        store=a,
        date=day,
        revenue=Decimal("100"),
        rentals=2,
        active_rentals=3,
        fleet_size=4,
        average_daily_rate=Decimal("50"),
    )
    StoreDailyMetricsFactory(
        store=b,
        date=day,
        revenue=Decimal("300"),
        rentals=6,
        active_rentals=1,
        fleet_size=4,
        average_daily_rate=Decimal("30"),
    )
    StoreDailyMetricsFactory(store=b, date=day - dt.timedelta(days=40), revenue=Decimal("999"))  # outside
    OperationalEventFactory(event_type="fraud_risk", severity="critical")
    OperationalEventFactory(status="resolved", closed_at="2026-01-01T00:00:00Z")
    VehicleFactory(home_store=a, status="maintenance")
    return day


@pytest.mark.django_db
def test_staff_session_gets_kpis_rollups_and_alerts(client, metrics_world, django_assert_max_num_queries):
    client.force_login(UserFactory(is_staff=True))
    with django_assert_max_num_queries(8):
        response = client.get(URL, {"date_from": "2026-02-20", "date_to": "2026-03-01"})
    assert response.status_code == 200
    body = response.json()
    assert (body["date_from"], body["date_to"]) == ("2026-02-20", "2026-03-01")
    assert body["company"] == {
        "revenue": "400.00",
        "rentals": 8,
        "vehicle_days_on_rent": 4,
        "fleet_days": 8,
        "utilisation": "0.5000",
        "average_daily_rate": "35.00",
    }
    assert [(r["region_code"], r["revenue"]) for r in body["regions"]] == [("N", "100.00"), ("S", "300.00")]
    assert body["open_alerts"]["total"] == 1
    assert body["open_alerts"]["by_type"]["fraud_risk"] == 1
    assert body["open_alerts"]["by_severity"]["critical"] == 1
    assert body["fleet_by_status"]["maintenance"] == 1


@pytest.mark.django_db
def test_token_with_metrics_scope_is_served_and_others_are_refused(metrics_world):
    api = APIClient()
    allowed = ApiTokenFactory(scopes=["metrics:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Token {allowed.raw_key}")
    assert api.get(URL, {"date_from": "2026-03-01", "date_to": "2026-03-01"}).status_code == 200

    other = ApiTokenFactory(scopes=["drivers:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Token {other.raw_key}")
    assert api.get(URL).status_code == 403
    api.credentials(HTTP_AUTHORIZATION="Token fo_deadbeef.nope")
    assert api.get(URL).status_code == 401


@pytest.mark.django_db
def test_anonymous_and_non_staff_sessions_are_refused(client):
    assert client.get(URL).status_code in (401, 403)
    client.force_login(UserFactory(is_staff=False))
    assert client.get(URL).status_code == 403


@pytest.mark.parametrize(
    "params, field",
    [
        ({"date_from": "2026-03-05", "date_to": "2026-03-01"}, "date_from"),
        ({"date_from": "2024-01-01", "date_to": "2026-03-01"}, "date_from"),
        ({"date_to": "yesterday"}, "date_to"),
        ({"region": "N"}, "region"),
    ],
)
@pytest.mark.django_db
def test_bad_query_parameters_are_400s(client, params, field):
    client.force_login(UserFactory(is_staff=True))
    response = client.get(URL, params)
    assert response.status_code == 400
    assert field in str(response.json())
