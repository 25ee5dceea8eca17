import datetime as dt

import factory
from django.utils import timezone

from apps.common.keys import hash_key, new_secret_key
from apps.telematics.models import Device, DriverFeatures, Trip
from tests.customers.factories import CustomerFactory
from tests.fleet.factories import VehicleFactory


class DeviceFactory(factory.django.DjangoModelFactory):
    """`DeviceFactory()` then `device.raw_token` holds the token to present."""

    class Meta:
        model = Device

    serial = factory.Sequence(lambda n: f"DEV-{n:06d}")
    vehicle = factory.SubFactory(VehicleFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        raw, prefix = new_secret_key("dev")
        kwargs.setdefault("token_prefix", prefix)
        kwargs.setdefault("token_hash", hash_key(raw))
        device = super()._create(model_class, *args, **kwargs)
        device.raw_token = raw
        return device


class TripFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trip

    device = factory.SubFactory(DeviceFactory)
    external_id = factory.Sequence(lambda n: f"trip-{n}")
    driver = factory.SubFactory(CustomerFactory)
    vehicle = factory.SelfAttribute("device.vehicle")
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=2))
    ended_at = factory.LazyAttribute(lambda o: o.started_at + dt.timedelta(minutes=25))
    distance_km = 18.5
    duration_s = 1500


class DriverFeaturesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DriverFeatures

    driver = factory.SubFactory(CustomerFactory)
    as_of = dt.date(2026, 6, 30)
    trips = 40
    km = 900.0
    hours = 22.0
