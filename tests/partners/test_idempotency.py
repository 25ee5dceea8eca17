import pytest

from apps.partners.models import IdempotencyKey
from apps.pricing.models import Policy, Quote

pytestmark = pytest.mark.django_db


def _quote_body(side):
    return {"driver_id": side["driver"].pk, "vehicle_category": "SUV", "region": "BY", "kind": "traditional"}


def test_same_key_and_body_replays_the_first_response(two_partners):
    a = two_partners["a"]
    client = a["client"]
    first = client.post(
        f"/api/v1/policies/{a['policy'].pk}/cancel/", {"reason": "moved"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = client.post(
        f"/api/v1/policies/{a['policy'].pk}/cancel/", {"reason": "moved"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    # without the key the second cancel is refused: the replay above really was a replay
    third = client.post(f"/api/v1/policies/{a['policy'].pk}/cancel/", {"reason": "moved"}, format="json")
    assert third.status_code == 400
    assert third.json()["errors"]["code"] == "policy_not_active"


def test_same_key_with_another_body_is_422_and_changes_nothing(two_partners):
    a = two_partners["a"]
    client = a["client"]
    before = Quote.objects.count()
    first = client.post("/api/v1/quotes/", _quote_body(a), format="json", HTTP_IDEMPOTENCY_KEY="q-1")
    assert first.status_code == 201
    other = client.post(
        "/api/v1/quotes/", {**_quote_body(a), "kind": "payd"}, format="json", HTTP_IDEMPOTENCY_KEY="q-1"
    )
    assert other.status_code == 422
    assert other.json()["type"] == "idempotency_key_reused"
    assert Quote.objects.count() == before + 1


def test_a_bound_policy_is_not_bound_twice_on_retry(two_partners):
    a = two_partners["a"]
    client = a["client"]
    client.post(f"/api/v1/policies/{a['policy'].pk}/cancel/", {}, format="json")
    quote = client.post("/api/v1/quotes/", _quote_body(a), format="json").json()
    body = {"quote_id": quote["id"]}
    first = client.post("/api/v1/policies/", body, format="json", HTTP_IDEMPOTENCY_KEY="bind-1")
    second = client.post("/api/v1/policies/", body, format="json", HTTP_IDEMPOTENCY_KEY="bind-1")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert Policy.objects.filter(quote_id=quote["id"]).count() == 1


def test_keys_belong_to_one_partner(two_partners):
    a, b = two_partners["a"], two_partners["b"]
    ra = a["client"].post("/api/v1/quotes/", _quote_body(a), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    rb = b["client"].post("/api/v1/quotes/", _quote_body(b), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert ra.status_code in (200, 201) and rb.status_code in (200, 201)
    assert ra.json()["driver_id"] != rb.json()["driver_id"]


def test_an_error_response_is_replayed_too(two_partners):
    client = two_partners["a"]["client"]
    first = client.post("/api/v1/quotes/", {"driver_id": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="bad-1")
    again = client.post("/api/v1/quotes/", {"driver_id": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="bad-1")
    assert first.status_code == again.status_code == 400
    assert again.json()["errors"] == first.json()["errors"]


def test_a_key_still_in_flight_is_409(two_partners):
    a = two_partners["a"]
    client = a["client"]
    first = client.post("/api/v1/quotes/", _quote_body(a), format="json", HTTP_IDEMPOTENCY_KEY="inflight")
    IdempotencyKey.objects.filter(key="inflight").update(response_status=None, response_body=None)
    again = client.post("/api/v1/quotes/", _quote_body(a), format="json", HTTP_IDEMPOTENCY_KEY="inflight")
    assert first.status_code == 201
    assert again.status_code == 409


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "tab\tkey"])
def test_a_malformed_key_is_400(two_partners, key):
    a = two_partners["a"]
    response = a["client"].post("/api/v1/quotes/", _quote_body(a), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]


def _age_key(key: str, seconds: int) -> None:
    import datetime as dt

    from django.utils import timezone

    IdempotencyKey.objects.filter(key=key).update(created_at=timezone.now() - dt.timedelta(seconds=seconds))


def test_a_key_replayed_after_it_expired_is_a_new_request(two_partners, settings):
    settings.IDEMPOTENCY_KEY_TTL_SECONDS = 3600
    a = two_partners["a"]
    client = a["client"]
    first = client.post("/api/v1/quotes/", _quote_body(a), format="json", HTTP_IDEMPOTENCY_KEY="old-1")
    _age_key("old-1", 3599)
    within = client.post("/api/v1/quotes/", _quote_body(a), format="json", HTTP_IDEMPOTENCY_KEY="old-1")
    assert within["Idempotent-Replayed"] == "true" and within.json()["id"] == first.json()["id"]
    _age_key("old-1", 3601)
    # Expired: processed again (a second quote), not replayed, even with another body.
    after = client.post(
        "/api/v1/quotes/", {**_quote_body(a), "kind": "payd"}, format="json", HTTP_IDEMPOTENCY_KEY="old-1"
    )
    assert after.status_code == 201 and "Idempotent-Replayed" not in after
    assert after.json()["id"] != first.json()["id"]
    assert Quote.objects.filter(pk__in=[first.json()["id"], after.json()["id"]]).count() == 2
    # ... and the key now replays the new response for a fresh TTL.
    record = IdempotencyKey.objects.get(key="old-1")
    assert record.response_body["id"] == after.json()["id"]
    again = client.post(
        "/api/v1/quotes/", {**_quote_body(a), "kind": "payd"}, format="json", HTTP_IDEMPOTENCY_KEY="old-1"
    )
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == after.json()["id"]


def test_a_key_stuck_in_flight_past_its_ttl_is_a_new_request(two_partners, settings):
    settings.IDEMPOTENCY_KEY_TTL_SECONDS = 60
    a = two_partners["a"]
    client = a["client"]
    client.post("/api/v1/quotes/", _quote_body(a), format="json", HTTP_IDEMPOTENCY_KEY="stuck")
    IdempotencyKey.objects.filter(key="stuck").update(response_status=None, response_body=None)
    _age_key("stuck", 61)
    retried = client.post("/api/v1/quotes/", _quote_body(a), format="json", HTTP_IDEMPOTENCY_KEY="stuck")
    assert retried.status_code in (200, 201) and "Idempotent-Replayed" not in retried  # not a 409
    assert IdempotencyKey.objects.get(key="stuck").response_status == retried.status_code


def test_the_sweep_deletes_only_expired_keys(two_partners, settings):
    from apps.partners.tasks import idempotency_keys_expire

    settings.IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600
    a, b = two_partners["a"], two_partners["b"]
    for side, key in ((a, "fresh"), (a, "stale"), (b, "stale")):
        side["client"].post("/api/v1/quotes/", _quote_body(side), format="json", HTTP_IDEMPOTENCY_KEY=key)
    _age_key("stale", 24 * 3600 + 1)
    assert idempotency_keys_expire.delay().get() == 2
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


def test_the_expiry_sweep_is_on_beats_schedule():
    from celery.schedules import schedule
    from django.conf import settings

    from fleetops.celery import app

    entry = app.conf.beat_schedule["partners.idempotency_keys_expire"]
    assert entry["task"] in app.tasks
    assert settings.IDEMPOTENCY_KEY_TTL_SECONDS == 24 * 3600
    assert schedule(entry["schedule"]).run_every.total_seconds() <= 3600
