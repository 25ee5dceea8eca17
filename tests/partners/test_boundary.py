"""The API's exception boundary: input that used to reach a parser, an encoder or the database
and come back as Django's HTML "Server Error (500)" is a 400 in the API's format naming the field;
oversized bodies and too many fields are 413; unknown paths, bad ids and missing methods are JSON
404/405; echoed input is cut."""

import json

import pytest
from rest_framework.test import APIClient

from apps.jobs.models import JobRun
from apps.partners.models import WebhookEndpoint
from apps.pricing.models import Policy, Quote

pytestmark = pytest.mark.django_db


def _counts():
    return (Quote.objects.count(), Policy.objects.count(), JobRun.objects.count(), WebhookEndpoint.objects.count())


def _is_api_error(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert body["status"] == status and body["type"] and body["request_id"] == response["X-Request-ID"]
    assert ("errors" in body) != ("detail" in body)
    return body


def _raw_post(client, path, raw: bytes, content_type="application/json"):
    return client.generic("POST", path, raw, content_type=content_type)


def test_deeply_nested_json_is_a_400_naming_the_body(two_partners):
    client = two_partners["a"]["client"]
    before = _counts()
    raw = b'{"driver_ids": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    body = _is_api_error(_raw_post(client, "/api/v1/risk/batch-score/", raw), 400)
    assert "body" in body["errors"] or "driver_ids" in body["errors"]
    nested = {"driver_ids": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
    body = _is_api_error(client.post("/api/v1/risk/batch-score/", nested, format="json"), 400)
    assert any(key.startswith("driver_ids") for key in body["errors"])
    assert _counts() == before


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"url": "https://a.example/\\ud800", "events": ["score.changed"]}', "url"),
        (b'{"url": "https://a.example/x", "events": ["score.changed", "\\udfff"]}', "events.1"),
        (b'{"\\ud800": 1}', "\\ud800"),
        (b'{"url": "https://a.example/\\u0000", "events": ["score.changed"]}', "url"),
    ],
)
def test_lone_surrogates_and_nul_in_json_are_a_400_naming_the_field(two_partners, raw, field):
    client = two_partners["a"]["client"]
    before = _counts()
    body = _is_api_error(_raw_post(client, "/api/v1/webhooks/", raw), 400)
    assert field in body["errors"], body
    assert _counts() == before


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("region=BY%00", "region"),
        ("status=%00", "status"),
        ("x%00y=1", "x\x00y"),
    ],
)
def test_nul_in_a_query_parameter_is_a_400_naming_it(two_partners, query, field):
    client = two_partners["a"]["client"]
    body = _is_api_error(client.get(f"/api/v1/policies/?{query}"), 400)
    assert field in body["errors"], body


def test_nul_in_a_form_field_is_a_400(two_partners):
    client = two_partners["a"]["client"]
    body = _is_api_error(client.post("/api/v1/policies/", {"quote_id": "1\x00"}), 400)
    assert "quote_id" in body["errors"]


def test_a_body_over_the_limit_is_a_413(two_partners, settings):
    client = two_partners["a"]["client"]
    raw = json.dumps({"driver_ids": [1] * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2)}).encode()
    body = _is_api_error(_raw_post(client, "/api/v1/risk/batch-score/", raw), 413)
    assert body["type"] == "request_too_large"


def test_too_many_form_fields_is_a_413(two_partners):
    client = two_partners["a"]["client"]
    raw = "&".join(f"f{i}=1" for i in range(3000)).encode()
    response = _raw_post(client, "/api/v1/quotes/", raw, content_type="application/x-www-form-urlencoded")
    assert _is_api_error(response, 413)["type"] == "too_many_fields"
    response = client.get("/api/v1/policies/?" + "&".join(f"f{i}=1" for i in range(3000)))
    assert _is_api_error(response, 413)["type"] == "too_many_fields"


@pytest.mark.parametrize(
    "path", ["/api/v1/nowhere/", "/api/v1/drivers/abc/", "/api/v1/quotes/1.5/", "/api/v2/drivers/", "/api/"]
)
def test_unknown_paths_and_non_integer_ids_are_a_json_404(two_partners, path):
    assert _is_api_error(two_partners["a"]["client"].get(path), 404)["type"] == "not_found"


def test_unknown_api_path_is_a_json_404_even_without_a_token():
    assert _is_api_error(APIClient().get("/api/v1/nowhere/"), 404)["type"] == "not_found"


def test_pages_outside_the_api_keep_their_html_404(client):
    response = client.get("/portal/nowhere/")
    assert response.status_code == 404 and not response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/v1/quotes/"),
        ("patch", "/api/v1/policies/"),
        ("delete", "/api/v1/drivers/"),
        ("post", "/api/v1/drivers/"),
        ("put", "/api/v1/telematics/trips"),
    ],
)
def test_a_method_a_route_lacks_is_a_405_not_a_scope_403(two_partners, method, path):
    response = getattr(two_partners["a"]["client"], method)(path, {}, format="json")
    body = _is_api_error(response, 405)
    assert body["type"] == "method_not_allowed"
    assert response["Allow"]


def test_unsupported_media_type_is_a_415_in_the_format(two_partners):
    response = _raw_post(two_partners["a"]["client"], "/api/v1/quotes/", b"<x/>", content_type="application/xml")
    assert _is_api_error(response, 415)["type"] == "unsupported_media_type"


def test_echoed_input_is_cut_to_a_short_prefix(two_partners):
    client = two_partners["a"]["client"]
    huge = "k" * 100_000
    response = client.post("/api/v1/quotes/", {huge: 1, "region": "v" * 100_000}, format="json")
    body = _is_api_error(response, 400)
    assert len(response.content) < 2000
    assert all(len(key) <= 101 for key in body["errors"])
    response = client.get("/api/v1/drivers/", {"policy_status": "s" * 100_000})
    assert len(_is_api_error(response, 400)["errors"]["policy_status"][0]) <= 201


def test_an_exception_bad_input_still_causes_in_a_view_is_a_400(two_partners, monkeypatch):
    from django.db import DataError

    from apps.partners.api import drivers as views

    def broken(*args, **kwargs):
        raise DataError("A string literal cannot contain NUL (0x00) characters.")

    monkeypatch.setattr(views.DriverListView, "get", broken)
    body = _is_api_error(two_partners["a"]["client"].get("/api/v1/drivers/"), 400)
    assert body["errors"] == {"body": ["A value the database cannot store (a NUL character or out of range)."]}


def test_an_unexpected_error_under_the_api_is_a_json_500(two_partners, monkeypatch):
    from apps.partners.api import drivers as views

    def broken(*args, **kwargs):
        raise KeyError("bug")

    monkeypatch.setattr(views.DriverListView, "get", broken)
    client = two_partners["a"]["client"]
    client.raise_request_exception = False
    assert _is_api_error(client.get("/api/v1/drivers/"), 500)["type"] == "server_error"


@pytest.mark.parametrize("page", ["²", "\u0661", "0", "-1"])
def test_a_page_number_in_non_ascii_digits_is_a_400(two_partners, page):
    """str.isdigit() accepts "²", which int() refuses: that used to be a ValueError and a 500."""
    body = _is_api_error(two_partners["a"]["client"].get("/api/v1/drivers/", {"page": page}), 400)
    assert "page" in body["errors"]


@pytest.mark.parametrize("query", ["region=", "policy_status=", "city="])
def test_a_blank_query_parameter_is_a_400_not_ignored(two_partners, query):
    body = _is_api_error(two_partners["a"]["client"].get(f"/api/v1/drivers/?{query}"), 400)
    assert query[:-1] in body["errors"]


def test_a_date_time_filter_with_an_offset_postgresql_refuses_is_normalised(two_partners):
    """RFC 3339 allows offsets up to 23:59, PostgreSQL 15:59: that used to be a DataError."""
    response = two_partners["a"]["client"].get("/api/v1/quotes/", {"created_after": "2026-01-01T00:00:00-17:40"})
    assert response.status_code == 200, response.content


def test_a_duplicate_webhook_is_a_409(two_partners):
    client = two_partners["a"]["client"]
    body = {"url": "https://hooks.example.com/dup", "events": ["score.changed"]}
    assert client.post("/api/v1/webhooks/", body, format="json").status_code == 201
    assert _is_api_error(client.post("/api/v1/webhooks/", body, format="json"), 409)["type"] == "conflict"


def test_the_schema_documents_bounds_and_statuses(client):
    schema = client.get("/api/schema/?format=json").json()
    drivers = schema["paths"]["/api/v1/drivers/"]["get"]
    params = {p["name"]: p["schema"] for p in drivers["parameters"]}
    assert params["page"] == {"type": "integer", "minimum": 1, "maximum": 10**9}
    assert params["page_size"] == {"type": "integer", "minimum": 1, "maximum": 200}
    detail = schema["paths"]["/api/v1/drivers/{driver_id}/"]["get"]
    assert detail["parameters"][0]["schema"]["minimum"] == 1
    assert {"400", "401", "403", "404", "405", "429"} <= set(drivers["responses"])
    assert {"400", "409", "413", "415"} <= set(schema["paths"]["/api/v1/quotes/"]["post"]["responses"])
    assert "403" in schema["paths"]["/api/v1/metrics/"]["get"]["responses"]
    assert schema["components"]["schemas"]["QuoteInputRequest"]["additionalProperties"] is False
