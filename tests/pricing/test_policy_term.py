"""One term rule for every way a policy is bound: the same day next year minus one day."""

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from apps.pricing import services
from tests.partners.factories import PartnerFactory

ACROSS_29_FEBRUARY = [
    (dt.date(2028, 2, 29), dt.date(2029, 2, 28)),  # starts on 29 February: ends on 28 February
    (dt.date(2027, 3, 1), dt.date(2028, 2, 29)),  # the term holds 29 February: 366 days
    (dt.date(2028, 2, 28), dt.date(2029, 2, 27)),
    (dt.date(2028, 3, 1), dt.date(2029, 2, 28)),
]


@pytest.mark.parametrize(
    ("starts_on", "ends_on"),
    [*ACROSS_29_FEBRUARY, (dt.date(2026, 7, 1), dt.date(2027, 6, 30)), (dt.date(2027, 1, 1), dt.date(2027, 12, 31))],
)
def test_a_term_ends_the_day_before_the_same_day_next_year(starts_on, ends_on):
    assert services.policy_ends_on(starts_on) == ends_on


@pytest.mark.django_db
@pytest.mark.parametrize(("starts_on", "ends_on"), ACROSS_29_FEBRUARY)
def test_binding_one_quote_uses_the_term_rule(world, starts_on, ends_on):
    partner = PartnerFactory()
    quote = services.quote_create(
        driver=world["driver"], vehicle_category=world["category"], region=world["region"], partner=partner
    )
    # A policy starts within 90 days of today: bind as if today were three weeks before the start.
    with mock.patch.object(timezone, "localdate", return_value=starts_on - dt.timedelta(days=21)):
        policy = services.policy_bind(quote=quote, partner=partner, starts_on=starts_on)
    policy.refresh_from_db()
    assert (policy.starts_on, policy.ends_on) == (starts_on, ends_on)


@pytest.mark.django_db
@pytest.mark.parametrize(("starts_on", "ends_on"), ACROSS_29_FEBRUARY)
def test_binding_in_bulk_uses_the_term_rule(world, starts_on, ends_on):
    partner = PartnerFactory()
    request = services.QuoteRequest(
        driver_id=world["driver"].pk,
        vehicle_category_id=world["category"].pk,
        region_id=world["region"].pk,
        kind="phyd",
        partner_id=partner.pk,
    )
    [policy] = services.policies_bind_bulk(partner=partner, requests=[request], starts_on=starts_on)
    policy.refresh_from_db()
    assert (policy.starts_on, policy.ends_on) == (starts_on, ends_on)
