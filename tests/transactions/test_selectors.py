import datetime as dt
from decimal import Decimal

import pytest

from apps.common.partitions import ensure_month_partitions
from apps.transactions import selectors
from apps.transactions.models import Payment
from tests.customers.factories import PaymentCardFactory
from tests.transactions.factories import MerchantCategoryFactory, PaymentFactory

pytestmark = pytest.mark.django_db(transaction=True)

T0 = dt.datetime(2026, 3, 2, 2, 30, tzinfo=dt.UTC)  # a Monday, 02:xx UTC


@pytest.fixture
def payments():
    """Hand-built payments: 5812 is big and clean, 5411 runs at 1 % fraud, 5094 is tiny (1 fraud
    in 3), 7995 has no label at all. Loss counts fraudulent charges, not refunds."""
    ensure_month_partitions("transactions_payment", dt.date(2026, 3, 1), dt.date(2026, 4, 30))
    grocery = MerchantCategoryFactory(code="5411", description="Grocery stores")
    jewels = MerchantCategoryFactory(code="5094", description="Precious stones")
    casino = MerchantCategoryFactory(code="7995", description="Betting")
    restaurants = MerchantCategoryFactory(code="5812", description="Restaurants")
    card = PaymentCardFactory()
    common = {"card": card, "customer": card.customer}
    rows = []
    for i in range(400):  # 5411: 400 labelled, 4 fraud at 14:xx, one of them with errors
        fraud = i < 4
        rows.append(
            PaymentFactory.build(
                **common,
                paid_at=T0.replace(minute=0) + dt.timedelta(hours=12, minutes=i % 60),
                mcc=grocery,
                amount=Decimal("50.00"),
                is_fraud=fraud,
                method="chip" if i % 2 else "swipe",
                merchant_state="TX",
                errors=["Bad PIN", "Insufficient Balance"] if i == 0 else [],
            )
        )
    for i in range(3):  # 5094: one fraud of $900 and a refund marked fraud (no loss)
        rows.append(
            PaymentFactory.build(
                **common,
                paid_at=T0 + dt.timedelta(minutes=i),
                mcc=jewels,
                amount=Decimal("900.00") if i == 0 else Decimal("-20.00"),
                is_fraud=i == 0,
                method="online",
                merchant_state="",
                merchant_city="ONLINE",
            )
        )
    rows.append(PaymentFactory.build(**common, paid_at=T0 + dt.timedelta(days=40, hours=3), mcc=casino, is_fraud=None))
    rows += [
        PaymentFactory.build(
            **common, paid_at=T0 + dt.timedelta(days=1, hours=18), mcc=restaurants, is_fraud=False, merchant_state="CA"
        )
        for _ in range(1000)
    ]
    Payment.objects.bulk_create(rows)
    return rows


def test_fraud_by_hour_covers_every_hour_with_rate_and_loss(payments):
    by_hour = {s.key: s for s in selectors.fraud_by_hour()}

    assert list(by_hour) == list(range(24))
    assert (by_hour[2].payments, by_hour[2].labelled, by_hour[2].frauds) == (3, 3, 1)
    assert by_hour[2].fraud_loss == Decimal("900.00")
    assert (by_hour[14].labelled, by_hour[14].frauds, by_hour[14].fraud_loss) == (400, 4, Decimal("200.00"))
    assert by_hour[14].fraud_rate == pytest.approx(0.01)
    assert (by_hour[5].payments, by_hour[5].labelled, by_hour[5].fraud_rate) == (1, 0, None)
    assert by_hour[6].payments == 0 and by_hour[6].fraud_loss == Decimal("0.00")


def test_fraud_by_category_ranks_a_tiny_category_below_a_big_one(payments):
    ranked = selectors.fraud_by_merchant_category()

    assert [s.key for s in ranked] == ["5411", "5094", "5812", "7995"]
    grocery, jewels, restaurants, casino = ranked
    # The tiny category's raw rate (1 in 3) is far higher, but its interval is wide.
    assert jewels.fraud_rate == pytest.approx(1 / 3)
    assert jewels.fraud_rate > grocery.fraud_rate
    assert jewels.rate_low == pytest.approx(0.0615, abs=1e-3) and jewels.rate_high == pytest.approx(0.7923, abs=1e-3)
    assert grocery.rate_low == pytest.approx(0.0039, abs=1e-3) and grocery.rate_high == pytest.approx(0.0254, abs=1e-3)
    assert grocery.shrunk_rate > jewels.shrunk_rate
    assert (grocery.payments, grocery.frauds, grocery.label) == (400, 4, "Grocery stores")
    assert (casino.labelled, casino.fraud_rate, casino.rate_low, casino.shrunk_rate) == (0, None, None, None)
    assert restaurants.frauds == 0 and restaurants.rate_low == pytest.approx(0.0, abs=1e-12)
    assert [s.key for s in selectors.fraud_by_merchant_category(limit=2)] == ["5411", "5094"]


def test_fraud_by_state_method_and_error_type(payments):
    states = {s.key: s for s in selectors.fraud_by_merchant_state()}
    assert set(states) == {"TX", "online", "CA", "ND"}
    assert [s.key for s in selectors.fraud_by_merchant_state()][:2] == ["TX", "online"]
    assert (states["online"].payments, states["online"].frauds) == (3, 1)

    methods = {s.key: s for s in selectors.fraud_by_method()}
    assert list(methods) == ["chip", "swipe", "online"]
    assert (methods["swipe"].labelled, methods["swipe"].frauds) == (200, 2)  # frauds i = 0, 2 are swipe
    assert (methods["chip"].labelled, methods["chip"].frauds) == (1200, 2)  # + the 1000 restaurant payments
    assert methods["online"].fraud_loss == Decimal("900.00")

    errors = {s.key: s for s in selectors.fraud_by_error_type()}
    assert set(errors) == {"none", "Bad PIN", "Insufficient Balance"}
    assert (errors["Bad PIN"].payments, errors["Bad PIN"].frauds) == (1, 1)
    assert errors["none"].payments == 1403


def test_fraud_by_error_type_over_a_period(payments):
    march = selectors.fraud_by_error_type(start=T0.replace(day=1), end=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    assert {s.key: s.payments for s in march} == {"none": 1402, "Bad PIN": 1, "Insufficient Balance": 1}
    assert selectors.fraud_by_error_type(start=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)) == []


def test_total_loss_over_a_period(payments):
    march = selectors.fraud_loss_total(start=T0.replace(day=1), end=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    assert (march["payments"], march["labelled"], march["frauds"]) == (1403, 1403, 5)
    assert march["fraud_loss"] == Decimal("1100.00")
    assert march["refunds"] == Decimal("40.00")
    everything = selectors.fraud_loss_total()
    assert everything["payments"] == 1404
    nothing = selectors.fraud_loss_total(start=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert (nothing["payments"], nothing["fraud_loss"], nothing["fraud_rate"]) == (0, Decimal("0.00"), None)


def test_wilson_interval_known_values():
    assert selectors.wilson_interval(0, 0) == (None, None)
    low, high = selectors.wilson_interval(3, 3)
    assert low == pytest.approx(0.4385, abs=1e-4) and high == pytest.approx(1.0)
    low, high = selectors.wilson_interval(10, 100)
    assert low == pytest.approx(0.0552, abs=1e-4) and high == pytest.approx(0.1744, abs=1e-4)
