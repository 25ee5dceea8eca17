"""Customers near the stores, with masked payment cards (last four digits and a keyed hash)."""

import datetime as dt
import math
from decimal import Decimal

import numpy as np
from django.conf import settings

from apps.customers.cards import card_number_hmac
from apps.customers.models import Customer, PaymentCard
from apps.demo.world.bulk import BATCH
from apps.demo.world.catalogue import FEMALE, LAST, MALE
from apps.demo.world.values import ascii_slug, end_of_month, luhn_complete, money


class Customers:
    """The customers step of the WorldBuilder."""

    def build_customers(self) -> None:
        n = self.size.customers
        store_idx = self.np.integers(0, len(self.stores), size=n)
        birth_years = np.clip(self.np.normal(1982, 13, size=n).round(), 1945, self.today.year - 19).astype(int)
        incomes = self.np.lognormal(math.log(42000), 0.45, size=n)
        debts = incomes * self.np.uniform(0, 1.6, size=n)
        credit = np.clip(self.np.normal(690, 70, size=n).round(), 300, 850).astype(int)
        customers = []
        for i in range(n):
            gender = self.rng.choices(["female", "male", "unknown"], weights=[48, 48, 4])[0]
            first = self.rng.choice(FEMALE if gender == "female" else MALE if gender == "male" else FEMALE + MALE)
            last = self.rng.choice(LAST)
            store = self.stores[store_idx[i]]
            licence_age = 18 + min(int(self.rng.expovariate(1 / 3)), 25)
            licence_year = min(int(birth_years[i]) + licence_age, self.today.year - 1)
            customers.append(
                Customer(
                    first_name=first,
                    last_name=last,
                    email=f"{ascii_slug(first)}.{ascii_slug(last)}.{i + 1}@example.com",
                    phone=f"+49 15{self.rng.randrange(10)} {self.rng.randrange(1000000, 9999999)}",
                    gender=gender,
                    birth_year=int(birth_years[i]),
                    licence_since=dt.date(licence_year, 1 + self.rng.randrange(12), 1 + self.rng.randrange(28)),
                    city=store.city,
                    postal_area=store.postal_prefix[:2],
                    latitude=Decimal(f"{float(store.latitude) + self.rng.uniform(-0.12, 0.12):.2f}"),
                    longitude=Decimal(f"{float(store.longitude) + self.rng.uniform(-0.18, 0.18):.2f}"),
                    home_store=store,
                    yearly_income=money(incomes[i]),
                    total_debt=money(debts[i]),
                    credit_score=int(credit[i]),
                    created_at=self.start - dt.timedelta(days=self.rng.randrange(0, 2000)),
                )
            )
        Customer.objects.bulk_create(customers, batch_size=BATCH)
        self.customers = customers
        cards = []
        brands = [("visa", "4", 16), ("mastercard", "5", 16), ("amex", "37", 15), ("discover", "6011", 16)]
        for customer in customers:
            for _ in range(1 if self.rng.random() < 0.8 else 2):
                brand, prefix, length = self.rng.choices(brands, weights=[45, 42, 9, 4])[0]
                if brand == "mastercard":
                    prefix += str(self.rng.randint(1, 5))
                number = luhn_complete(prefix, length, self.rng)
                expiry_month = self.today.month + self.rng.randrange(1, 60)
                card_type = self.rng.choices(["debit", "credit", "prepaid"], weights=[55, 40, 5])[0]
                cards.append(
                    PaymentCard(
                        customer=customer,
                        brand=brand,
                        card_type=card_type,
                        last4=number[-4:],
                        expires_on=end_of_month(
                            self.today.year + (expiry_month - 1) // 12, (expiry_month - 1) % 12 + 1
                        ),
                        number_hmac=card_number_hmac(number, settings.CARD_HMAC_KEY),
                        has_chip=self.rng.random() < 0.97,
                        credit_limit=money(self.rng.choice([1000, 2500, 5000, 10000]))
                        if card_type == "credit"
                        else None,
                        opened_on=self.today - dt.timedelta(days=self.rng.randrange(60, 4000)),
                    )
                )
                # The number goes out of scope here: only last4 and its HMAC are kept.
        PaymentCard.objects.bulk_create(cards, batch_size=BATCH)
        self.card_of = {}
        for card in cards:
            self.card_of.setdefault(card.customer_id, card.pk)
        self.counts["customers"] = len(customers)
        self.counts["payment_cards"] = len(cards)
