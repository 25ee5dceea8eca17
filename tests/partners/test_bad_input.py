"""A table of malformed requests: each is a 400 with field errors (never a 500) and stores nothing."""

import pytest

from apps.jobs.models import JobRun
from apps.partners.models import IdempotencyKey, WebhookEndpoint
from apps.pricing.models import Policy, Quote

pytestmark = pytest.mark.django_db

HUGE = 10**30

# (method, path, body or query, the field expected among the errors)
CASES = [
    # wrong types
    ("post", "/api/v1/quotes/", {"driver_id": "abc", "vehicle_category": "SUV", "region": "BY"}, "driver_id"),
    ("post", "/api/v1/quotes/", {"driver_id": [1], "vehicle_category": "SUV", "region": "BY"}, "driver_id"),
    ("post", "/api/v1/quotes/", {"driver_id": "{driver}", "vehicle_category": 5, "region": "BY"}, "vehicle_category"),
    ("post", "/api/v1/quotes/", {"driver_id": "{driver}", "vehicle_category": "SUV", "region": {"a": 1}}, "region"),
    (
        "post",
        "/api/v1/quotes/",
        {"driver_id": "{driver}", "vehicle_category": "SUV", "region": "BY", "kind": "x"},
        "kind",
    ),
    ("post", "/api/v1/quotes/", {"driver_id": True, "vehicle_category": "SUV", "region": "BY"}, "driver_id"),
    ("post", "/api/v1/policies/", {"quote_id": "one"}, "quote_id"),
    ("post", "/api/v1/risk/batch-score/", {"driver_ids": "1,2"}, "driver_ids"),
    ("post", "/api/v1/risk/batch-score/", {"driver_ids": ["a"]}, "driver_ids"),
    ("post", "/api/v1/webhooks/", {"url": 12, "events": ["score.changed"]}, "url"),
    ("post", "/api/v1/webhooks/", {"url": "https://h.example/x", "events": "score.changed"}, "events"),
    # unknown fields
    (
        "post",
        "/api/v1/quotes/",
        {"driver_id": "{driver}", "vehicle_category": "SUV", "region": "BY", "gender": "f"},
        "gender",
    ),
    ("post", "/api/v1/policies/", {"quote_id": 1, "premium": "1.00"}, "premium"),
    ("post", "/api/v1/policies/{policy}/cancel/", {"reason": "x", "refund": True}, "refund"),
    ("post", "/api/v1/risk/batch-score/", {"all": True}, "all"),
    # huge numbers
    ("post", "/api/v1/quotes/", {"driver_id": HUGE, "vehicle_category": "SUV", "region": "BY"}, "driver_id"),
    (
        "post",
        "/api/v1/quotes/",
        {"driver_id": "{driver}", "vehicle_category": "SUV", "region": "BY", "vehicle_age_years": HUGE},
        "vehicle_age_years",
    ),
    ("post", "/api/v1/policies/", {"quote_id": HUGE}, "quote_id"),
    ("post", "/api/v1/risk/batch-score/", {"driver_ids": [HUGE]}, "driver_ids"),
    ("post", "/api/v1/policies/{policy}/cancel/", {"reason": "x" * 5000}, "reason"),
    ("get", "/api/v1/drivers/{driver}/trips/", {"min_distance_km": "1e400"}, "min_distance_km"),
    ("get", "/api/v1/drivers/", {"page_size": "100000"}, "page_size"),
    ("get", "/api/v1/drivers/", {"page": "99999999999999999999"}, "page"),
    # bad dates
    ("post", "/api/v1/policies/", {"quote_id": "{quote}", "starts_on": "2026-02-30"}, "starts_on"),
    ("post", "/api/v1/policies/", {"quote_id": "{quote}", "starts_on": "tomorrow"}, "starts_on"),
    ("get", "/api/v1/drivers/{driver}/score/history/", {"as_of_after": "2026-13-01"}, "as_of_after"),
    ("get", "/api/v1/drivers/{driver}/trips/", {"started_after": "yesterday"}, "started_after"),
    ("get", "/api/v1/policies/", {"starts_after": "99999-01-01"}, "starts_after"),
    ("get", "/api/v1/quotes/", {"created_after": "2026-11-31T10:00"}, "created_after"),
    # missing bodies / missing fields
    ("post", "/api/v1/quotes/", None, "driver_id"),
    ("post", "/api/v1/quotes/", {}, "vehicle_category"),
    ("post", "/api/v1/policies/", None, "quote_id"),
    ("post", "/api/v1/webhooks/", {}, "url"),
    ("post", "/api/v1/quotes/", [], "non_field_errors"),
    # unknown or bad filters
    ("get", "/api/v1/drivers/", {"gender": "female"}, "gender"),
    ("get", "/api/v1/drivers/", {"policy_status": "sleeping"}, "policy_status"),
    ("get", "/api/v1/policies/", {"stauts": "active"}, "stauts"),
    ("get", "/api/v1/quotes/", {"driver_id": "abc"}, "driver_id"),
    ("get", "/api/v1/drivers/{driver}/score/", {"fresh": "1"}, "fresh"),
    ("get", "/api/v1/drivers/{driver}/score/history/", {"band": "purple"}, "band"),
    ("get", "/api/v1/drivers/", {"page": "0"}, "page"),
    ("get", "/api/v1/drivers/", {"page": "abc"}, "page"),
]


def _fill(value, ids):
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, str) and value in ("{driver}", "{quote}", "{policy}"):
        return ids[value[1:-1]]
    if isinstance(value, str):
        return value.format(**ids)
    return value


def _counts():
    return (Quote.objects.count(), Policy.objects.count(), JobRun.objects.count(), WebhookEndpoint.objects.count())


@pytest.mark.parametrize(("method", "path", "payload", "field"), CASES)
def test_malformed_request_is_a_400_with_field_errors(two_partners, method, path, payload, field):
    a = two_partners["a"]
    ids = {"driver": a["driver"].pk, "quote": a["quote"].pk, "policy": a["policy"].pk}
    url = _fill(path, ids)
    before = _counts()
    if method == "get":
        response = a["client"].get(url, _fill(payload, ids))
    else:
        response = a["client"].post(url, _fill(payload, ids), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] in ("invalid", "parse_error")
    assert field in body["errors"], body
    assert _counts() == before
    a["policy"].refresh_from_db()
    assert a["policy"].status == "active"


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("application/json", b"{not json"),
        ("application/json", b'{"driver_id": 1,}'),
        ("application/json", b"\xff\xfe"),
        ("text/plain", b"driver_id=1"),
    ],
)
def test_unparseable_bodies_are_400_or_415_and_store_nothing(two_partners, content_type, raw):
    client = two_partners["a"]["client"]
    before = _counts()
    response = client.generic("POST", "/api/v1/quotes/", raw, content_type=content_type, HTTP_IDEMPOTENCY_KEY="p-1")
    assert response.status_code in (400, 415)
    assert response.json()["type"] in ("parse_error", "unsupported_media_type")
    assert _counts() == before
    assert not IdempotencyKey.objects.filter(key="p-1").exists()


def test_an_id_beyond_bigint_in_the_path_is_a_404_not_a_500(two_partners):
    client = two_partners["a"]["client"]
    for path in ("/api/v1/drivers/{}/", "/api/v1/quotes/{}/", "/api/v1/jobs/{}/", "/api/v1/policies/{}/cancel/"):
        url = path.format(HUGE)
        response = client.post(url, {}, format="json") if "cancel" in url else client.get(url)
        assert response.status_code == 404
