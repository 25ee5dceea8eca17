import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.common.exceptions import ApplicationError
from apps.customers.models import Customer, TelematicsConsent
from apps.partners.models import WebhookDelivery
from apps.partners.selectors import _cache_key, driver_score_cached
from apps.pricing import services
from apps.pricing.models import PremiumChange, Quote
from apps.pricing.selectors import premium_history
from apps.risk.models import RiskModel, RiskScore
from apps.telematics.models import DriverFeatures
from tests.customers.factories import CustomerFactory
from tests.fleet.factories import VehicleCategoryFactory
from tests.partners.factories import PartnerFactory, WebhookEndpointFactory
from tests.regions.factories import RegionFactory
from tests.risk.factories import RiskScoreFactory
from tests.telematics.factories import TripFactory

pytestmark = pytest.mark.django_db


def test_phyd_quote_applies_the_documented_curve(world):
    quote = services.quote_create(
        driver=world["driver"], vehicle_category=world["category"], region=world["region"], kind="phyd"
    )
    # base 900 (SUV/BY), 16 years licensed -> 1.00, vehicle 0 years -> 1.00
    assert quote.traditional_premium == Decimal("900.00")
    # 0.64 ** 0.5 = 0.8
    assert quote.telematics_factor == Decimal("0.8000")
    assert quote.telematics_premium == Decimal("720.00")
    assert quote.discount == Decimal("180.00")
    assert quote.annual_premium == Decimal("720.00")
    assert quote.daily_price == Decimal("2.56")  # 720 / 365 * 1.3
    assert quote.risk_score == world["score"]
    assert quote.inputs["risk_score"]["model_version"] == world["model"].version
    assert quote.inputs["rate_plan"]["version"] == 1
    assert [r["text"] for r in quote.reasons] == ["Few harsh brakes", "Little night driving"]
    assert [s["step"] for s in quote.breakdown][:4] == [
        "base_premium",
        "experience_factor",
        "vehicle_age_factor",
        "traditional_premium",
    ]


def test_driver_scores_changed_requotes_records_history_sends_webhook_and_drops_cache(
    world, django_capture_on_commit_callbacks, monkeypatch
):
    partner = PartnerFactory()
    WebhookEndpointFactory(partner=partner, events=["score.changed", "policy.updated"])
    quote = services.quote_create(
        driver=world["driver"],
        vehicle_category=world["category"],
        region=world["region"],
        kind="phyd",
        partner=partner,
    )
    policy = services.policy_bind(quote=quote, partner=partner)
    assert driver_score_cached(driver_id=world["driver"].pk)["safety_score"] == 82
    # A newer, worse score of the active model.
    RiskScoreFactory(
        driver=world["driver"],
        model=world["model"],
        as_of=world["score"].as_of + dt.timedelta(days=1),
        relative_risk=1.96,
        safety_score=40,
        band="high",
    )
    sent = []
    monkeypatch.setattr("apps.partners.tasks.webhook_deliveries_dispatch", lambda ids: sent.extend(ids))
    with django_capture_on_commit_callbacks(execute=True):
        services.driver_scores_changed(driver_ids=[world["driver"].pk])
    policy.refresh_from_db()
    assert policy.annual_premium == Decimal("1260.00")  # 900 * 1.4 (1.96 ** 0.5, clamped)
    history = list(PremiumChange.objects.filter(policy=policy).order_by("created_at", "id"))
    assert [(h.reason, h.previous_premium, h.annual_premium) for h in history] == [
        ("bound", None, Decimal("720.00")),
        ("requote", Decimal("720.00"), Decimal("1260.00")),
    ]
    types = sorted(WebhookDelivery.objects.values_list("event_type", flat=True))
    assert types == ["policy.updated", "policy.updated", "score.changed"]
    assert cache.get(_cache_key("score", world["driver"].pk)) is None
    assert driver_score_cached(driver_id=world["driver"].pk)["safety_score"] == 40


PROTECTED_COLUMNS = ("gender", "birth_year", "yearly_income", "total_debt", "credit_score", "email", "phone")


def test_no_protected_attribute_is_read_or_stored_in_the_inputs(world):
    with CaptureQueriesContext(connection) as ctx:
        quote = services.quote_create(
            driver=world["driver"], vehicle_category=world["category"], region=world["region"], kind="phyd"
        )
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    for column in PROTECTED_COLUMNS:
        assert f'"{column}"' not in sql, column
    assert set(quote.inputs) == {
        "driver_id",
        "partner_id",
        "kind",
        "as_of",
        "vehicle_category_id",
        "vehicle_category",
        "region_id",
        "region",
        "vehicle_age_years",
        "licence_years",
        "rate_plan",
        "telematics_consent",
        "window_days",
        "trips_in_window",
        "km_in_window",
        "mileage_source",
        "risk_score",
    }


def test_changing_gender_or_birth_year_changes_nothing(world):
    first = services.quote_create(driver=world["driver"], vehicle_category=world["category"], region=world["region"])
    Customer.objects.filter(pk=world["driver"].pk).update(gender="male", birth_year=1950)
    second = services.quote_create(driver=world["driver"], vehicle_category=world["category"], region=world["region"])
    assert second.pk == first.pk
    assert second.inputs_hash == first.inputs_hash


def test_the_same_inputs_give_the_same_quote_and_other_inputs_another(world):
    args = {"driver": world["driver"], "vehicle_category": world["category"], "region": world["region"]}
    first = services.quote_create(**args, kind="phyd")
    assert services.quote_create(**args, kind="phyd").pk == first.pk
    assert services.quote_create(**args, kind="traditional").pk != first.pk
    assert services.quote_create(**args, kind="phyd", vehicle_age_years=4).pk != first.pk
    # an expired quote is not handed out again
    later = first.valid_until + dt.timedelta(seconds=1)
    with mock.patch.object(timezone, "now", return_value=later):
        assert services.quote_create(**args, kind="phyd").pk != first.pk


def test_the_database_refuses_to_change_a_quote(world):
    from django.db import IntegrityError, transaction

    quote = services.quote_create(driver=world["driver"], vehicle_category=world["category"], region=world["region"])
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        Quote.objects.filter(pk=quote.pk).update(annual_premium=Decimal("1.00"))
    quote.refresh_from_db()
    assert quote.annual_premium != Decimal("1.00")


def test_phyd_discount_never_exceeds_the_plan_bound(world):
    RiskScore.objects.filter(pk=world["score"].pk).update(relative_risk=0.01)
    quote = services.quote_create(driver=world["driver"], vehicle_category=world["category"], region=world["region"])
    assert quote.telematics_factor == Decimal("0.5500")
    assert quote.annual_premium == Decimal("495.00")
    assert "clamped to 0.5500" in next(s for s in quote.breakdown if s["step"] == "telematics_factor")["label"]


def test_payd_is_a_fixed_share_plus_annualised_km(world):
    quote = services.quote_create(
        driver=world["driver"], vehicle_category=world["category"], region=world["region"], kind="payd"
    )
    # 900 x 0.6 = 540; 3000 km in 90 days = 12166.67 km a year x 0.03 = 365.00
    assert quote.payd_part == Decimal("365.00")
    assert quote.per_km_rate == Decimal("0.0300")
    assert quote.telematics_premium == Decimal("905.00")
    assert quote.annual_premium == Decimal("905.00")
    assert quote.reasons == []


@pytest.mark.parametrize("missing", ["consent", "trips", "km", "score"])
def test_an_ineligible_driver_gets_the_traditional_premium_with_the_reason(world, missing):
    driver = world["driver"]
    if missing == "consent":
        TelematicsConsent.objects.filter(customer=driver).update(withdrawn_at=timezone.now())
    elif missing == "trips":
        DriverFeatures.objects.filter(driver=driver).update(trips=5)
    elif missing == "km":
        DriverFeatures.objects.filter(driver=driver).update(km=120.0)
    else:
        RiskModel.objects.filter(pk=world["model"].pk).update(is_active=False)
    quote = services.quote_create(driver=driver, vehicle_category=world["category"], region=world["region"])
    assert quote.annual_premium == quote.traditional_premium == Decimal("900.00")
    assert quote.telematics_factor == Decimal("1")
    step = next(s for s in quote.breakdown if s["step"] == "eligibility")
    assert step["eligible"] is False
    assert step["label"].startswith("Traditional premium only: ")


def test_mileage_falls_back_to_trips_when_features_are_stale(world):
    DriverFeatures.objects.filter(driver=world["driver"]).delete()
    for _ in range(3):
        TripFactory(driver=world["driver"], distance_km=10.0)
    quote = services.quote_create(driver=world["driver"], vehicle_category=world["category"], region=world["region"])
    assert quote.inputs["mileage_source"] == "trips"
    assert (quote.inputs["trips_in_window"], quote.inputs["km_in_window"]) == (3, 30.0)
    assert quote.annual_premium == Decimal("900.00")  # 3 trips: not eligible


def test_experience_vehicle_age_and_minimum_premium(world, plan):
    Customer.objects.filter(pk=world["driver"].pk).update(licence_since=timezone.localdate() - dt.timedelta(days=400))
    plan.vehicle_age_factors = [{"min_years": 0, "factor": "1.00"}, {"min_years": 5, "factor": "1.10"}]
    plan.save()
    quote = services.quote_create(
        driver=world["driver"],
        vehicle_category=world["category"],
        region=world["region"],
        kind="traditional",
        vehicle_age_years=7,
    )
    assert quote.traditional_premium == Decimal("1584.00")  # 900 x 1.60 x 1.10
    plan.minimum_premium = Decimal("2000.00")
    plan.save()
    quote = services.quote_create(
        driver=world["driver"],
        vehicle_category=world["category"],
        region=world["region"],
        kind="traditional",
        vehicle_age_years=7,
    )
    assert quote.annual_premium == Decimal("2000.00")


def test_base_premium_falls_back_to_star_keys(world):
    other_region = RegionFactory(code="HH")
    assert services.quote_create(
        driver=world["driver"], vehicle_category=world["category"], region=other_region, kind="traditional"
    ).traditional_premium == Decimal("800.00")  # SUV/*
    assert services.quote_create(
        driver=world["driver"],
        vehicle_category=VehicleCategoryFactory(code="MINI"),
        region=other_region,
        kind="traditional",
    ).traditional_premium == Decimal("600.00")  # */*


def test_a_new_rate_plan_version_applies_from_its_date(world, plan):
    new = services.rate_plan_new_version(plan=plan)
    assert (new.version, new.effective_from) == (2, timezone.localdate() + dt.timedelta(days=1))
    assert new.base_premiums == plan.base_premiums
    new.base_premiums = {"*": {"*": "1000.00"}}
    new.save()
    today = services.quote_create(
        driver=world["driver"], vehicle_category=world["category"], region=world["region"], kind="traditional"
    )
    tomorrow = services.quote_create(
        driver=world["driver"],
        vehicle_category=world["category"],
        region=world["region"],
        kind="traditional",
        as_of=timezone.localdate() + dt.timedelta(days=1),
    )
    assert (today.rate_plan_id, today.traditional_premium) == (plan.pk, Decimal("900.00"))
    assert (tomorrow.rate_plan_id, tomorrow.traditional_premium) == (new.pk, Decimal("1000.00"))
    with pytest.raises(ApplicationError):
        services.rate_plan_new_version(plan=plan, effective_from=timezone.localdate())


def test_requote_is_idempotent_and_the_history_selector_lists_changes(world):
    partner = PartnerFactory()
    quote = services.quote_create(
        driver=world["driver"], vehicle_category=world["category"], region=world["region"], partner=partner
    )
    policy = services.policy_bind(quote=quote, partner=partner)
    assert services.policies_requote(driver_ids=[world["driver"].pk]) == {"policies": 1, "changed": 0}
    RiskScore.objects.filter(pk=world["score"].pk).update(relative_risk=0.81)
    assert services.policies_requote(driver_ids=[world["driver"].pk]) == {"policies": 1, "changed": 1}
    assert services.policies_requote(driver_ids=[world["driver"].pk]) == {"policies": 1, "changed": 0}
    history = list(premium_history(driver_id=world["driver"].pk))
    assert [(h.reason, h.annual_premium) for h in history] == [
        ("requote", Decimal("810.00")),  # 900 x 0.9
        ("bound", Decimal("720.00")),
    ]
    policy.refresh_from_db()
    assert policy.annual_premium == Decimal("810.00")


def test_a_requote_that_moves_the_premium_tells_the_driver_once(world):
    from apps.customers.models import Notification

    partner = PartnerFactory()
    quote = services.quote_create(
        driver=world["driver"], vehicle_category=world["category"], region=world["region"], partner=partner
    )
    services.policy_bind(quote=quote, partner=partner)
    services.policies_requote(driver_ids=[world["driver"].pk])  # nothing moved: nothing to tell
    assert not Notification.objects.exists()
    RiskScore.objects.filter(pk=world["score"].pk).update(relative_risk=0.81)
    services.policies_requote(driver_ids=[world["driver"].pk])
    services.policies_requote(driver_ids=[world["driver"].pk])
    note = Notification.objects.get()
    change = PremiumChange.objects.get(reason="requote")
    assert (note.customer_id, note.kind) == (world["driver"].pk, "premium_changed")
    assert note.dedupe_key == f"premium:{change.pk}"
    assert note.title == "Premium up to €810.00 a year"
    assert note.body.startswith("Your annual premium went from €720.00 to €810.00 (€90.00 more)")


@pytest.mark.parametrize(("threshold", "told"), [("10", True), ("90.01", False)])
def test_a_requote_is_told_only_when_the_premium_moves_by_the_threshold(world, settings, threshold, told):
    from apps.customers.models import Notification

    settings.NOTIFY_PREMIUM_CHANGE_MIN = Decimal(threshold)
    partner = PartnerFactory()
    quote = services.quote_create(
        driver=world["driver"], vehicle_category=world["category"], region=world["region"], partner=partner
    )
    services.policy_bind(quote=quote, partner=partner)
    RiskScore.objects.filter(pk=world["score"].pk).update(relative_risk=0.81)  # €720 -> €810
    assert services.policies_requote(driver_ids=[world["driver"].pk]) == {"policies": 1, "changed": 1}
    assert PremiumChange.objects.filter(reason="requote").count() == 1  # stored either way
    assert Notification.objects.filter(kind="premium_changed").exists() is told


def test_requote_in_bulk_uses_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    partner = PartnerFactory()
    for _ in range(6):
        driver = CustomerFactory()
        q = services.quote_create(
            driver=driver,
            vehicle_category=world["category"],
            region=world["region"],
            partner=partner,
            kind="traditional",
        )
        services.policy_bind(quote=q, partner=partner)
    with django_assert_max_num_queries(20):
        result = services.policies_requote()
    assert result["policies"] == 6


def test_after_a_cancel_the_same_inputs_give_a_fresh_bindable_quote(world):
    partner = PartnerFactory()
    args = {"driver": world["driver"], "vehicle_category": world["category"], "region": world["region"]}
    first = services.quote_create(**args, partner=partner)
    services.policy_cancel(policy=services.policy_bind(quote=first, partner=partner))
    second = services.quote_create(**args, partner=partner)
    assert second.pk != first.pk
    assert second.inputs_hash == first.inputs_hash
    assert services.policy_bind(quote=second, partner=partner).status == "active"


def test_policies_bind_bulk_skips_drivers_with_an_active_policy(world):
    partner = PartnerFactory()
    drivers = [world["driver"], *CustomerFactory.create_batch(3)]
    requests = [
        services.QuoteRequest(
            driver_id=d.pk,
            vehicle_category_id=world["category"].pk,
            region_id=world["region"].pk,
            kind="phyd",
            partner_id=partner.pk,
        )
        for d in drivers
    ]
    created = services.policies_bind_bulk(partner=partner, requests=requests)
    assert len(created) == 4
    assert {p.annual_premium for p in created} == {Decimal("720.00"), Decimal("900.00")}
    assert PremiumChange.objects.filter(partner=partner, reason="bound").count() == 4
    assert services.policies_bind_bulk(partner=partner, requests=requests) == []


def test_a_cancel_closes_the_premium_history(world):
    partner = PartnerFactory()
    quote = services.quote_create(
        driver=world["driver"], vehicle_category=world["category"], region=world["region"], partner=partner
    )
    policy = services.policy_bind(quote=quote, partner=partner)
    RiskScore.objects.filter(pk=world["score"].pk).update(relative_risk=0.81)
    services.policies_requote(driver_ids=[world["driver"].pk])
    services.policy_cancel(policy=policy, reason="moved abroad")

    history = list(premium_history(driver_id=world["driver"].pk))
    assert [(h.reason, h.previous_premium, h.annual_premium) for h in history] == [
        ("cancelled", Decimal("810.00"), Decimal("0.00")),
        ("requote", Decimal("720.00"), Decimal("810.00")),
        ("bound", None, Decimal("720.00")),
    ]
    policy.refresh_from_db()
    assert history[0].created_at == policy.cancelled_at
    assert history[0].quote_id == history[1].quote_id  # priced on the quote it was last priced on
    with pytest.raises(ApplicationError):
        services.policy_cancel(policy=policy)
    assert len(premium_history(driver_id=world["driver"].pk)) == 3  # a refused cancel writes nothing


def test_requote_of_chosen_policies_leaves_the_drivers_other_policies_alone(world):
    first, second = PartnerFactory(), PartnerFactory()
    args = {"driver": world["driver"], "vehicle_category": world["category"], "region": world["region"]}
    mine = services.policy_bind(quote=services.quote_create(**args, partner=first), partner=first)
    theirs = services.policy_bind(quote=services.quote_create(**args, partner=second), partner=second)
    RiskScore.objects.filter(pk=world["score"].pk).update(relative_risk=0.81)

    assert services.policies_requote(policy_ids=[mine.pk]) == {"policies": 1, "changed": 1}
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.annual_premium, theirs.annual_premium) == (Decimal("810.00"), Decimal("720.00"))
