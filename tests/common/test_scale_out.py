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
