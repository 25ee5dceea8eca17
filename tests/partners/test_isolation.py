"""Every partner endpoint, walked with two partners: A's own objects answer, B's are 404s with the
same body as an id that does not exist, and lists never show B's rows."""

import pytest
from django.urls import get_resolver

from apps.pricing.models import PartnerJob
from tests.jobs.factories import JobRunFactory
from tests.partners.factories import WebhookEndpointFactory

pytestmark = pytest.mark.django_db

MISSING = 9_000_000_000


def _objects(side):
    job = JobRunFactory(kind="risk.score_drivers")
    PartnerJob.objects.create(partner=side["partner"], job=job)
    hook = WebhookEndpointFactory(partner=side["partner"])
    return {
        "driver": side["driver"].pk,
        "quote": side["quote"].pk,
        "policy": side["policy"].pk,
        "job": job.pk,
        "hook": hook.pk,
    }


# (method, path template, body template, status for the owner)
ENDPOINTS = [
    ("get", "/api/v1/drivers/{driver}/", None, 200),
    ("get", "/api/v1/drivers/{driver}/score/", None, 200),
    ("get", "/api/v1/drivers/{driver}/score/explanation/", None, 200),
    ("get", "/api/v1/drivers/{driver}/score/history/", None, 200),
    ("get", "/api/v1/drivers/{driver}/trips/", None, 200),
    ("get", "/api/v1/quotes/{quote}/", None, 200),
    ("post", "/api/v1/quotes/", {"driver_id": "{driver}", "vehicle_category": "SUV", "region": "BY"}, 201),
    ("get", "/api/v1/policies/{policy}/", None, 200),
    ("post", "/api/v1/policies/", {"quote_id": "{quote}"}, 400),  # the owner's quote is bound already
    ("post", "/api/v1/policies/{policy}/cancel/", {"reason": "walk"}, 200),
    ("post", "/api/v1/risk/batch-score/", {"driver_ids": ["{driver}"]}, 202),
    ("get", "/api/v1/jobs/{job}/", None, 200),
    ("get", "/api/v1/webhooks/{hook}/", None, 200),
    ("delete", "/api/v1/webhooks/{hook}/", None, 200),
]
LISTS = [
    ("/api/v1/drivers/", "id", "driver"),
    ("/api/v1/quotes/", "id", "quote"),
    ("/api/v1/policies/", "id", "policy"),
    ("/api/v1/webhooks/", "id", "hook"),
]


def _fill(template, ids):
    if template is None:
        return None
    if isinstance(template, dict):
        return {k: _fill(v, ids) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, ids) for v in template]
    if isinstance(template, str) and template.startswith("{") and template.endswith("}"):
        return ids[template[1:-1]]
    return template.format(**ids) if isinstance(template, str) else template


def _call(client, method, path, body):
    if method == "get":
        return client.get(path)
    if method == "delete":
        return client.delete(path)
    return client.post(path, body or {}, format="json")


def test_the_walk_covers_every_partner_api_route():
    walked = {path for _, path, _, _ in ENDPOINTS} | {path for path, _, _ in LISTS}
    normalised = set()
    for path in walked:
        for name in ("driver", "quote", "policy", "job", "hook"):
            path = path.replace("{" + name + "}", "<id>")
        normalised.add(path)
    routes = set()
    api = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "api")
    for include in api.url_patterns:
        if getattr(include.urlconf_module, "__name__", include.urlconf_name) in (
            "apps.telematics.api.urls",  # device uploads
            "apps.ops.api.urls",  # staff metrics
        ):
            continue
        for pattern in include.url_patterns:
            route = "/api/v1/" + str(include.pattern) + str(pattern.pattern)
            for conv in ("<int:driver_id>", "<int:quote_id>", "<int:policy_id>", "<int:job_id>", "<int:endpoint_id>"):
                route = route.replace(conv, "<id>")
            routes.add(route)
    assert routes - normalised == set()


@pytest.mark.parametrize(("method", "path", "body", "owner_status"), ENDPOINTS)
def test_another_partners_object_is_a_404_like_a_missing_one(two_partners, method, path, body, owner_status):
    a, b = two_partners["a"], two_partners["b"]
    own, theirs = _objects(a), _objects(b)
    missing = dict.fromkeys(own, MISSING)

    foreign = _call(a["client"], method, _fill(path, theirs), _fill(body, theirs))
    absent = _call(a["client"], method, _fill(path, missing), _fill(body, missing))
    assert foreign.status_code == 404, foreign.content
    assert absent.status_code == 404, absent.content
    assert foreign.json()["type"] == absent.json()["type"] == "not_found"
    # the same words, apart from the id asked for
    assert foreign.json()["detail"].replace(str(theirs.get("driver")), "?") == absent.json()["detail"].replace(
        str(MISSING), "?"
    )

    # and the owner gets its object: the 404 above is isolation, not a broken endpoint
    mine = _call(b["client"], method, _fill(path, theirs), _fill(body, theirs))
    assert mine.status_code == owner_status, mine.content


@pytest.mark.parametrize(("path", "key", "name"), LISTS)
def test_lists_show_only_the_partners_own_rows(two_partners, path, key, name):
    a, b = two_partners["a"], two_partners["b"]
    own, theirs = _objects(a), _objects(b)
    ids = {row[key] for row in a["client"].get(path).json()["results"]}
    assert own[name] in ids
    assert theirs[name] not in ids


def test_a_driver_insured_by_both_partners_is_visible_to_both_but_policies_are_not(two_partners, world):
    from apps.pricing import services

    a, b = two_partners["a"], two_partners["b"]
    shared = a["driver"]
    quote = services.quote_create(
        driver=shared,
        vehicle_category=world["category"],
        region=world["region"],
        kind="traditional",
        partner=b["partner"],
    )
    services.policy_bind(quote=quote, partner=b["partner"])
    assert b["client"].get(f"/api/v1/drivers/{shared.pk}/score/").status_code == 200
    assert b["client"].get(f"/api/v1/policies/{a['policy'].pk}/").status_code == 404
    assert b["client"].get(f"/api/v1/quotes/{a['quote'].pk}/").status_code == 404
