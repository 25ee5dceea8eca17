"""/metrics (Prometheus, behind a token), JSON log lines with the request id, and a worker that
logs the loss of its broker at once."""

import io
import json
import logging
import signal
import socket
import time

import pytest

from apps.common.broker import BrokerWatch, broker_ping
from tests.conftest import celery_worker
from tests.jobs.factories import JobRunFactory

TOKEN = "metrics-test-token-0123456789"


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def test_metrics_are_closed_without_a_configured_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403


@pytest.mark.django_db
def test_metrics_refuse_a_wrong_token(client, metrics_token):
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 403


@pytest.mark.django_db
def test_metrics_report_requests_database_cache_jobs_queues_ingest_uploads_and_webhooks(client, metrics_token):
    JobRunFactory(kind="test.ok", status="succeeded")
    JobRunFactory(kind="test.ok", status="failed")
    client.get("/readyz")
    client.post("/api/v1/telematics/trips", data=b"{}", content_type="application/json")  # a refused upload
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    for expected in (
        'fleetops_http_requests_total{method="GET",status="200",view="readyz"}',
        "fleetops_http_request_duration_seconds_bucket",
        'fleetops_db_queries_total{alias="default"}',
        "fleetops_cache_up 1.0",
        "fleetops_cache_keyspace_hits",
        'fleetops_job_runs{kind="test.ok",status="succeeded"} 1.0',
        'fleetops_job_runs{kind="test.ok",status="failed"} 1.0',
        'fleetops_queue_length{queue="celery"}',
        'fleetops_ingest_rows{outcome="loaded"}',
        "fleetops_webhook_deliveries",
        'fleetops_telematics_uploads_total{outcome="unauthorized"}',
    ):
        assert expected in text, expected
    assert "fleetops_metrics_collector_up" in text and 'collector_up{collector="apps.jobs.metrics.collect"} 1.0' in text


@pytest.mark.django_db
def test_every_log_line_is_json_with_the_request_id(client):
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        client.get("/api/v1/nowhere/", HTTP_X_REQUEST_ID="req-log-42")
    finally:
        handler.setStream(previous)
    lines = stream.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    not_found = [r for r in records if r["logger"] == "django.request"]
    assert not_found and not_found[-1]["request_id"] == "req-log-42"
    assert all({"time", "level", "logger", "message", "request_id"} <= set(r) for r in records)


@pytest.mark.django_db
def test_no_log_line_carries_a_device_token(client):
    """Django logs a 4xx with the request (path and query string); a tracker's token travels in
    both. The console handler's filter leaves the key's label and prefix, never its secret."""
    from apps.common.keys import new_secret_key

    raw, prefix = new_secret_key("dev")
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        client.get(f"/api/v1/telematics/osmand?id=x&lat=1&lon=2&key={raw}")
        client.get(f"/api/v1/telematics/osmand/{raw}?id=x&lat=1&lon=2")
    finally:
        handler.setStream(previous)
    text = stream.getvalue()
    records = [json.loads(line) for line in text.splitlines()]
    assert len([r for r in records if r["logger"] == "django.request"]) == 2
    assert raw.split(".")[1] not in text and f"dev_{prefix}." in text


def test_gunicorn_access_lines_leave_out_the_query_and_redact_keys():
    import logging.config

    from apps.common.keys import new_secret_key
    from fleetops import gunicorn_conf

    raw, _ = new_secret_key("dev")
    config = json.loads(json.dumps(gunicorn_conf.logconfig_dict))
    logging.config.dictConfig({**config, "incremental": False, "disable_existing_loggers": False})
    access = logging.getLogger("gunicorn.access")
    stream = io.StringIO()
    access.handlers[0].setStream(stream)
    atoms = {"m": "GET", "U": f"/api/v1/telematics/osmand/{raw}", "H": "HTTP/1.1", "t": "-", "s": "200"}
    atoms |= {"B": "0", "M": "1", "h": "127.0.0.1", "{x-request-id}o": "r1"}
    access.info(gunicorn_conf.access_log_format, atoms)
    line = json.loads(stream.getvalue())
    assert line["message"] == f"GET /api/v1/telematics/osmand/{raw.split('.')[0]}.… HTTP/1.1"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_broker_ping_names_an_unreachable_broker_quickly(settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    started = time.monotonic()
    assert broker_ping(timeout=0.5)
    assert time.monotonic() - started < 2


def test_the_broker_watch_logs_a_loss_at_once(settings, caplog):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    watch = BrokerWatch(interval=0.1, timeout=0.2)
    with caplog.at_level("ERROR", logger="fleetops.broker"):
        watch.start()
        deadline = time.monotonic() + 5
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
        watch.stopped.set()
    assert caplog.records and caplog.records[0].getMessage().startswith("broker lost:")


@pytest.mark.worker
@pytest.mark.django_db
def test_a_worker_logs_a_broker_that_stops_answering_within_seconds(tmp_path, private_redis):
    """A paused Redis sends no EOF: Celery's consumer alone logged nothing until it came back."""
    redis_process, url = private_redis
    with celery_worker(tmp_path, broker_url=url) as (_queue, _process, log_path):
        deadline = time.monotonic() + 90
        while "ready." not in log_path.read_text(errors="replace") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "ready." in log_path.read_text(errors="replace"), log_path.read_text(errors="replace")[-3000:]
        redis_process.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        while "broker lost" not in log_path.read_text(errors="replace") and time.monotonic() - stopped < 15:
            time.sleep(0.2)
        waited = time.monotonic() - stopped
        redis_process.send_signal(signal.SIGCONT)
        assert "broker lost" in log_path.read_text(errors="replace"), log_path.read_text(errors="replace")[-3000:]
        assert waited < 8
