import datetime as dt
from decimal import Decimal

import pytest

from apps.alerts.models import OperationalEvent
from apps.intelligence.rental_fraud import anomaly_points, rental_fraud_run, rental_fraud_scan
from apps.intelligence.segments import customer_rfm_list, customer_segment_summary
from tests.customers.factories import CustomerFactory, PaymentCardFactory
from tests.fleet.factories import VehicleFactory
from tests.regions.factories import RegionFactory, StoreFactory
from tests.transactions.factories import RentalFactory

AS_OF = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def day(n: float) -> dt.datetime:
    """n days before AS_OF."""
    return AS_OF - dt.timedelta(days=n)


@pytest.fixture
def world():
    berlin = StoreFactory(region=RegionFactory(code="N"), latitude=Decimal("52.52"), longitude=Decimal("13.405"))
    munich = StoreFactory(region=RegionFactory(code="S"), latitude=Decimal("48.137"), longitude=Decimal("11.575"))
    vehicles = [VehicleFactory(home_store=berlin) for _ in range(4)]

    def rent(customer, start, days=3.0, amount="100.00", card=None, vehicle=0, returns_to=None):
        return RentalFactory(
            customer=customer,
            vehicle=vehicles[vehicle],
            pickup_store=berlin,
            return_store=returns_to or berlin,
            rented_at=day(start),
            due_at=day(start - days),
            returned_at=day(start - days),
            total_amount=Decimal(amount),
            payment_card=card,
        )

    def customer():
        return CustomerFactory(home_store=berlin)

    normal = [customer() for _ in range(12)]
    for n, c in enumerate(normal):
        rent(c, 20 - n * 0.5, card=PaymentCardFactory(customer=c))
    many = customer()
    for n in range(9):
        rent(many, 28 - 3 * n, days=1)
    big = customer()
    rent(big, 10, amount="2000.00")
    cards = customer()
    for n in range(3):
        rent(cards, 6 - n, days=0.5, card=PaymentCardFactory(customer=cards))
    overlap = customer()
    rent(overlap, 15, days=4, vehicle=0)
    rent(overlap, 14, days=2, vehicle=1)
    far = customer()
    rent(far, 25, returns_to=munich)
    rent(far, 12, returns_to=munich)
    odd = customer()
    rent(odd, 8, amount="900.00")
    old = customer()
    rent(old, 45)  # before the window: not scanned
    return {"many": many, "big": big, "cards": cards, "overlap": overlap, "far": far, "odd": odd, "normal": normal}


@pytest.mark.django_db
def test_each_rule_fires_on_its_customer_only(world):
    found = {r["customer_id"]: r for r in rental_fraud_scan(as_of=AS_OF)}
    assert found[world["many"].pk]["rules"] == ["many_rentals"]
    assert found[world["big"].pk]["rules"] == ["high_average_amount"]
    assert found[world["cards"].pk]["rules"] == ["many_cards"]
    assert found[world["overlap"].pk]["rules"] == ["overlapping_rentals"]
    assert found[world["far"].pk]["rules"] == ["far_returns_elsewhere"]
    assert found[world["odd"].pk]["rules"] == []
    assert not {c.pk for c in world["normal"]} & set(found)

    far = found[world["far"].pk]
    assert far["features"]["far_returns"] == 2
    assert 490 < far["features"]["farthest_km"] < 520  # Berlin → Munich
    assert "2 return(s) in another region, up to" in far["reasons"][0]
    assert found[world["cards"].pk]["features"]["max_cards"] == 3
    assert found[world["overlap"].pk]["features"]["overlapping_pairs"] == 1
    assert found[world["many"].pk]["reasons"][0] == "9 rentals in 30 days (more than 8)"


@pytest.mark.django_db
def test_anomaly_reasons_name_the_feature_the_value_and_the_reference(world):
    found = {r["customer_id"]: r for r in rental_fraud_scan(as_of=AS_OF)}
    odd = found[world["odd"].pk]
    assert odd["anomalies"][0]["feature"] == "avg_amount"
    amount = next(a for a in odd["anomalies"] if a["feature"] == "avg_amount")
    assert (amount["value"], amount["median"]) == (900.0, 100.0)
    assert float(amount["z"]) >= 3.0
    assert any(
        reason.startswith("average amount 900.0 is") and reason.endswith("of all customers")
        for reason in odd["reasons"]
    )
    assert odd["reference"] == "all customers"  # segments of this tiny world are below MIN_SEGMENT_SIZE
    many = found[world["many"].pk]
    assert many["anomalies"][0]["feature"] == "rentals"
    assert many["score"] == pytest.approx(min(100, 25 + anomaly_points(many["max_z"], 3.5)))


@pytest.mark.django_db
def test_customers_compare_with_their_own_segment_when_it_is_big_enough(world, settings):
    settings.INTELLIGENCE = {"RENTAL_FRAUD": {"MIN_SEGMENT_SIZE": 2}}
    found = {r["customer_id"]: r for r in rental_fraud_scan(as_of=AS_OF)}
    assert found[world["odd"].pk]["segment"] == "new"  # no rentals in the year before the window
    assert found[world["odd"].pk]["reference"] == "new"


@pytest.mark.django_db
def test_rules_follow_settings(world, settings):
    settings.INTELLIGENCE = {"RENTAL_FRAUD": {"MAX_RENTALS": 9, "MAX_AVG_AMOUNT": 500}}
    found = {r["customer_id"]: r for r in rental_fraud_scan(as_of=AS_OF)}
    assert "many_rentals" not in found[world["many"].pk]["rules"]
    assert found[world["odd"].pk]["rules"] == ["high_average_amount"]


@pytest.mark.django_db
def test_run_opens_events_with_severity_from_score_and_auto_resolves(world, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        result = rental_fraud_run(as_of=AS_OF)
    events = {int(e.entity_id): e for e in OperationalEvent.objects.filter(event_type="fraud_risk")}
    assert result["events"]["opened"] == len(events)
    assert world["overlap"].pk in events and world["many"].pk in events
    overlap = events[world["overlap"].pk]
    assert overlap.entity_type == "customers.customer"
    assert overlap.score >= 35 and overlap.severity in {"low", "medium", "high", "critical"}
    assert "on the road at the same time" in overlap.description
    assert overlap.metadata["rental_fraud"]["rules"] == ["overlapping_rentals"]

    # Two months later nothing is in the window: every event closes itself.
    later = rental_fraud_run(as_of=AS_OF + dt.timedelta(days=60))
    assert later["events"]["auto_resolved"] == len(events)
    assert not OperationalEvent.objects.filter(status="open").exists()


@pytest.mark.parametrize(
    "score, severity", [(95, "critical"), (80, "critical"), (65, "high"), (45, "medium"), (30, "low")]
)
def test_severity_thresholds(score, severity):
    from apps.intelligence.rental_fraud import severity_for

    assert severity_for(score) == severity


@pytest.mark.django_db
def test_rfm_segments_on_known_customers():
    store = StoreFactory()
    vehicle = VehicleFactory(home_store=store)
    regular = CustomerFactory()
    for n in range(6):
        RentalFactory(customer=regular, vehicle=vehicle, rented_at=day(10 + 30 * n), total_amount=Decimal("300"))
    lapsed = CustomerFactory()
    RentalFactory(customer=lapsed, vehicle=vehicle, rented_at=day(300), total_amount=Decimal("100"))
    fresh = CustomerFactory()
    RentalFactory(customer=fresh, vehicle=vehicle, rented_at=day(5), total_amount=Decimal("80"))
    rows = {r["customer_id"]: r for r in customer_rfm_list(until=AS_OF)}
    assert (rows[regular.pk]["frequency"], rows[regular.pk]["monetary"]) == (6, Decimal("1800.00"))
    assert rows[regular.pk]["f_score"] == 5 and rows[lapsed.pk]["f_score"] == 1
    assert rows[lapsed.pk]["r_score"] == 1 and rows[fresh.pk]["r_score"] == 5
    assert rows[lapsed.pk]["segment"] == "hibernating"
    assert rows[fresh.pk]["segment"] == "promising"
    assert rows[regular.pk]["segment"] == "loyal"  # R 4 (second most recent), F 5
    summary = {s["segment"]: s["customers"] for s in customer_segment_summary(until=AS_OF)}
    assert summary == {"loyal": 1, "promising": 1, "hibernating": 1}
