import datetime as dt
from decimal import Decimal

import pytest

from apps.alerts.models import OperationalEvent
from apps.fleet.models import MaintenanceForecast
from apps.fleet.selectors import maintenance_queue
from apps.intelligence.maintenance import maintenance_forecast_refresh
from apps.intelligence.revenue import revenue_opportunities_sync, vehicle_revenue_opportunities
from tests.fleet.factories import MaintenanceRecordFactory, VehicleCategoryFactory, VehicleFactory
from tests.regions.factories import StoreFactory
from tests.telematics.factories import DeviceFactory, TripFactory
from tests.transactions.factories import RentalFactory

AS_OF = dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 6, 1)


def rent(vehicle, *, days_ago, days, per_day, km=0):
    start = AS_OF - dt.timedelta(days=days_ago)
    return RentalFactory(
        vehicle=vehicle,
        pickup_store=vehicle.home_store,
        rented_at=start,
        due_at=start + dt.timedelta(days=days),
        returned_at=start + dt.timedelta(days=days),
        daily_rate=Decimal(per_day),
        rental_amount=Decimal(per_day) * days,
        total_amount=Decimal(per_day) * days,
        odometer_out_km=10_000,
        odometer_in_km=10_000 + km,
    )


@pytest.fixture
def priced_fleet():
    store, category = StoreFactory(), VehicleCategoryFactory(code="C")
    make = lambda: VehicleFactory(home_store=store, category=category, price_per_day=Decimal("50.00"))  # noqa: E731
    under, busy_1, busy_2, idle = make(), make(), make(), make()
    for n in range(3):
        rent(under, days_ago=80 - 20 * n, days=3, per_day="70.00")
    for vehicle in (busy_1, busy_2):
        for n in range(3):
            rent(vehicle, days_ago=85 - 25 * n, days=15, per_day="50.00")
    rent(idle, days_ago=70, days=3, per_day="50.00")
    return {"under": under, "idle": idle, "busy": [busy_1, busy_2]}


@pytest.mark.django_db
def test_revenue_opportunities_known_answers(priced_fleet, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # one statement, with its savepoint, SET LOCAL jit = off and release
        ranked = vehicle_revenue_opportunities(as_of=AS_OF)
    assert [o["vehicle_id"] for o in ranked] == [priced_fleet["under"].pk, priced_fleet["idle"].pk]
    under, idle = ranked
    assert (under["verdict"], under["actual_rate"], under["utilisation"]) == (
        "under_priced",
        Decimal("70.00"),
        Decimal("0.1000"),
    )
    assert under["suggested_rate"] == Decimal("60")  # capped at list + 20 %
    assert under["effect_30d"] == Decimal("30.00")  # 30 days x 0.1 x (60 - 50)
    assert "paid €70.00/day, 40% above the list €50.00 over 3 rentals" in under["reason"]

    assert idle["verdict"] == "over_priced"
    assert idle["reason"].startswith("3% utilisation at the list €50.00 while its peers run at 30%")
    assert idle["peer_utilisation"] == Decimal("0.3000")  # median of 0.0333, 0.1, 0.5, 0.5
    assert idle["suggested_rate"] == Decimal("40")  # the model wants 11.56, the cut stops at -20 %
    u = 3 / 90
    expected = 30 * (u * (40 / 50) ** -1.5 * 40 - u * 50)
    assert idle["effect_30d"] == Decimal(str(expected)).quantize(Decimal("0.01"))
    assert idle["idle_days"] == 67


@pytest.mark.django_db
def test_revenue_sync_raises_events_for_the_biggest_gaps(priced_fleet, settings):
    settings.INTELLIGENCE = {"REVENUE_EVENTS": {"MIN_EVENT_EFFECT": 10}}
    result = revenue_opportunities_sync(as_of=AS_OF)
    assert (result["under_priced"], result["over_priced"]) == (1, 1)
    event = OperationalEvent.objects.get()
    assert (event.event_type, event.entity_id, event.score) == ("anomaly", str(priced_fleet["under"].pk), 30.0)
    assert event.metadata["revenue"]["verdict"] == "under_priced"
    assert "list 50.00 → 60" in event.title


def serviced(vehicle, *, days_ago, odometer, next_due_km=None, next_due_days=None):
    performed = TODAY - dt.timedelta(days=days_ago)
    return MaintenanceRecordFactory(
        vehicle=vehicle,
        performed_on=performed,
        odometer_km=odometer,
        next_due_km=next_due_km,
        next_due_on=performed + dt.timedelta(days=next_due_days) if next_due_days else None,
    )


def trips(vehicle, *, km, harsh):
    device = DeviceFactory(vehicle=vehicle)
    TripFactory(
        device=device,
        vehicle=vehicle,
        started_at=AS_OF - dt.timedelta(days=5),
        distance_km=km,
        harsh_brake_count=harsh,
    )


@pytest.fixture
def workshop():
    store = StoreFactory()
    make = lambda odometer: VehicleFactory(home_store=store, odometer_km=odometer)  # noqa: E731
    due, overdue, by_time, harsh, idle, fine = (
        make(24_500),
        make(27_000),
        make(5_000),
        make(22_000),
        make(3_000),
        make(500),
    )
    serviced(due, days_ago=100, odometer=10_000, next_due_km=25_000, next_due_days=365)
    serviced(overdue, days_ago=100, odometer=10_000, next_due_km=25_000, next_due_days=365)
    serviced(by_time, days_ago=360, odometer=2_000, next_due_days=365)
    serviced(harsh, days_ago=100, odometer=10_000)  # default 15,000 km interval
    serviced(idle, days_ago=100, odometer=2_900)
    serviced(fine, days_ago=10, odometer=400)
    for vehicle in (due, overdue, harsh):  # 9,000 km in 90 days = 100 km/day
        rent(vehicle, days_ago=10, days=3, per_day="50.00", km=9_000)
    rent(by_time, days_ago=20, days=2, per_day="50.00", km=50)
    rent(idle, days_ago=60, days=2, per_day="50.00", km=100)
    rent(fine, days_ago=2, days=1, per_day="50.00", km=100)
    trips(due, km=1000, harsh=10)  # 1 per 100 km
    trips(by_time, km=500, harsh=5)  # 1 per 100 km
    trips(harsh, km=1000, harsh=30)  # 3 per 100 km: 3 x the fleet median
    return {"due": due, "overdue": overdue, "by_time": by_time, "harsh": harsh, "idle": idle, "fine": fine}


@pytest.mark.django_db
def test_maintenance_forecast_known_answers(workshop, django_assert_max_num_queries):
    with django_assert_max_num_queries(14):
        result = maintenance_forecast_refresh(as_of=TODAY)
    forecasts = {f.vehicle_id: f for f in MaintenanceForecast.objects.filter(as_of=TODAY)}
    assert len(forecasts) == 6 and result["fleet_median_harsh_per_100km"] == 1.0

    due = forecasts[workshop["due"].pk]  # 500 km left at 100 km/day
    assert (due.predicted_service_on, due.urgency, due.km_since_service) == (
        TODAY + dt.timedelta(days=5),
        "due_soon",
        14_500,
    )
    assert due.reason.startswith("14,500 km since service of a 15,000 km interval")
    assert due.harsh_event_load == pytest.approx(1.0)

    overdue = forecasts[workshop["overdue"].pk]  # 2,000 km over at 100 km/day
    assert (overdue.predicted_service_on, overdue.urgency) == (TODAY - dt.timedelta(days=20), "overdue")

    by_time = forecasts[workshop["by_time"].pk]
    assert (by_time.predicted_service_on, by_time.urgency) == (TODAY + dt.timedelta(days=5), "due_soon")
    assert "360 days since service" in by_time.reason

    harsh = forecasts[workshop["harsh"].pk]  # interval 15,000 x 0.6 = 9,000 km; 12,000 driven
    assert harsh.urgency == "overdue"
    assert harsh.predicted_service_on == TODAY - dt.timedelta(days=30)
    assert "shortened from 15,000 km: harsh-event load 3.0/100 km vs fleet median 1.0" in harsh.reason

    idle = forecasts[workshop["idle"].pk]  # returned 58 days ago: check due 13 days ago
    assert (idle.idle_days, idle.urgency) == (58, "overdue")
    assert "standing idle 58 days" in idle.reason

    assert forecasts[workshop["fine"].pk].urgency == "ok"
    queue = [f.vehicle_id for f in maintenance_queue(as_of=TODAY)]
    assert queue[:4] == [workshop["harsh"].pk, workshop["overdue"].pk, workshop["idle"].pk, workshop["due"].pk]
    assert queue[-1] == workshop["fine"].pk

    events = {int(e.entity_id): e for e in OperationalEvent.objects.filter(event_type="maintenance")}
    assert set(events) == {workshop[k].pk for k in ("due", "overdue", "by_time", "harsh", "idle")}
    assert events[workshop["overdue"].pk].severity == "high"
    assert events[workshop["due"].pk].severity == "low"


@pytest.mark.django_db
def test_serviced_vehicle_event_resolves_itself_and_rerun_is_idempotent(workshop):
    maintenance_forecast_refresh(as_of=TODAY)
    maintenance_forecast_refresh(as_of=TODAY)
    assert MaintenanceForecast.objects.filter(as_of=TODAY).count() == 6
    serviced(workshop["overdue"], days_ago=0, odometer=27_000, next_due_km=42_000)
    result = maintenance_forecast_refresh(as_of=TODAY)
    assert result["events"]["auto_resolved"] == 1
    event = OperationalEvent.objects.get(entity_id=str(workshop["overdue"].pk))
    assert (event.status, event.auto_resolved) == ("resolved", True)
    assert MaintenanceForecast.objects.get(vehicle=workshop["overdue"], as_of=TODAY).urgency == "ok"
