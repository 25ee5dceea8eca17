import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from apps.common.exceptions import ApplicationError
from apps.intelligence.kpis import store_daily_metrics_refresh
from apps.regions.models import StoreDailyMetrics
from apps.regions.selectors import company_metrics, region_metrics_rollup
from tests.fleet.factories import VehicleFactory
from tests.regions.factories import RegionFactory, StoreFactory
from tests.transactions.factories import RentalFactory

BERLIN = ZoneInfo("Europe/Berlin")


def at(day, hour):
    return dt.datetime(2026, 3, day, hour, tzinfo=BERLIN)


@pytest.fixture
def small_store():
    store = StoreFactory(region=RegionFactory(code="BE", timezone="Europe/Berlin"))
    one, two = VehicleFactory(home_store=store), VehicleFactory(home_store=store)
    RentalFactory(
        vehicle=one,
        rented_at=at(2, 10),
        due_at=at(4, 10),
        returned_at=at(4, 10),
        daily_rate=Decimal("50"),
        total_amount=Decimal("100"),
    )
    RentalFactory(
        vehicle=two,
        rented_at=at(3, 9),
        due_at=at(3, 18),
        returned_at=at(3, 18),
        daily_rate=Decimal("40"),
        total_amount=Decimal("40"),
    )
    RentalFactory(vehicle=two, status="cancelled", rented_at=at(3, 12), due_at=at(5, 12), returned_at=None)
    StoreFactory(is_active=False)
    return store


@pytest.mark.django_db
def test_store_daily_metrics_known_answers(small_store, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):  # the upsert, in savepoints, with SET LOCAL jit = off
        result = store_daily_metrics_refresh(last_day=dt.date(2026, 3, 4), days=4)
    assert result["rows"] == 4
    rows = {
        m.date.day: (m.rentals, m.revenue, m.active_rentals, m.fleet_size, m.utilisation, m.average_daily_rate)
        for m in StoreDailyMetrics.objects.filter(store=small_store)
    }
    assert rows == {
        1: (0, Decimal("0.00"), 0, 2, Decimal("0.0000"), Decimal("0.00")),
        2: (1, Decimal("50.00"), 1, 2, Decimal("0.5000"), Decimal("50.00")),
        3: (1, Decimal("90.00"), 2, 2, Decimal("1.0000"), Decimal("40.00")),
        4: (0, Decimal("0.00"), 0, 2, Decimal("0.0000"), Decimal("0.00")),
    }
    assert StoreDailyMetrics.objects.count() == 4  # the inactive store gets no rows


@pytest.mark.django_db
def test_store_daily_metrics_refresh_is_idempotent_and_corrects_past_days(small_store):
    store_daily_metrics_refresh(last_day=dt.date(2026, 3, 4), days=4)
    RentalFactory(
        vehicle=VehicleFactory(home_store=small_store),
        rented_at=at(1, 8),
        due_at=at(2, 8),
        returned_at=at(2, 8),
        daily_rate=Decimal("30"),
        total_amount=Decimal("30"),
    )
    store_daily_metrics_refresh(last_day=dt.date(2026, 3, 4), days=4)
    assert StoreDailyMetrics.objects.count() == 4
    march_1 = StoreDailyMetrics.objects.get(date=dt.date(2026, 3, 1))
    assert (march_1.rentals, march_1.revenue, march_1.fleet_size) == (1, Decimal("30.00"), 3)


@pytest.mark.django_db
def test_store_daily_metrics_refuses_a_bad_range():
    with pytest.raises(ApplicationError, match="days must be"):
        store_daily_metrics_refresh(days=0)
    assert not StoreDailyMetrics.objects.exists()


@pytest.mark.django_db
def test_region_rollup_weights_utilisation_and_rate(small_store, django_assert_max_num_queries):
    store_daily_metrics_refresh(last_day=dt.date(2026, 3, 4), days=4)
    with django_assert_max_num_queries(1):
        rows = region_metrics_rollup(first_day=dt.date(2026, 3, 1), last_day=dt.date(2026, 3, 4))
    assert len(rows) == 1
    row = rows[0]
    assert row["region_code"] == "BE"
    assert (row["revenue"], row["rentals"], row["vehicle_days_on_rent"], row["fleet_days"]) == (
        Decimal("140.00"),
        2,
        3,
        8,
    )
    assert row["utilisation"] == Decimal("0.3750")
    assert row["average_daily_rate"] == Decimal("45.00")
    total = company_metrics(first_day=dt.date(2026, 3, 1), last_day=dt.date(2026, 3, 4))
    assert total["revenue"] == Decimal("140.00") and total["utilisation"] == Decimal("0.3750")
