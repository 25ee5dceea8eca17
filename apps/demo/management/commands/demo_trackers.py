"""Demo cars reporting their positions to the running server over the OsmAnd protocol:
`manage.py demo_trackers --url http://127.0.0.1:5055` (`make run` starts it beside the
positions receiver, Procfile `positions`, which it reports to as trackers do). See `apps.demo.trackers`."""

import datetime as dt
import os
import signal
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from apps.customers.models import Customer
from apps.demo.trackers import Car, Sender, drives_for, report
from apps.fleet.models import Vehicle
from apps.telematics.models import Device
from apps.telematics.services.devices import device_create, device_token_rotate
from apps.transactions.models import Rental

SERIAL = "DEMO-TRACKER-{}"


def trackers_setup(count: int) -> list[tuple[str, str, Customer]]:
    """(serial, token, driver) of a phone tracker for each of up to `count` demo drivers: the
    portal's drivers first, then drivers with an active rental and telematics consent in force.
    Each car is the driver's active rental's vehicle where there is one. Every start issues
    fresh tokens (they are shown nowhere); a tracker revoked in the back office stays revoked."""
    portal = list(Customer.objects.filter(user__isnull=False).order_by("pk")[:count])
    renting = (
        Rental.objects.filter(status=Rental.Status.ACTIVE, customer__user__isnull=True)
        .filter(customer__telematics_consents__withdrawn_at__isnull=True, customer__telematics_consents__isnull=False)
        .order_by("pk")
        .select_related("customer")
    )
    drivers = portal + [r.customer for r in renting[: max(0, count - len(portal))]]
    # The car: the driver's active rental's, else the one the demo simulated them driving unless
    # someone rents it now or another tracker has it (one car, one tracker: the live map showed
    # one plate at two places).
    rented = dict(Rental.objects.filter(status=Rental.Status.ACTIVE).values_list("vehicle", "customer_id"))
    cars = {customer: vehicle for vehicle, customer in rented.items() if customer in {d.pk for d in drivers}}
    taken = set(rented) | set(
        Device.objects.filter(serial__startswith=SERIAL.format(""), vehicle__isnull=False).values_list(
            "vehicle", flat=True
        )
    )
    for customer, vehicle in Device.objects.filter(customer__in=drivers, serial__startswith="SIM-").values_list(
        "customer_id", "vehicle"
    ):
        if customer not in cars and vehicle not in taken:
            cars[customer] = vehicle
            taken.add(vehicle)
    vehicles = Vehicle.objects.in_bulk([v for v in cars.values() if v])
    out = []
    with transaction.atomic():
        for driver in drivers:
            serial = SERIAL.format(driver.pk)
            device = Device.objects.filter(serial=serial).first()
            if device is None:
                device, token = device_create(
                    serial=serial, kind=Device.Kind.PHONE, customer=driver, vehicle=vehicles.get(cars.get(driver.pk))
                )
            elif device.revoked_at is not None or not device.is_active:
                continue
            else:
                device, token = device_token_rotate(device=device)
            out.append((serial, token, driver))
    return out


class Command(BaseCommand):
    help = "Demo cars report their positions to the running server over the OsmAnd protocol."

    def add_arguments(self, parser):
        port = os.environ.get("POSITIONS_PORT", "5055")
        parser.add_argument("--url", default=f"http://127.0.0.1:{port}", help="the positions receiver or web server")
        parser.add_argument(
            "--cars",
            type=int,
            default=int(os.environ.get("DEMO_TRACKERS", 8)),
            help="how many cars (0: none; env DEMO_TRACKERS)",
        )
        parser.add_argument("--interval", type=int, default=10, help="seconds between positions")
        parser.add_argument(
            "--stop-minutes",
            type=float,
            default=7.0,
            help="how long a car stands between drives (longer than the detector's stop)",
        )
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--ticks", type=int, default=0, help="stop after this many rounds (0: run until stopped)")
        parser.add_argument("--speedup", type=float, default=1.0, help="replay this many times faster than real time")
        parser.add_argument("--start", help="time of the first position (ISO 8601; default now)")

    def handle(self, *args, url, cars, interval, stop_minutes, seed, ticks, speedup, start, **options):
        if interval < 1 or speedup <= 0:
            raise CommandError("--interval must be at least 1 and --speedup above 0")
        trackers = trackers_setup(cars) if cars > 0 else []
        if not trackers:
            # honcho stops every process when one exits: stay, quietly, until stopped.
            self.stdout.write("demo trackers: none (no demo world, or DEMO_TRACKERS=0)")
            if ticks == 0:
                signal.pause()
            return
        fleet = [
            Car(serial=serial, token=token, drives=drives, stop_s=int(stop_minutes * 60), second=(i * 97) % 240)
            for i, ((serial, token, _), drives) in enumerate(
                zip(trackers, drives_for(len(trackers), seed=seed, today=timezone.localdate()), strict=True)
            )
        ]
        sender = Sender(url)
        self._wait_for(sender)
        names = ", ".join(f"{driver} ({serial})" for serial, _, driver in trackers)
        self.stdout.write(f"demo trackers: {len(fleet)} cars report every {interval} s to {url}: {names}")
        at = dt.datetime.fromisoformat(start) if start else timezone.now()
        tick = 0
        while ticks == 0 or tick < ticks:
            began = time.monotonic()
            for car in fleet:
                status = report(sender, car, car.advance(interval, at))
                if status != car.last_status:
                    self.stdout.write(f"demo trackers: {car.serial}: {_said(status)}")
                    car.last_status = status
            tick += 1
            at += dt.timedelta(seconds=interval)
            time.sleep(max(0.0, interval / speedup - (time.monotonic() - began)))

    def _wait_for(self, sender: Sender, seconds: float = 300) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                if sender.get("/healthz") == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise CommandError(f"the web server did not answer /healthz within {seconds:.0f} s")
            time.sleep(1)


def _said(status: int | None) -> str:
    return {
        None: "the server does not answer; positions are kept and sent when it does",
        200: "positions stored",
        401: "refused: the device's key is not valid (revoked or rotated?)",
        403: "refused: the driver's telematics consent is not in force; nothing is stored",
    }.get(status, f"answered {status}")
