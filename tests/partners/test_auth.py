import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.partners.models import ApiToken
from tests.partners.conftest import client_for
from tests.partners.factories import ApiTokenFactory

pytestmark = pytest.mark.django_db


def test_missing_token_is_401_with_a_typed_body_and_request_id():
    response = APIClient().get("/api/v1/drivers/")
    assert response.status_code == 401
    assert response.json()["type"] == "not_authenticated"
    assert response.json()["request_id"] == response["X-Request-ID"]
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "header",
    ["Token", "Token a b", "Bearer abc", "Token fo_deadbeef.nope", "Token not-a-key", "Token \u00e9"],
)
def test_malformed_or_unknown_keys_are_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/drivers/").status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        {"revoked_at": timezone.now() - dt.timedelta(seconds=1)},
        {"expires_at": timezone.now() - dt.timedelta(seconds=1)},
    ],
)
def test_revoked_and_expired_tokens_are_401(change):
    token = ApiTokenFactory()
    ApiToken.objects.filter(pk=token.pk).update(**change)
    assert client_for(token).get("/api/v1/drivers/").status_code == 401


def test_inactive_partner_is_401():
    token = ApiTokenFactory()
    token.partner.is_active = False
    token.partner.save()
    assert client_for(token).get("/api/v1/drivers/").status_code == 401


def test_staff_token_without_partner_is_403():
    token = ApiTokenFactory(partner=None)
    assert client_for(token).get("/api/v1/drivers/").status_code == 403


@pytest.mark.parametrize(
    ("scopes", "method", "path", "expected"),
    [
        (["quotes:write"], "get", "/api/v1/drivers/", 403),
        (["drivers:read"], "get", "/api/v1/drivers/", 200),
        (["drivers:read"], "post", "/api/v1/quotes/", 403),
        (["drivers:read"], "post", "/api/v1/policies/", 403),
        (["drivers:read"], "post", "/api/v1/risk/batch-score/", 403),
        (["quotes:write"], "post", "/api/v1/quotes/", 400),  # allowed, the empty body is refused
    ],
)
def test_scopes_guard_each_endpoint(scopes, method, path, expected):
    client = client_for(ApiTokenFactory(scopes=scopes))
    response = getattr(client, method)(path, {}, format="json") if method == "post" else client.get(path)
    assert response.status_code == expected


def test_every_response_carries_a_request_id_and_keeps_a_sane_incoming_one():
    client = client_for(ApiTokenFactory())
    assert len(client.get("/api/v1/drivers/")["X-Request-ID"]) == 32
    assert client.get("/api/v1/drivers/", HTTP_X_REQUEST_ID="trace-42")["X-Request-ID"] == "trace-42"
    assert client.get("/api/v1/drivers/99/", HTTP_X_REQUEST_ID="trace-43").json()["request_id"] == "trace-43"


def test_the_partner_rate_limit_answers_429_with_retry_after(monkeypatch):
    monkeypatch.setattr("apps.partners.throttling.time.time", lambda: 1_800_000_010.0)  # 10 s into a minute
    token = ApiTokenFactory()
    token.partner.requests_per_minute = 3
    token.partner.save()
    client = client_for(token)
    responses = [client.get("/api/v1/drivers/") for _ in range(5)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429, 429]
    assert responses[-1]["Retry-After"] == "50"
    assert responses[-1].json()["type"] == "throttled"
    assert responses[-1]["X-Request-ID"]


def test_the_rate_limit_is_per_partner():
    limited = ApiTokenFactory()
    limited.partner.requests_per_minute = 1
    limited.partner.save()
    other = client_for(ApiTokenFactory())
    for _ in range(3):
        client_for(limited).get("/api/v1/drivers/")
    assert other.get("/api/v1/drivers/").status_code == 200


def test_a_cached_token_check_still_honours_expiry_and_lapses_after_revocation(settings, monkeypatch):
    settings.PARTNER_API_TOKEN_CACHE_SECONDS = 10
    token = ApiTokenFactory(expires_at=timezone.now() + dt.timedelta(hours=1))
    client = client_for(token)
    assert client.get("/api/v1/drivers/").status_code == 200  # cached now
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    from django.core.cache import cache

    from apps.partners.authentication import _cache_key

    assert cache.get(_cache_key(token.raw_key)) is not None
    cache.delete(_cache_key(token.raw_key))  # what the 10 s expiry does
    assert client.get("/api/v1/drivers/").status_code == 401
    # an expiry passing while the check is cached is honoured at once
    other = ApiTokenFactory(expires_at=timezone.now() + dt.timedelta(hours=1))
    assert client_for(other).get("/api/v1/drivers/").status_code == 200
    monkeypatch.setattr("apps.partners.authentication.timezone.now", lambda: other.expires_at + dt.timedelta(seconds=1))
    assert client_for(other).get("/api/v1/drivers/").status_code == 401


def test_the_token_cache_never_holds_the_raw_key(settings):
    from django.core.cache import cache
    from django.db import connection

    settings.PARTNER_API_TOKEN_CACHE_SECONDS = 10
    token = ApiTokenFactory()
    client_for(token).get("/api/v1/drivers/")
    keys = cache.keys(f"api:token:{connection.settings_dict['NAME']}:*")
    assert keys and all(token.raw_key not in k for k in keys)
    assert all(token.raw_key not in str(cache.get(k)) for k in keys)
