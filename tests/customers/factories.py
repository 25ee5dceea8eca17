import datetime as dt
import hashlib

import factory

from apps.customers.models import Customer, PaymentCard, TelematicsConsent


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"driver{n}@example.com")
    birth_year = 1985
    licence_since = dt.date(2005, 6, 1)
    city = "Berlin"


class PaymentCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentCard

    customer = factory.SubFactory(CustomerFactory)
    brand = PaymentCard.Brand.VISA
    card_type = PaymentCard.CardType.DEBIT
    last4 = factory.Sequence(lambda n: f"{n % 10000:04d}")
    expires_on = dt.date(2029, 12, 31)
    number_hmac = factory.Sequence(lambda n: hashlib.sha256(f"card-{n}".encode()).hexdigest())


class TelematicsConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TelematicsConsent

    customer = factory.SubFactory(CustomerFactory)
