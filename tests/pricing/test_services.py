import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache

from apps.accounts.models import WebhookDelivery
from apps.accounts.selectors import _cache_key, driver_score_cached
from apps.pricing import services
from apps.pricing.models import PremiumChange
from tests.accounts.factories import PartnerFactory, WebhookEndpointFactory
from tests.risk.factories import RiskScoreFactory

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
    monkeypatch.setattr("apps.accounts.webhooks._dispatch", lambda ids: sent.extend(ids))
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
