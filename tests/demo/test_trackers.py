"""The demo trackers: simulated cars reporting over the OsmAnd protocol to a real server."""

import datetime as dt
import io
import math

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.demo.trackers import KNOTS_PER_MPS, Car, Drive
from apps.telematics.detection import trips_detect_pending
from apps.telematics.models import Device, Position, Trip
from tests.accounts.factories import UserFactory
from tests.customers.factories import CustomerFactory, TelematicsConsentFactory


def _drive(n: int, lat0: float, speed: float = 10.0) -> Drive:
    north = np.arange(n) * speed / 111_195.0  # due north at `speed` m/s
    return Drive(lat0 + north, np.full(n, 13.4), np.full(n, speed), np.zeros(n))


def test_a_car_drives_stands_longer_than_the_stop_time_and_drives_on_from_where_it_stood():
    car = Car(serial="S", token="t", drives=[_drive(100, 52.5), _drive(50, 48.1)], stop_s=360)
    at = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
    reports = [car.advance(10, at + dt.timedelta(seconds=10 * i)) for i in range(60)]
    speeds = [float(r["speed"]) for r in reports]
    assert speeds[0] == pytest.approx(10 * KNOTS_PER_MPS, abs=0.05)  # knots, as the protocol sends
    standing = [i for i, s in enumerate(speeds) if s == 0]
    # Arrived after 100 s, then 360 s standing (the detector closes a trip after 5 minutes).
    assert standing[:37] == list(range(9, 46)) and standing[37] == 50  # then 50 s of the next drive
    # The second drive starts where the first ended, not where it was simulated (48.1°N).
    end = float(reports[9]["lat"])
    assert float(reports[46]["lat"]) == pytest.approx(end + 10 * 10 / 111_195.0, abs=2e-6)
    assert {r["id"] for r in reports} == {"S"} and all(int(r["timestamp"]) > 0 for r in reports)
    assert len({r["timestamp"] for r in reports}) == 60


@pytest.mark.django_db(transaction=True)
def test_demo_cars_report_over_osmand_to_a_live_server_and_their_trips_are_detected(live_server):
    user = UserFactory(username="driver1")
    driver = CustomerFactory(user=user)
    TelematicsConsentFactory(customer=driver, given_at=timezone.now() - dt.timedelta(days=3))
    refused = CustomerFactory(user=UserFactory(username="driver2"))  # no consent: nothing stored
    out = io.StringIO()
    start = (timezone.now() - dt.timedelta(hours=3)).isoformat()
    args = ["--url", live_server.url, "--cars", "2", "--interval", "30", "--stop-minutes", "6"]
    call_command("demo_trackers", *args, "--ticks", "140", "--speedup", "1e6", "--start", start, stdout=out)

    text = out.getvalue()
    device = Device.objects.get(serial=f"DEMO-TRACKER-{driver.pk}")
    assert device.customer == driver and device.kind == Device.Kind.PHONE
    assert f"DEMO-TRACKER-{driver.pk}: positions stored" in text
    assert f"DEMO-TRACKER-{refused.pk}: refused: the driver's telematics consent is not in force" in text
    assert Position.objects.filter(device=device).count() == 140
    assert not Position.objects.filter(device__customer=refused).exists()

    trips_detect_pending()
    trips = list(Trip.objects.filter(driver=driver, source=Trip.Source.POSITIONS).order_by("started_at"))
    assert trips, text
    first = trips[0]
    assert not first.in_progress and first.distance_km > 0.5 and not math.isnan(first.distance_km)

    # A second start issues a fresh token (the old one stops working) and reuses the device.
    old_hash = device.token_hash
    call_command("demo_trackers", *args, "--ticks", "1", "--speedup", "1e6", stdout=io.StringIO())
    assert Device.objects.filter(customer=driver).count() == 1
    device.refresh_from_db()
    assert device.token_hash != old_hash


@pytest.mark.django_db
def test_one_car_gets_one_tracker_even_when_a_simulated_car_is_rented_by_another_driver():
    from apps.demo.management.commands.demo_trackers import trackers_setup
    from apps.transactions.models import Rental
    from tests.fleet.factories import VehicleFactory
    from tests.telematics.factories import DeviceFactory
    from tests.transactions.factories import RentalFactory

    car = VehicleFactory()
    portal = CustomerFactory(user=UserFactory(username="driver1"))
    DeviceFactory(serial="SIM-1", customer=portal, vehicle=car)  # the demo simulated them in it
    renter = CustomerFactory()
    TelematicsConsentFactory(customer=renter)
    RentalFactory(customer=renter, vehicle=car, status=Rental.Status.ACTIVE)
    trackers_setup(2)
    by_driver = dict(Device.objects.filter(serial__startswith="DEMO-TRACKER-").values_list("customer", "vehicle"))
    assert by_driver == {renter.pk: car.pk, portal.pk: None}
