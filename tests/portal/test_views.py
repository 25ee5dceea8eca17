import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.portal.selectors import claim_chance
from apps.pricing.models import Policy
from tests.accounts.factories import UserFactory
from tests.customers.factories import CustomerFactory
from tests.portal.conftest import PASSWORD
from tests.risk.factories import RiskModelFactory, RiskScoreFactory
from tests.telematics.factories import TripFactory

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    """The page's text with tags and runs of white space collapsed, for exact phrase checks."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


# --- access -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/portal/", "/portal/trips/", "/portal/trips/1/"])
def test_anonymous_users_are_sent_to_the_portal_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/portal/login/?next={url}"


def test_a_driver_signs_in_and_out_with_the_portal_pages(client, driver_user):
    page = client.get("/portal/login/")
    assert page.status_code == 200
    assert "Driver portal: sign in" in _text(page)

    bad = client.post("/portal/login/", {"username": "portal-driver", "password": "wrong"})
    assert bad.status_code == 200
    assert "did not match" in _text(bad)
    assert "_auth_user_id" not in client.session

    response = client.post("/portal/login/", {"username": "portal-driver", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200

    out = client.post("/portal/logout/")
    assert out.status_code == 302
    assert out["Location"] == "/portal/login/"
    assert client.get("/portal/").status_code == 302


def test_login_follows_next(client, driver_user):
    response = client.post(
        "/portal/login/?next=/portal/trips/",
        {"username": "portal-driver", "password": PASSWORD, "next": "/portal/trips/"},
    )
    assert response["Location"] == "/portal/trips/"


@pytest.mark.parametrize("url", ["/portal/", "/portal/trips/", "/portal/trips/1/"])
def test_staff_without_a_customer_record_get_a_clear_403(client, role_user, url):
    client.force_login(role_user("analyst"))
    response = client.get(url)
    assert response.status_code == 403
    assert "This login has no driver record" in _text(response)
    assert "not linked to a customer record" in _text(response)


def test_a_plain_user_without_a_customer_record_gets_403_too(client):
    client.force_login(UserFactory())
    assert client.get("/portal/").status_code == 403


# --- dashboard ----------------------------------------------------------------------------------------


def test_the_dashboard_shows_the_real_score_reasons_and_premium(driver_client, scored_driver):
    response = driver_client.get("/portal/")
    assert response.status_code == 200
    text = _text(response)
    assert "52 / 100" in text
    assert "Medium risk" in text
    # expected claims 0.072 a year: 1 - exp(-0.072) = 6.9%, about 1 in 14; the average 0.05: 1 in 21
    assert "About 1 in 14 drivers like you has a claim in a year (about 1 in 21 across all our drivers)." in text
    assert "0.072" not in text and "0.050" not in text
    assert "Your risk of a claim is 44% above the average driver's." in text
    # the score's own reasons, in its words, with the effect said in a sentence
    assert "Harsh braking 4.2 per 100 km, more than 90% of drivers : this raises your risk of a claim by 22%." in text
    assert "Distance driven 3,000 km in the window : this lowers your risk of a claim by 10%." in text
    assert "expected claims" not in text
    # premium: base 900, licence 16 years -> 1.00, factor 1.44 ** 0.5 = 1.2
    policy = scored_driver["policy"]
    assert policy.annual_premium == Decimal("1080.00")
    assert "€1,080.00" in text
    assert "Pay how you drive policy with Acme Insurance" in text
    # the quote's breakdown, step by step in words
    assert "Your driving: a risk 1.44 times the average \u00d7 1.20" in text
    assert "Base premium for the vehicle class and region €900.00" in text
    assert "Your surcharge €180.00" in text  # over the 900.00 traditional premium
    # history: both scores, newest first; the chart oldest first
    assert [s.safety_score for s in response.context["history"]] == [52, 69]
    assert response.context["trend_chart"]["datasets"][0]["data"] == [69, 52]
    _page_is_clean(text)


def _page_is_clean(text: str) -> None:
    """No Python leftovers a driver should never read."""
    assert "None" not in text
    assert not re.search(r"\b\d+\.\d{3,}\b", text.split("{", 1)[0] + text.rsplit("}", 1)[-1]), "a raw float"


def test_the_advice_covers_only_what_raises_expected_claims(driver_client, scored_driver):
    response = driver_client.get("/portal/")
    advice = response.context["advice"]
    assert [(a["feature"], a["effect_percent"], a["value"]) for a in advice] == [
        ("harsh_brake_per_100km", 22, "4.2 per 100 km"),
        ("night_share", 5, "31% of driving time"),
    ]
    text = _text(response)
    assert "Brake earlier" in text
    assert "Drive in daylight" in text
    assert "Fewer kilometres" not in text  # km lowers this driver's risk: no advice on it


def test_each_costly_habit_is_priced_by_the_pricing_code(driver_client, scored_driver):
    """PHYD: what a habit adds is the premium at the score's relative risk against the premium
    with that habit's SHAP contribution taken out, both from quote_compute."""
    response = driver_client.get("/portal/")
    costs = response.context["premium"].habit_costs
    # 1.44 / exp(0.2) = 1.178985 -> factor round(sqrt, 4) = 1.0858 -> 977.22: 1080.00 - 977.22 = 102.78
    # 1.44 / exp(0.05) = 1.369770 -> 1.1704 -> 1053.36: 26.64
    assert [(c["feature"], c["cost"], c["premium_without"]) for c in costs] == [
        ("harsh_brake_per_100km", Decimal("102.78"), Decimal("977.22")),
        ("night_share", Decimal("26.64"), Decimal("1053.36")),
    ]
    text = _text(response)
    assert "Harsh braking (4.2 per 100 km) adds about €103 a year to your premium." in text
    assert "Night driving (31% of driving time) adds about €27 a year to your premium." in text


def test_the_what_if_premiums_come_from_the_pricing_curve(driver_client, scored_driver):
    response = driver_client.get("/portal/")
    rows = response.context["premium"].what_if
    # safety 70 -> relative risk 1.5 * sqrt(100/70 - 1) = 0.981981; 80 -> 0.75; 90 -> 0.5
    # premium = 900 x round(rr ** 0.5, 4): 0.9909 -> 891.81, 0.8660 -> 779.40, 0.7071 -> 636.39
    assert [(r["safety_score"], r["annual_premium"], r["saving"]) for r in rows] == [
        (70, Decimal("891.81"), Decimal("188.19")),
        (80, Decimal("779.40"), Decimal("300.60")),
        (90, Decimal("636.39"), Decimal("443.61")),
    ]
    text = _text(response)
    assert "At a safety score of 90 €636.39 a year, €443.61 less" in text


def test_no_what_if_figure_for_a_policy_not_priced_on_driving(driver_client, scored_driver):
    from apps.pricing import services as pricing

    driver, old = scored_driver["driver"], scored_driver["policy"]
    pricing.policy_cancel(policy=old, reason="switch to traditional")
    quote = pricing.quote_create(
        driver=driver,
        vehicle_category=old.quote.vehicle_category,
        region=old.quote.region,
        partner=old.partner,
        kind="traditional",
    )
    pricing.policy_bind(quote=quote, partner=old.partner)
    response = driver_client.get("/portal/")
    premium = response.context["premium"]
    assert premium.policy.kind == "traditional"
    assert premium.what_if == []
    text = _text(response)
    assert "Your policy has a fixed premium: neither your score nor your distance changes it." in text
    # the quote comparison, priced on the same inputs and plan: PHYD at the score's 1.44 -> x1.2;
    # PAYD 3000 km in 90 days = 12,167 km a year x 0.03 = 365.00 + 0.6 x 900 = 905.00
    assert [(o["kind"], o["annual_premium"], o["saving"], o["eligible"]) for o in premium.offers] == [
        ("phyd", Decimal("1080.00"), Decimal("-180.00"), True),
        ("payd", Decimal("905.00"), Decimal("-5.00"), True),
    ]
    assert "Pay how you drive €1,080.00 a year, €180.00 more" in text
    assert "Pay as you drive €905.00 a year, €5.00 more" in text
    assert "raises your premium" not in text and "cost you" not in text
    _page_is_clean(text)


def _rebind(scored_driver, kind):
    from apps.pricing import services as pricing

    driver, old = scored_driver["driver"], scored_driver["policy"]
    pricing.policy_cancel(policy=old, reason=f"switch to {kind}")
    quote = pricing.quote_create(
        driver=driver, vehicle_category=old.quote.vehicle_category, region=old.quote.region, partner=old.partner,
        kind=kind,
    )  # fmt: skip
    return pricing.policy_bind(quote=quote, partner=old.partner)


def test_payd_advice_is_about_mileage_and_never_says_driving_habits_move_the_premium(driver_client, scored_driver):
    policy = _rebind(scored_driver, "payd")
    assert policy.annual_premium == Decimal("905.00")
    response = driver_client.get("/portal/")
    mileage = response.context["premium"].mileage
    # 1,000 km less: 11,167 km a year x 0.03 = 335.00 + 540.00 = 875.00, 30.00 less than 905.00
    assert (mileage["annual_km"], mileage["fewer_km"], mileage["annual_premium"], mileage["saving"]) == (
        12167, 11167, Decimal("875.00"), Decimal("30.00"),
    )  # fmt: skip
    text = _text(response)
    assert "Pay as you drive policy" in text
    assert "Driving 1,000 km less a year would save you about €30 : your premium would be €875.00." in text
    assert "How you drive does not change it." in text
    # the habits are still advice on safety, but never said to move this premium
    assert "(your premium does not depend on them, but your safety does)" in text
    assert "to your premium" not in text and "not priced on how you drive" not in text
    assert response.context["premium"].habit_costs == []
    _page_is_clean(text)


def test_the_premium_shown_follows_a_requote(driver_client, scored_driver):
    from apps.pricing import services as pricing

    driver = scored_driver["driver"]
    RiskScoreFactory(
        driver=driver,
        model=scored_driver["model"],
        as_of=timezone.localdate(),
        relative_risk=0.64,
        safety_score=82,
        band="low",
    )
    assert pricing.policies_requote(driver_ids=[driver.pk]) == {"policies": 1, "changed": 1}
    response = driver_client.get("/portal/")
    assert Policy.objects.get(pk=scored_driver["policy"].pk).annual_premium == Decimal("720.00")
    assert "€720.00" in _text(response)
    assert "82 / 100" in _text(response)
    # better than 70 and 80 already: only the 90 row is left
    assert [r["safety_score"] for r in response.context["premium"].what_if] == [90]


def test_a_driver_without_a_score_is_told_so(driver_client, driver_user):
    TripFactory(driver=driver_user.customer)
    response = driver_client.get("/portal/")
    assert response.status_code == 200
    text = _text(response)
    assert "You have no safety score yet." in text
    assert "We have 1 trip from you" in text
    assert "You have no active insurance policy" in text
    assert response.context["score"] is None
    assert response.context["premium"] is None
    # no active risk model at all (the demo before a model passes its gate): said plainly
    assert "scoring is paused while our risk model is being renewed" in text
    _page_is_clean(text)


def test_a_driver_with_trips_but_no_score_of_the_active_model_is_told_it_comes_nightly(driver_client, scored_driver):
    from apps.risk.models import RiskModel

    RiskModel.objects.filter(pk=scored_driver["model"].pk).update(is_active=False)
    RiskModelFactory(is_active=True)
    TripFactory(driver=scored_driver["driver"])
    response = driver_client.get("/portal/")
    text = _text(response)
    assert "You have no safety score yet." in text
    assert "no score from the current risk model yet: scores are computed nightly" in text
    # the PHYD policy still shows, and its advice does not pretend there is a score
    assert "€1,080.00" in text
    assert "Which habits cost you most shows here once you have a current score." in text
    assert "keep it up" not in text
    _page_is_clean(text)


def test_a_driver_with_no_trips_is_told_what_a_score_needs(driver_client, driver_user):
    text = _text(driver_client.get("/portal/"))
    assert "We have no trips from you yet: a score needs telematics trips (with your consent)" in text


def test_a_score_of_an_inactive_model_is_not_shown_as_current(driver_client, driver_user):
    RiskScoreFactory(driver=driver_user.customer, model=RiskModelFactory(is_active=False), safety_score=40)
    response = driver_client.get("/portal/")
    assert "You have no safety score yet." in _text(response)


def test_the_dashboard_shows_only_the_signed_in_drivers_data(driver_client, scored_driver):
    other = CustomerFactory()
    RiskScoreFactory(driver=other, model=scored_driver["model"], as_of=timezone.localdate(), safety_score=97)
    response = driver_client.get("/portal/")
    assert response.context["score"].pk == scored_driver["score"].pk
    assert "97 / 100" not in _text(response)


# --- trips ----------------------------------------------------------------------------------------------


def test_the_trip_list_is_the_drivers_own_newest_first_and_paginated(driver_client, driver_user):
    now = timezone.now()
    mine = [
        TripFactory(driver=driver_user.customer, started_at=now - dt.timedelta(hours=i), score=90 - i)
        for i in range(27)
    ]
    TripFactory(driver=CustomerFactory(), started_at=now)
    first = driver_client.get("/portal/trips/")
    assert first.status_code == 200
    assert [t.pk for t in first.context["page"]] == [t.pk for t in mine[:25]]
    assert "27 trips, newest first" in _text(first)
    second = driver_client.get("/portal/trips/?page=2")
    assert [t.pk for t in second.context["page"]] == [mine[25].pk, mine[26].pk]


def test_a_trip_detail_shows_the_features_and_events(driver_client, driver_user):
    trip = TripFactory(
        driver=driver_user.customer,
        distance_km=12.3,
        duration_s=1260,
        max_speed_mps=25,
        harsh_brake_count=1,
        speeding_count=1,
        speeding_s=42,
        score=81,
        events=[
            {
                "type": "harsh_brake",
                "at": "2026-07-01T08:00:05Z",
                "lat": 52.5,
                "lon": 13.4,
                "magnitude": -4.1,
                "duration_s": 1.0,
                "speed_mps": 14.0,
            },
            {
                "type": "speeding",
                "at": "2026-07-01T08:03:00Z",
                "lat": 52.51,
                "lon": 13.41,
                "magnitude": 4.5,
                "duration_s": 42.0,
                "speed_mps": 18.0,
                "speed_limit_mps": 13.89,
            },
        ],
        score_deductions=[{"reason": "harsh_brake", "amount": 1, "points": 4.0, "events": [0]}],
    )
    response = driver_client.get(f"/portal/trips/{trip.pk}/")
    assert response.status_code == 200
    text = _text(response)
    assert "81 / 100" in text
    assert "12.3 km" in text
    assert "21 min" in text
    assert "90 km/h" in text  # 25 m/s
    assert "Harsh braking" in text
    assert "Speeding" in text
    assert "up to 66 km/h where 50 km/h is allowed" in text  # the limit + 4.5 m/s over it at the peak
    assert "\u22124.0" in text  # the points the braking cost


def test_another_drivers_trip_is_a_404(driver_client):
    other = TripFactory(driver=CustomerFactory())
    assert driver_client.get(f"/portal/trips/{other.pk}/").status_code == 404
    assert driver_client.get("/portal/trips/999999999/").status_code == 404


# --- query counts -----------------------------------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_query_counts_do_not_grow_with_rows(driver_client, scored_driver, django_assert_max_num_queries):
    driver = scored_driver["driver"]
    urls = ["/portal/", "/portal/trips/"]
    trip = TripFactory(driver=driver)
    before = {url: _queries(driver_client, url) for url in urls}
    before_detail = _queries(driver_client, f"/portal/trips/{trip.pk}/")

    today = timezone.localdate()
    for days in range(2, 22):
        RiskScoreFactory(driver=driver, model=scored_driver["model"], as_of=today - dt.timedelta(days=days + 8))
    for _ in range(15):
        TripFactory(driver=driver, device=trip.device)
    after = {url: _queries(driver_client, url) for url in urls}
    assert after == before
    assert _queries(driver_client, f"/portal/trips/{trip.pk}/") == before_detail
    with django_assert_max_num_queries(10):
        driver_client.get("/portal/")
    with django_assert_max_num_queries(6):
        driver_client.get("/portal/trips/")


def test_the_chance_of_a_claim_reads_as_drivers_out_of_a_number_never_1_in_1():
    assert claim_chance(0.074) == ("about 1 in 14", "has")  # 1 - e^-0.074 = 7.1%
    assert claim_chance(0.7) == ("about 5 in 10", "have")  # 50.3%
    assert claim_chance(2.5) == ("about 9 in 10", "have")  # 91.8%, not "1 in 1"
    assert claim_chance(4.0) == ("about 19 in 20", "have")
    assert claim_chance(None) is None and claim_chance(0) is None
