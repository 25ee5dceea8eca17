import datetime as dt
import io
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from apps.alerts.models import OperationalEvent
from apps.intelligence.demand_forecast import demand_backtest, demand_forecast_run, forecast_errors, yearly_factor
from apps.transactions.models import Rental
from tests.customers.factories import CustomerFactory
from tests.fleet.factories import VehicleFactory
from tests.regions.factories import StoreFactory


def test_forecast_errors_known_answers():
    assert forecast_errors([2, 2, 0], [1, 2, 0]) == {"mape": 50.0, "wape": 33.33, "bias": 33.33, "days": 3}
    assert forecast_errors([0, 0], [0, 0]) == {"mape": None, "wape": None, "bias": None, "days": 2}


def test_yearly_factor_recovers_a_known_yearly_shape():
    days = pd.date_range("2023-01-01", "2025-12-31", freq="D")
    shape = 1 + 0.3 * np.sin(2 * np.pi * (days.day_of_year - 80) / 365)  # peak near day 171, low near day 353
    factor = yearly_factor(pd.Series(100 * shape, index=days))
    assert factor.loc[171] == pytest.approx(1.3, abs=0.03)
    assert factor.loc[353] == pytest.approx(0.7, abs=0.03)
    assert factor.loc[1:365].mean() == pytest.approx(1.0, abs=1e-9)


def test_yearly_factor_is_flat_without_two_years_after_the_first_rental():
    days = pd.date_range("2024-01-01", periods=900, freq="D")
    shape = 1 + 0.3 * np.sin(2 * np.pi * (days.day_of_year - 80) / 365)
    series = pd.Series(100 * shape, index=days)
    series.iloc[:300] = 0  # the business opened 300 days in: 600 days of data
    assert set(yearly_factor(series).round(9)) == {1.0}


def test_backtest_beats_seasonal_naive_on_trend_weekly_and_noise():
    rng = np.random.default_rng(7)
    days = pd.date_range("2025-01-01", periods=240, freq="D")
    weekly = np.array([0, -2, -2, -1, 2, 5, 3])
    columns = {}
    for store, base in ((1, 12.0), (2, 25.0)):
        mean = base + 0.03 * np.arange(len(days)) + weekly[days.day_of_week]
        columns[store] = rng.poisson(np.clip(mean, 0.1, None)).astype(float)
    result = demand_backtest(pd.DataFrame(columns, index=days), weeks=8, horizon=7, fit_days=364)
    overall = result["overall"]
    assert overall["store_days"] == 2 * 8 * 7
    assert overall["model_beats_naive_wape"] is True
    assert overall["model"]["wape"] < overall["naive"]["wape"]
    assert set(result["stores"]) == {"1", "2"}


@pytest.mark.django_db
def test_demand_forecast_run_stores_backtest_and_raises_surges(django_assert_max_num_queries):
    as_of = dt.date(2026, 6, 1)
    busy, quiet = StoreFactory(), StoreFactory()
    small_fleet = [VehicleFactory(home_store=busy) for _ in range(2)]
    big_fleet = [VehicleFactory(home_store=quiet) for _ in range(30)]
    customer = CustomerFactory()
    rentals = []
    for day in range(70):
        start = dt.datetime.combine(as_of - dt.timedelta(days=70 - day), dt.time(9), tzinfo=dt.UTC)
        for store, fleet, count in ((busy, small_fleet, 6), (quiet, big_fleet, 2)):
            for n in range(count):
                rentals.append(
                    Rental(
                        customer=customer,
                        vehicle=fleet[n % len(fleet)],
                        pickup_store=store,
                        return_store=store,
                        status="completed",
                        rented_at=start,
                        due_at=start + dt.timedelta(days=1),
                        returned_at=start + dt.timedelta(days=1),
                        daily_rate=Decimal("50"),
                        rental_amount=Decimal("50"),
                        total_amount=Decimal("50"),
                    )
                )
    Rental.objects.bulk_create(rentals)

    with django_assert_max_num_queries(16):
        result = demand_forecast_run(as_of=as_of)
    busy_forecast = result["forecasts"][str(busy.pk)]
    assert busy_forecast["days"][0] == "2026-06-01" and len(busy_forecast["rentals"]) == 7
    assert busy_forecast["rentals"] == pytest.approx([6.0] * 7, abs=0.5)
    assert (busy_forecast["fleet"], busy_forecast["mean_rental_days"]) == (2, 1.0)
    backtest = result["backtest"]["overall"]
    assert backtest["weeks"] == 8 and backtest["stores"] == 2
    assert backtest["model"]["mape"] is not None and backtest["naive"]["mape"] == 0.0  # a perfectly weekly world

    event = OperationalEvent.objects.get(event_type="demand_surge")
    assert (event.entity_type, event.entity_id, event.severity) == ("regions.store", str(busy.pk), "critical")
    assert "2 available" in event.title
    assert result["events"]["opened"] == 1


@pytest.mark.django_db
def test_forecast_command_prints_backtest_and_stores_it_on_a_job_run(capsys):
    from django.core.management import call_command

    from apps.intelligence.selectors import demand_forecast_latest
    from apps.jobs.models import JobRun

    store = StoreFactory()
    vehicle = VehicleFactory(home_store=store)
    customer = CustomerFactory()
    as_of = dt.date(2026, 6, 1)
    Rental.objects.bulk_create(
        Rental(
            customer=customer,
            vehicle=vehicle,
            pickup_store=store,
            status="completed",
            rented_at=(start := dt.datetime.combine(as_of - dt.timedelta(days=d), dt.time(9), tzinfo=dt.UTC)),
            due_at=start + dt.timedelta(hours=5),
            returned_at=start + dt.timedelta(hours=5),
            daily_rate=Decimal("50"),
            rental_amount=Decimal("50"),
            total_amount=Decimal("50"),
        )
        for d in range(1, 80)
        for _ in range(1 + d % 7)
    )
    call_command("forecast_demand", "--as-of", "2026-06-01")
    out = capsys.readouterr().out
    assert "backtest over 8 weeks, 56 store-days" in out
    assert "model" in out and "naive" in out and "seasonal-naive on WAPE" in out
    run = JobRun.objects.get(kind="intelligence.demand_forecast")
    assert run.status == "succeeded" and run.trigger == "cli"
    latest = demand_forecast_latest()
    assert latest["run_id"] == run.pk
    assert latest["backtest"]["overall"]["store_days"] == 56
    assert latest["forecasts"][str(store.pk)]["days"][0] == "2026-06-01"


@pytest.mark.django_db
def test_backtest_on_the_seeded_demo_world_beats_seasonal_naive():
    """The small demo world (FOUNDATION's generator: yearly and weekly demand, lost requests
    when a store runs out of cars): the model must beat the same-weekday-last-week forecast."""
    from django.core.management import call_command
    from django.utils import timezone

    from apps.demo.world import WorldBuilder

    call_command("load_reference_data", stdout=io.StringIO())
    WorldBuilder(size="small", seed=42).build()
    result = demand_forecast_run(as_of=timezone.localdate())
    overall = result["backtest"]["overall"]
    assert overall["stores"] == 8 and overall["weeks"] == 8
    assert overall["model"]["wape"] < overall["naive"]["wape"], overall
    assert overall["model_beats_naive_wape"] is True
