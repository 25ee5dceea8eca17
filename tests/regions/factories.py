import datetime as dt
from decimal import Decimal

import factory

from apps.regions.models import Region, Salesperson, Store, StoreDailyMetrics


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"R{n:02d}")
    name = factory.Sequence(lambda n: f"Region {n}")


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    region = factory.SubFactory(RegionFactory)
    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.Sequence(lambda n: f"Store {n}")
    city = "Berlin"
    latitude = Decimal("52.52000")
    longitude = Decimal("13.40500")
    capacity = 40


class SalespersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Salesperson

    store = factory.SubFactory(StoreFactory)
    employee_code = factory.Sequence(lambda n: f"E{n:05d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")


class StoreDailyMetricsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StoreDailyMetrics

    store = factory.SubFactory(StoreFactory)
    date = factory.Sequence(lambda n: dt.date(2026, 1, 1) + dt.timedelta(days=n))
    revenue = Decimal("1200.00")
    rentals = 12
    fleet_size = 20
    utilisation = Decimal("0.6000")
    average_daily_rate = Decimal("55.00")
