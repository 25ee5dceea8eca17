"""Scale-out on the existing engines: a Celery queue per workload, and the partner API's and
ops pages' reads on a replica when DATABASE_REPLICA_URL configures one."""

from pathlib import Path

import pytest
from django.conf import settings
from django.test import RequestFactory

from apps.common.db import ReplicaReadsMiddleware, ReplicaRouter, _replica_reads
from apps.jobs import registry


def test_heavy_job_kinds_and_tasks_have_their_own_queues():
    assert registry.get("transactions.ingest").queue == "ingest"
    assert registry.get("risk.score_drivers").queue == "scoring"
    assert registry.get("risk.train").queue == "scoring"
    assert settings.CELERY_TASK_ROUTES["risk.driver_rescore"] == {"queue": "scoring"}
    worker = next(
        line for line in (Path(settings.BASE_DIR) / "Procfile").read_text().splitlines() if line.startswith("worker:")
    )
    assert "-Q ${CELERY_QUEUES:-celery,ingest,scoring}" in worker


@pytest.fixture
def with_replica(settings):
    settings.DATABASES = {**settings.DATABASES, "replica": {**settings.DATABASES["default"]}}


def _seen(method: str, path: str) -> bool:
    seen = []
    ReplicaReadsMiddleware(lambda request: seen.append(_replica_reads.get()))(RequestFactory().generic(method, path))
    return seen[0]


def test_partner_api_and_ops_reads_go_to_the_replica(with_replica):
    assert _seen("GET", "/api/v1/drivers/") and _seen("GET", "/ops/fleet/")
    assert not _seen("POST", "/api/v1/quotes/")
    assert not _seen("GET", "/portal/")
    token = _replica_reads.set(True)
    try:
        assert ReplicaRouter().db_for_read(None) == "replica"
        assert ReplicaRouter().db_for_write(None) == "default"
    finally:
        _replica_reads.reset(token)
    assert ReplicaRouter().db_for_read(None) == "default"


def test_without_a_replica_everything_stays_on_the_primary():
    assert "replica" not in settings.DATABASES
    assert not _seen("GET", "/api/v1/drivers/")
    token = _replica_reads.set(True)
    try:
        assert ReplicaRouter().db_for_read(None) == "default"
    finally:
        _replica_reads.reset(token)


@pytest.mark.django_db
def test_a_client_that_wrote_reads_the_primary_until_the_replica_has_replayed_it(with_replica, monkeypatch):
    """The rule alone (tests/common/test_replica.py runs it against a real replica)."""
    import uuid

    from django.http import HttpResponse

    from apps.common import db

    replayed = []
    monkeypatch.setattr(db, "replica_has_replayed", lambda position: replayed.append(position) or False)
    seen = []

    def view(request):
        seen.append(_replica_reads.get())
        response = HttpResponse()
        if request.method == "POST" and not request.META.get("HTTP_AUTHORIZATION"):
            response.set_cookie(settings.SESSION_COOKIE_NAME, cookie)  # a login: a new session
        return response

    middleware = ReplicaReadsMiddleware(view)
    writer, other = (f"Token {uuid.uuid4().hex}" for _ in range(2))
    cookie = uuid.uuid4().hex
    factory = RequestFactory()
    middleware(factory.post("/api/v1/quotes/", HTTP_AUTHORIZATION=writer))
    middleware(factory.get("/api/v1/quotes/1/", HTTP_AUTHORIZATION=writer))
    middleware(factory.get("/api/v1/quotes/1/", HTTP_AUTHORIZATION=other))
    middleware(factory.post("/portal/login/"))
    browser = factory.get("/ops/")
    browser.COOKIES[settings.SESSION_COOKIE_NAME] = cookie
    middleware(browser)
    assert seen == [False, False, True, False, False]
    assert len(replayed) == 2 and all("/" in position for position in replayed)  # WAL positions, e.g. 0/1A2B3C4
