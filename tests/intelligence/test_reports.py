import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.intelligence.reports import driver_performance_report, vehicle_performance_report
from tests.customers.factories import CustomerFactory
from tests.fleet.factories import MaintenanceRecordFactory, VehicleFactory
from tests.regions.factories import StoreFactory
from tests.telematics.factories import DeviceFactory, TripFactory
from tests.transactions.factories import RentalFactory


@pytest.fixture
def fleet_and_drivers():
    now = timezone.now()
    store = StoreFactory()
    best, middle, worst = (VehicleFactory(home_store=store) for _ in range(3))
    careful, reckless = CustomerFactory(), CustomerFactory()

    def rent(vehicle, customer, days_ago, days, amount, late_hours=0):
        start = now - dt.timedelta(days=days_ago)
        RentalFactory(
            vehicle=vehicle,
            customer=customer,
            rented_at=start,
            due_at=start + dt.timedelta(days=days),
            returned_at=start + dt.timedelta(days=days, hours=late_hours),
            total_amount=Decimal(amount),
        )

    rent(best, careful, 60, 30, "1500")
    rent(middle, careful, 20, 5, "250")
    rent(worst, reckless, 10, 1, "50", late_hours=5)
    MaintenanceRecordFactory(vehicle=worst, kind="repair", performed_on=(now - dt.timedelta(days=3)).date())
    for vehicle, driver, harsh in ((best, careful, 1), (worst, reckless, 12)):
        TripFactory(
            device=DeviceFactory(vehicle=vehicle),
            vehicle=vehicle,
            driver=driver,
            distance_km=100,
            harsh_brake_count=harsh,
            started_at=now - dt.timedelta(days=5),
        )
    return {"best": best, "middle": middle, "worst": worst, "careful": careful, "reckless": reckless}


@pytest.mark.django_db
def test_vehicle_report_grades_best_to_worst(fleet_and_drivers, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # one statement, with its savepoint, SET LOCAL jit = off and release
        rows = vehicle_performance_report(days=90)
    order = [r["vehicle_id"] for r in rows]
    assert order == [fleet_and_drivers[k].pk for k in ("best", "middle", "worst")]
    best, _, worst = rows
    assert (best["utilisation"], best["revenue"], best["incidents"], best["harsh_per_100km"]) == (
        Decimal("0.3333"),
        Decimal("1500.00"),
        0,
        Decimal("1.00"),
    )
    assert (worst["incidents"], worst["harsh_per_100km"], worst["grade"]) == (1, Decimal("12.00"), "C")
    assert best["grade"] == "A" and best["performance_score"] == Decimal("100.0")


@pytest.mark.django_db
def test_driver_report_grades_careful_above_reckless(fleet_and_drivers, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # one statement, with its savepoint, SET LOCAL jit = off and release
        rows = driver_performance_report(days=90)
    assert [r["customer_id"] for r in rows] == [fleet_and_drivers["careful"].pk, fleet_and_drivers["reckless"].pk]
    careful, reckless = rows
    assert (careful["rentals"], careful["spend"], careful["late_returns"]) == (2, Decimal("1750.00"), 0)
    assert (reckless["late_returns"], reckless["harsh_per_100km"], reckless["grade"]) == (1, Decimal("12.00"), "B")


@pytest.mark.django_db
def test_performance_report_command_writes_csv(fleet_and_drivers, tmp_path):
    target = tmp_path / "vehicles.csv"
    call_command("performance_report", "vehicles", "--output", str(target))
    rows = list(csv.DictReader(target.open()))
    assert int(rows[0]["vehicle_id"]) == fleet_and_drivers["best"].pk
    assert rows[0]["grade"] == "A" and "harsh_per_100km" in rows[0]

    out = io.StringIO()
    call_command("performance_report", "drivers", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("customer_id,first_name,last_name,rentals,spend")
    assert len(lines) == 3
