"""Webhooks delivered to a real HTTP server on a local thread, signatures checked like a partner would."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.common.exceptions import ApplicationError
from apps.partners import webhooks
from apps.partners.models import WebhookDelivery
from apps.pricing import services
from tests.partners.factories import PartnerFactory, WebhookDeliveryFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db


class Receiver:
    def __init__(self, fail_first: int = 0):
        self.received: list[dict] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                code = 503 if len(receiver.received) <= receiver.fail_first else 204
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_http(settings):
    from fleetops.celery import app

    settings.WEBHOOK_ALLOW_HTTP_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    # Eager Celery re-runs a retried task at once (no count-down) unless it propagates the Retry.
    before = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = before


def _register(partner, url, events=("score.changed", "policy.updated")):
    """The endpoint and its signing secret in clear (as shown to the partner once)."""
    return webhooks.webhook_endpoint_create(partner=partner, url=url, events=list(events))


def test_policy_bound_and_score_changed_arrive_signed(world, local_http, django_capture_on_commit_callbacks):
    partner = PartnerFactory()
    with Receiver() as receiver:
        _endpoint, secret = _register(partner, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            quote = services.quote_create(
                driver=world["driver"], vehicle_category=world["category"], region=world["region"], partner=partner
            )
            services.policy_bind(quote=quote, partner=partner)
        with django_capture_on_commit_callbacks(execute=True):
            services.driver_scores_changed(driver_ids=[world["driver"].pk])
    events = [json.loads(r["body"]) for r in receiver.received]
    assert [e["type"] for e in events] == ["policy.updated", "score.changed"]
    assert events[0]["data"]["event"] == "bound"
    assert events[1]["data"]["driver_id"] == world["driver"].pk
    assert events[1]["data"]["safety_score"] == world["score"].safety_score
    for r in receiver.received:
        headers = r["headers"]
        assert headers["X-Fleetops-Signature"].startswith("sha256=")
        assert webhooks.webhook_signature_verify(
            secret=secret,
            timestamp=headers["X-Fleetops-Timestamp"],
            body=r["body"],
            signature=headers["X-Fleetops-Signature"],
        )
        # a tampered body or another secret fails verification
        assert not webhooks.webhook_signature_verify(
            secret=secret,
            timestamp=headers["X-Fleetops-Timestamp"],
            body=r["body"] + b" ",
            signature=headers["X-Fleetops-Signature"],
        )
        assert not webhooks.webhook_signature_verify(
            secret="whsec_other",
            timestamp=headers["X-Fleetops-Timestamp"],
            body=r["body"],
            signature=headers["X-Fleetops-Signature"],
        )
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_failures_are_retried_with_back_off_and_every_attempt_is_logged(
    world, local_http, django_capture_on_commit_callbacks
):
    partner = PartnerFactory()
    with Receiver(fail_first=2) as receiver:
        _register(partner, receiver.url, events=["policy.updated"])
        with django_capture_on_commit_callbacks(execute=True):
            quote = services.quote_create(
                driver=world["driver"], vehicle_category=world["category"], region=world["region"], partner=partner
            )
            services.policy_bind(quote=quote, partner=partner)
    delivery = WebhookDelivery.objects.get()
    assert len(receiver.received) == 3
    assert delivery.status == "delivered"
    assert delivery.attempts == 3
    assert [a["status_code"] for a in delivery.attempt_log] == [503, 503, 204]
    # the same event id on every attempt, so the receiver can drop duplicates
    assert len({r["headers"]["X-Fleetops-Delivery"] for r in receiver.received}) == 1


def test_a_delivery_gives_up_after_the_last_attempt(world, local_http, django_capture_on_commit_callbacks):
    partner = PartnerFactory()
    with Receiver(fail_first=100) as receiver:
        _register(partner, receiver.url, events=["policy.updated"])
        with django_capture_on_commit_callbacks(execute=True):
            quote = services.quote_create(
                driver=world["driver"], vehicle_category=world["category"], region=world["region"], partner=partner
            )
            services.policy_bind(quote=quote, partner=partner)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.attempts == 4
    assert len(receiver.received) == 4
    assert delivery.next_attempt_at is None


def test_back_off_doubles(settings):
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 30
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 3600
    assert [webhooks._backoff_seconds(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # plain http
        "ftp://hooks.example.com/x",
        "https://10.0.0.5/x",  # private address
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://user:pw@hooks.example.com/x",
        "not a url",
    ],
)
def test_only_public_https_urls_are_accepted(db, url):
    with pytest.raises(ApplicationError):
        webhooks.webhook_endpoint_create(partner=PartnerFactory(), url=url, events=["score.changed"])


def test_registration_through_the_api_shows_the_secret_once(two_partners):
    client = two_partners["a"]["client"]
    created = client.post(
        "/api/v1/webhooks/", {"url": "https://hooks.insurer.example/a", "events": ["score.changed"]}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    listed = client.get(f"/api/v1/webhooks/{created.json()['id']}/").json()
    assert "secret" not in listed
    refused = client.post(
        "/api/v1/webhooks/", {"url": "http://hooks.insurer.example/a", "events": ["score.changed"]}, format="json"
    )
    assert refused.status_code == 400


def test_the_lost_delivery_sweep_is_on_beats_schedule():
    from celery.schedules import schedule

    from fleetops.celery import app

    entry = app.conf.beat_schedule["accounts.webhooks_retry_due"]
    assert entry["task"] in app.tasks
    assert schedule(entry["schedule"]).run_every.total_seconds() <= 600  # the sweep's own overdue cutoff


@pytest.mark.parametrize(
    "url",
    [
        "https://100.64.0.1/x",  # carrier-grade NAT
        "https://224.0.0.1/x",  # multicast
        "https://0.0.0.0/x",
        "https://[::ffff:10.0.0.1]/x",  # IPv4-mapped private
        "https://[::1]/x",
        "https://169.254.169.254/latest",
        "https://hooks.example.com:6379/x",  # a port of an internal service
        "https://hooks.example.com:22/x",
    ],
)
def test_non_public_literals_and_other_ports_are_refused(db, url):
    with pytest.raises(ApplicationError):
        webhooks.webhook_endpoint_create(partner=PartnerFactory(), url=url, events=["score.changed"])


@pytest.mark.parametrize(
    "resolved", ["127.0.0.1", "169.254.169.254", "10.1.2.3", "100.64.1.1", "::ffff:192.168.0.1", "224.0.0.5"]
)
def test_a_host_name_resolving_to_a_non_public_address_is_refused_at_delivery(db, monkeypatch, resolved):
    """Names were never resolved: one pointing at 127.0.0.1 or the metadata service was delivered to."""
    endpoint = WebhookEndpointFactory(url="https://hooks.partner.example/x")
    delivery = WebhookDeliveryFactory(endpoint=endpoint)
    family = socket.AF_INET6 if ":" in resolved else socket.AF_INET
    monkeypatch.setattr(
        webhooks.socket, "getaddrinfo", lambda *a, **k: [(family, socket.SOCK_STREAM, 6, "", (resolved, 443))]
    )
    connected = []
    monkeypatch.setattr(webhooks.socket, "create_connection", lambda *a, **k: connected.append(a) or 1 / 0)
    outcome = webhooks.webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert not outcome.delivered and connected == []
    assert delivery.attempt_log[-1]["error"].startswith("refused: hooks.partner.example resolves to a non-public")


def test_a_delivery_connects_to_the_address_it_checked(db, monkeypatch):
    endpoint = WebhookEndpointFactory(url="https://hooks.partner.example/x")
    delivery = WebhookDeliveryFactory(endpoint=endpoint)
    monkeypatch.setattr(
        webhooks.socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))],
    )
    connected = []

    def create_connection(address, timeout=None):
        connected.append(address)
        raise ConnectionRefusedError("test")

    monkeypatch.setattr(webhooks.socket, "create_connection", create_connection)
    webhooks.webhook_delivery_attempt(delivery_id=delivery.pk)
    assert connected == [("93.184.216.34", 443)]


def test_a_replayed_registration_returns_the_endpoint_without_the_secret(two_partners):
    from apps.partners.models import IdempotencyKey

    client = two_partners["a"]["client"]
    body = {"url": "https://hooks.insurer.example/once", "events": ["score.changed"]}
    first = client.post("/api/v1/webhooks/", body, format="json", HTTP_IDEMPOTENCY_KEY="reg-1")
    again = client.post("/api/v1/webhooks/", body, format="json", HTTP_IDEMPOTENCY_KEY="reg-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["secret"].startswith("whsec_")
    assert again["Idempotent-Replayed"] == "true"
    assert "secret" not in again.json() and again.json()["id"] == first.json()["id"]
    stored = IdempotencyKey.objects.get(key="reg-1")
    assert first.json()["secret"] not in str(stored.response_body)
