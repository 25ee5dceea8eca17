"""The positions receiver (Procfile `positions`: fleetops.asgi under uvicorn), started as the
Procfile starts it, with the exact requests of the Traccar Client apps over one kept-alive
connection: the same answers as the web process, only the tracker paths, and one JSON access
line per request without the device token."""

import datetime as dt
import http.client
import json
import urllib.parse

import orjson
import pytest
from django.utils import timezone

from apps.common.asgi import environ_from_scope
from apps.common.keys import new_secret_key
from apps.telematics.models import Position
from apps.telematics.positions import buffer
from apps.telematics.positions.buffer import positions_flush
from tests.conftest import positions_receiver
from tests.customers.factories import TelematicsConsentFactory
from tests.telematics.factories import DeviceFactory
from tests.telematics.test_positions_api import BATCH, OSMAND, traccar_get, traccar_json


def test_the_environ_of_a_scope_is_the_one_a_wsgi_server_builds():
    environ = environ_from_scope(
        {
            "type": "http",
            "method": "GET",
            "path": "/api/v1/telematics/osmand",
            "query_string": b"id=1&lat=52.5",
            "headers": [
                (b"host", b"fleet.example"),
                (b"x-request-id", b"abc"),
                (b"content-type", b"text/plain"),
                (b"accept", b"a"),
                (b"accept", b"b"),
            ],
            "scheme": "https",
            "server": ("10.0.0.1", 5055),
            "client": ("192.0.2.7", 40000),
            "http_version": "1.1",
        }
    )
    assert environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"] == "/api/v1/telematics/osmand"
    assert environ["QUERY_STRING"] == "id=1&lat=52.5" and environ["wsgi.url_scheme"] == "https"
    assert environ["HTTP_HOST"] == "fleet.example" and environ["HTTP_X_REQUEST_ID"] == "abc"
    assert environ["CONTENT_TYPE"] == "text/plain" and "HTTP_CONTENT_TYPE" not in environ
    assert environ["HTTP_ACCEPT"] == "a,b" and environ["REMOTE_ADDR"] == "192.0.2.7"
    assert environ["SERVER_PORT"] == "5055"


@pytest.mark.django_db(transaction=True)
def test_the_receiver_answers_the_traccar_client_like_the_web_process(tmp_path):
    consent = TelematicsConsentFactory()
    device = DeviceFactory(customer=consent.customer, serial="864599")
    client = buffer._redis()
    client.delete(*buffer._keys())  # the buffer starts empty; the flush below is this test's own
    # As in production, nothing is flushed in the receiver's process (Celery is not eager there).
    with positions_receiver(tmp_path, env={"CELERY_TASK_ALWAYS_EAGER": "false"}) as (base, log_path):
        conn = http.client.HTTPConnection(urllib.parse.urlsplit(base).hostname, urllib.parse.urlsplit(base).port)

        def get(path, params=None, headers=None):
            conn.request("GET", path + ("?" + urllib.parse.urlencode(params) if params else ""), headers=headers or {})
            response = conn.getresponse()
            return response, response.read()

        # The first request of a device goes through Django's view, the next ones are answered
        # by the lean handler on the event loop: the same empty 200 with the same headers.
        first, body = get(OSMAND, traccar_get(device, timestamp=str(int(traccar_get(device)["timestamp"]) - 20)))
        assert (first.status, body) == (200, b"")
        second, body = get(OSMAND, traccar_get(device), headers={"X-Request-ID": "tracker-req-0001"})
        assert (second.status, body) == (200, b"")
        assert second.getheader("X-Request-ID") == "tracker-req-0001"
        assert second.getheader("X-Content-Type-Options") == first.getheader("X-Content-Type-Options") == "nosniff"
        assert second.getheader("Server") is None  # no server banner on the trackers' port

        # The current Traccar Client's JSON body.
        conn.request(
            "POST",
            OSMAND + "?" + urllib.parse.urlencode({"key": device.raw_token}),
            body=orjson.dumps(traccar_json(device, timestamp=(timezone.now() - dt.timedelta(minutes=2)).isoformat())),
            headers={"Content-Type": "application/json"},
        )
        posted = conn.getresponse()
        assert (posted.status, posted.read()) == (200, b"")

        bad, body = get(OSMAND, traccar_get(device, lat="north"))
        assert bad.status == 400 and "lat" in json.dumps(json.loads(body))
        wrong_key, _ = new_secret_key("dev")
        wrong, body = get(OSMAND, traccar_get(device, key=wrong_key))
        assert wrong.status == 401 and json.loads(body)["type"] == "authentication_failed"

        # A gateway's batch larger than the body limit: the API's 413, nothing stored.
        conn.request("POST", BATCH, body=b"{" + b" " * 1_100_000 + b"}", headers={"Content-Type": "application/json"})
        too_large = conn.getresponse()
        assert too_large.status == 413 and json.loads(too_large.read())["type"] == "request_too_large"

        # Nothing but the tracker endpoints (and the health checks) on this port.
        for path in ("/admin/", "/ops/", "/api/v1/partners/drivers", "/"):
            refused, body = get(path)
            assert refused.status == 404 and json.loads(body)["type"] == "not_found", path
        health, _ = get("/healthz")
        assert health.status == 200
        conn.close()

    # What the receiver buffered is stored by the flush, exactly once.
    positions_flush()
    assert Position.objects.filter(device=device).count() == 3

    lines = [json.loads(line) for line in log_path.read_text().splitlines() if '"fleetops.access"' in line]
    osmand_lines = [line for line in lines if OSMAND in line["message"]]
    assert [line["status"] for line in osmand_lines] == ["200", "200", "200", "400", "401"]
    assert any(line["status"] == "413" and BATCH in line["message"] for line in lines)
    assert any(line["request_id"] == "tracker-req-0001" for line in osmand_lines)
    # Django's warnings for the 400, the 401 and the 413 name the request: the keys' secrets left out.
    text = log_path.read_text()
    assert text.count('"logger": "django.request"') == 3  # and the 413
    assert device.raw_token.split(".")[1] not in text and wrong_key.split(".")[1] not in text
    # Every line JSON, uvicorn's own included (without its terminal-coloured copy of the message).
    assert all(isinstance(json.loads(line), dict) for line in text.splitlines()) and "color_message" not in text
