import copy
import datetime as dt

import pytest
from django.core.cache import cache

from apps.partners.selectors import _cache_key
from apps.pricing import services
from apps.risk.models import RiskModel, RiskScore
from tests.risk.factories import RiskScoreFactory

pytestmark = pytest.mark.django_db


def _score_url(side, suffix=""):
    return f"/api/v1/drivers/{side['driver'].pk}/score/{suffix}"


def test_a_warm_score_is_served_from_redis_until_the_driver_is_rescored(
    two_partners, world, django_capture_on_commit_callbacks
):
    a = two_partners["a"]
    driver = a["driver"]
    cache.delete_many([_cache_key("score", driver.pk), _cache_key("explanation", driver.pk)])
    first = a["client"].get(_score_url(a)).json()
    assert cache.get(_cache_key("score", driver.pk)) == first
    explanation = a["client"].get(_score_url(a, "explanation/")).json()
    assert explanation["contributions"][0]["feature"] == "harsh_brake_per_100km"
    assert explanation["contributions"][0]["direction"] == "lowers risk"

    # A new score lands; without the follow-up the cache still answers the old one ...
    latest = RiskScore.objects.filter(driver=driver).latest("as_of")
    RiskScoreFactory(
        driver=driver,
        model=world["model"],
        as_of=latest.as_of + dt.timedelta(days=1),
        safety_score=33,
        band="high",
        relative_risk=2.0,
    )
    assert a["client"].get(_score_url(a)).json()["safety_score"] == first["safety_score"]
    # ... and the rescoring follow-up drops it, so the next read is the new score.
    with django_capture_on_commit_callbacks(execute=True):
        services.driver_scores_changed(driver_ids=[driver.pk])
    assert cache.get(_cache_key("score", driver.pk)) is None
    assert a["client"].get(_score_url(a)).json()["safety_score"] == 33
    assert a["client"].get(_score_url(a, "explanation/")).json()["safety_score"] == 33


def test_a_cache_miss_answers_from_the_database(two_partners):
    a = two_partners["a"]
    cache.delete(_cache_key("score", a["driver"].pk))
    body = a["client"].get(_score_url(a)).json()
    assert body["safety_score"] == 75
    assert body["band"] == "mild"


def test_cache_turned_off_still_answers(two_partners, settings):
    settings.PARTNER_API_CACHE_SECONDS = 0
    a = two_partners["a"]
    cache.delete(_cache_key("score", a["driver"].pk))
    assert a["client"].get(_score_url(a)).json()["safety_score"] == 75
    assert a["client"].get(_score_url(a, "explanation/")).json()["contributions"]
    assert cache.get(_cache_key("score", a["driver"].pk)) is None
    foreign = a["client"].get(_score_url(two_partners["b"]))
    assert (foreign.status_code, foreign.json()["detail"]) == (404, "No such driver.")
    RiskModel.objects.update(is_active=False)  # no score of an active model any more
    unscored = a["client"].get(_score_url(a))
    assert (unscored.status_code, unscored.json()["detail"]) == (
        404,
        "This driver has no score from the active model yet.",
    )


def test_a_redis_outage_still_answers_correctly(two_partners, settings):
    a = two_partners["a"]
    dead = copy.deepcopy(settings.CACHES)
    dead["default"]["LOCATION"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CACHES = dead
    cache.set("probe", 1)
    assert cache.get("probe") is None  # Redis really is unreachable for this test
    for suffix, key in (("", "safety_score"), ("explanation/", "contributions")):
        response = a["client"].get(_score_url(a, suffix))
        assert response.status_code == 200
        assert key in response.json()
    assert a["client"].get(_score_url(a)).json()["safety_score"] == 75
    assert a["client"].get(_score_url(two_partners["b"])).status_code == 404  # isolation does not need Redis


def test_the_one_statement_score_read_matches_the_orm_payload(two_partners):
    from apps.partners.selectors import partner_driver_score_row, score_payload
    from apps.risk.selectors import driver_latest_score

    a, b = two_partners["a"], two_partners["b"]
    driver = a["driver"]
    visible, payload = partner_driver_score_row(partner_id=a["partner"].pk, driver_id=driver.pk)
    assert visible is True
    assert payload == score_payload(driver_latest_score(driver_id=driver.pk))
    assert partner_driver_score_row(partner_id=b["partner"].pk, driver_id=driver.pk) == (False, None)
    RiskModel.objects.update(is_active=False)
    assert partner_driver_score_row(partner_id=a["partner"].pk, driver_id=driver.pk) == (True, None)
