import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from apps.transactions.models import IngestRun, MerchantCategory, Payment, RejectedRow, Rental
from tests.customers.factories import CustomerFactory, PaymentCardFactory
from tests.fleet.factories import VehicleFactory


class RentalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rental

    customer = factory.SubFactory(CustomerFactory)
    vehicle = factory.SubFactory(VehicleFactory)
    pickup_store = factory.SelfAttribute("vehicle.home_store")
    return_store = factory.SelfAttribute("pickup_store")
    status = Rental.Status.COMPLETED
    rented_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=10))
    due_at = factory.LazyAttribute(lambda o: o.rented_at + dt.timedelta(days=3))
    returned_at = factory.LazyAttribute(lambda o: o.due_at)
    daily_rate = Decimal("49.00")
    rental_amount = Decimal("147.00")
    total_amount = Decimal("147.00")
    odometer_out_km = 10000
    odometer_in_km = 10450


class MerchantCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MerchantCategory
        django_get_or_create = ("code",)

    code = "5812"
    description = "Eating Places and Restaurants"


class IngestRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IngestRun


class RejectedRowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RejectedRow

    run = factory.SubFactory(IngestRunFactory)
    file_name = "transactions_data.csv"
    line_number = factory.Sequence(lambda n: n + 2)
    reason = RejectedRow.Reason.BAD_AMOUNT
    raw_line = "1,2010-01-01 00:01:00,1,1,$x,Swipe Transaction,1,A,B,1.0,5812,"


class PaymentFactory(factory.django.DjangoModelFactory):
    """Needs the month partition of `paid_at` to exist (see apps.common.partitions)."""

    class Meta:
        model = Payment

    id = factory.Sequence(lambda n: 10_000_000 + n)
    paid_at = factory.LazyFunction(lambda: dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC))
    card = factory.SubFactory(PaymentCardFactory)
    customer = factory.SelfAttribute("card.customer")
    amount = Decimal("42.50")
    method = Payment.Method.CHIP
    merchant_id = 59935
    merchant_city = "Beulah"
    merchant_state = "ND"
    merchant_zip = "58523"
    mcc = factory.SubFactory(MerchantCategoryFactory)
