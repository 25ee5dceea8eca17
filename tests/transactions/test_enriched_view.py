"""enriched_transactions is a plain view (migration 0006): every payment with its customer, card
and merchant category, read at once (nothing to refresh), without the customer's gender; a query
of payment columns only reads no dimension table."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from apps.common.partitions import ensure_month_partitions
from apps.transactions.models import EnrichedTransaction, Payment
from tests.customers.factories import PaymentCardFactory
from tests.transactions.factories import MerchantCategoryFactory, PaymentFactory

pytestmark = pytest.mark.django_db

PAID_AT = dt.datetime(2026, 3, 4, 23, 15, tzinfo=dt.UTC)  # a Wednesday


def _payment() -> Payment:
    ensure_month_partitions("transactions_payment", PAID_AT.date(), PAID_AT.date())
    card = PaymentCardFactory()
    category = MerchantCategoryFactory(code="5411", description="Grocery stores")
    return PaymentFactory(card=card, customer=card.customer, mcc=category, paid_at=PAID_AT, amount=Decimal("-12.50"))


def test_a_payment_is_in_the_view_with_its_customer_card_and_category_at_once():
    payment = _payment()
    row = EnrichedTransaction.objects.get(id=payment.id)
    customer, card = payment.customer, payment.card
    assert (row.paid_at, row.amount, row.is_refund, row.mcc, row.mcc_description) == (
        PAID_AT,
        Decimal("-12.50"),
        True,
        "5411",
        "Grocery stores",
    )
    assert (row.customer_id, row.customer_birth_year, row.customer_city, row.customer_credit_score) == (
        customer.pk,
        customer.birth_year,
        customer.city,
        customer.credit_score,
    )
    assert (row.card_id, row.card_brand, row.card_type, row.card_has_chip) == (
        card.pk,
        card.brand,
        card.card_type,
        card.has_chip,
    )
    assert (row.hour_of_day, row.day_of_week) == (23, 3)
    Payment.objects.filter(id=payment.id).update(is_fraud=True, fraud_score=0.75)
    assert EnrichedTransaction.objects.filter(id=payment.id).values_list("is_fraud", "fraud_score").get() == (
        True,
        0.75,
    )


def test_the_view_leaves_out_the_customers_gender():
    with connection.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'enriched_transactions'")
        columns = {r[0] for r in cursor.fetchall()}
    assert "customer_id" in columns and not [c for c in columns if "gender" in c]


def test_a_query_of_payment_columns_reads_no_customer_or_card():
    _payment()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN SELECT method, count(*), sum(amount) FROM enriched_transactions GROUP BY method")
        plan = "\n".join(r[0] for r in cursor.fetchall())
    assert "transactions_payment" in plan
    assert "customers_customer" not in plan and "customers_paymentcard" not in plan
    assert "transactions_merchantcategory" not in plan
