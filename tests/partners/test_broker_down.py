"""The partner API while the job queue (Redis) is down: 503 with Retry-After in the API's format
within 3 seconds, no run and no partner job left behind (it was a 500 after 19 s)."""

import socket
import time

import pytest
from celery import current_app

from apps.jobs.models import JobRun
from apps.pricing.models import PartnerJob

pytestmark = pytest.mark.django_db


def _not_eager(monkeypatch) -> None:
    """Tests run tasks eagerly; the broker is only consulted when they are really sent."""
    monkeypatch.setitem(current_app.conf, "task_always_eager", False)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_batch_endpoint_answers_503_when_the_broker_is_down(two_partners, settings, monkeypatch):
    _not_eager(monkeypatch)
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    started = time.monotonic()
    response = two_partners["a"]["client"].post("/api/v1/risk/batch-score/", {}, format="json")
    assert time.monotonic() - started < 3
    assert response.status_code == 503, response.content
    assert response["Retry-After"]
    body = response.json()
    assert body["type"] == "service_unavailable" and "does not answer" in body["detail"]
    assert not JobRun.objects.exists() and not PartnerJob.objects.exists()
