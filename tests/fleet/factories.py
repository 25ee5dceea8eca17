import datetime as dt
from decimal import Decimal

import factory

from apps.fleet.models import MaintenanceForecast, MaintenanceRecord, Vehicle, VehicleCategory
from tests.regions.factories import StoreFactory

_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


def _vin(n: int) -> str:
    body = ""
    for _ in range(8):
        n, r = divmod(n, len(_VIN_CHARS))
        body += _VIN_CHARS[r]
    return "WVW" + "ZZZ1KZ" + body


class VehicleCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VehicleCategory
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"CAT{n}")
    name = factory.Sequence(lambda n: f"Category {n}")
    base_price_per_day = Decimal("45.00")


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    vin = factory.Sequence(_vin)
    plate = factory.Sequence(lambda n: f"B-FO {n:05d}")
    make = "Volkswagen"
    model = "Golf"
    model_year = 2023
    category = factory.SubFactory(VehicleCategoryFactory)
    home_store = factory.SubFactory(StoreFactory)
    current_store = factory.SelfAttribute("home_store")
    price_per_day = Decimal("49.00")
    odometer_km = 12000
    acquired_on = dt.date(2023, 3, 1)


class MaintenanceRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MaintenanceRecord

    vehicle = factory.SubFactory(VehicleFactory)
    performed_on = dt.date(2026, 1, 10)
    odometer_km = 10000
    cost = Decimal("250.00")
    next_due_on = dt.date(2027, 1, 10)
    next_due_km = 30000


class MaintenanceForecastFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MaintenanceForecast

    vehicle = factory.SubFactory(VehicleFactory)
    as_of = dt.date(2026, 6, 1)
    predicted_service_on = dt.date(2026, 6, 20)
    urgency = MaintenanceForecast.Urgency.PLANNED
    reason = "12,000 km since last service"
