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
