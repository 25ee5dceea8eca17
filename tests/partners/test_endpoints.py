import pytest

from apps.jobs.models import JobRun
from apps.pricing.models import PartnerJob, Policy

pytestmark = pytest.mark.django_db


def test_drivers_list_and_filters(two_partners):
    a = two_partners["a"]
    client = a["client"]
    body = client.get("/api/v1/drivers/").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row == {
        "id": a["driver"].pk,
        "first_name": a["driver"].first_name,
        "last_name": a["driver"].last_name,
        "city": "Berlin",
        "licence_since": "2012-05-01",
        "has_active_policy": True,
    }
    assert "gender" not in row and "birth_year" not in row
    assert client.get("/api/v1/drivers/", {"policy_status": "cancelled"}).json()["count"] == 0
    assert client.get("/api/v1/drivers/", {"city": "berlin"}).json()["count"] == 1
    client.post(f"/api/v1/policies/{a['policy'].pk}/cancel/", {"reason": "x"}, format="json")
    # a past policy keeps the driver visible (documented rule), now without an active policy
    body = client.get("/api/v1/drivers/", {"policy_status": "cancelled"}).json()
    assert [r["has_active_policy"] for r in body["results"]] == [False]


def test_driver_detail_trips_and_history(two_partners):
    a = two_partners["a"]
    client = a["client"]
    detail = client.get(f"/api/v1/drivers/{a['driver'].pk}/").json()
    assert detail["score"]["safety_score"] == 75
    assert detail["policy_ids"] == [a["policy"].pk]
    trips = client.get(f"/api/v1/drivers/{a['driver'].pk}/trips/").json()
    assert trips["count"] == 2
    assert client.get(f"/api/v1/drivers/{a['driver'].pk}/trips/", {"min_distance_km": "100"}).json()["count"] == 0
    history = client.get(f"/api/v1/drivers/{a['driver'].pk}/score/history/").json()
    assert [h["safety_score"] for h in history["results"]] == [75]
    assert client.get(f"/api/v1/drivers/{a['driver'].pk}/score/history/", {"band": "high"}).json()["count"] == 0


def test_quote_then_bind_then_cancel(two_partners):
    a = two_partners["a"]
    client = a["client"]
    assert client.post(f"/api/v1/policies/{a['policy'].pk}/cancel/", {}, format="json").status_code == 200
    body = {"driver_id": a["driver"].pk, "vehicle_category": "SUV", "region": "BY", "kind": "payd"}
    first = client.post("/api/v1/quotes/", body, format="json")
    assert first.status_code == 201
    quote = first.json()
    assert quote["kind"] == "payd"
    assert quote["rate_plan"] == {"name": "standard", "version": 1}
    assert [s["step"] for s in quote["breakdown"]][-2:] == ["annual_premium", "daily_price"]
    # the same inputs give the same quote
    again = client.post("/api/v1/quotes/", body, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == quote["id"]
    assert client.get(f"/api/v1/quotes/{quote['id']}/").json()["annual_premium"] == quote["annual_premium"]

    bound = client.post("/api/v1/policies/", {"quote_id": quote["id"]}, format="json")
    assert bound.status_code == 201
    policy = bound.json()
    assert policy["annual_premium"] == quote["annual_premium"]
    assert [h["reason"] for h in policy["premium_history"]] == ["bound"]
    twice = client.post("/api/v1/policies/", {"quote_id": quote["id"]}, format="json")
    assert twice.status_code == 400
    assert twice.json()["errors"]["code"] == "quote_already_bound"
    assert client.get("/api/v1/policies/", {"status": "active"}).json()["count"] == 1
    cancelled = client.post(f"/api/v1/policies/{policy['id']}/cancel/", {"reason": "moved"}, format="json")
    assert cancelled.json()["status"] == "cancelled"
    assert Policy.objects.get(pk=policy["id"]).cancel_reason == "moved"


def test_batch_score_answers_202_and_the_job_is_readable_by_its_partner_only(two_partners):
    a, b = two_partners["a"], two_partners["b"]
    response = a["client"].post("/api/v1/risk/batch-score/", {}, format="json")
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    run = JobRun.objects.get(pk=job_id)
    assert run.kind == "risk.score_drivers"
    assert run.parameters["driver_ids"] == [a["driver"].pk]
    assert PartnerJob.objects.get(job=run).partner == a["partner"]
    job = a["client"].get(f"/api/v1/jobs/{job_id}/").json()
    assert job["status"] == "queued"
    assert "error" not in job
    assert b["client"].get(f"/api/v1/jobs/{job_id}/").status_code == 404
    # the same batch again while it is queued
    again = a["client"].post("/api/v1/risk/batch-score/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["job_id"] == job_id


def test_two_partners_rescoring_a_shared_driver_at_once_both_get_their_own_job(two_partners, world):
    """The live-run uniqueness was global: the second partner got a 409 and so learnt of (and
    could block) the other's batch."""
    from apps.pricing import services as pricing_services

    a, b = two_partners["a"], two_partners["b"]
    shared = a["driver"]
    quote = pricing_services.quote_create(
        driver=shared, vehicle_category=world["category"], region=world["region"], kind="phyd", partner=b["partner"]
    )
    pricing_services.policy_bind(quote=quote, partner=b["partner"])
    body = {"driver_ids": [shared.pk]}
    first = a["client"].post("/api/v1/risk/batch-score/", body, format="json")
    second = b["client"].post("/api/v1/risk/batch-score/", body, format="json")
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["job_id"] != second.json()["job_id"]
    again = b["client"].post("/api/v1/risk/batch-score/", body, format="json")
    assert again.status_code == 409 and again.json()["job_id"] == second.json()["job_id"]
