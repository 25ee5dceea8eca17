"""The OsmAnd lean path (apps.telematics.api.lean): it answers only what Django's stack would
answer the same way, with the same headers, and leaves every other request to Django."""

import pytest
from django.test import Client

from apps.common.metrics import REQUESTS
from apps.telematics import hooks
from apps.telematics.models import Device, Position
from apps.telematics.positions import buffer
from apps.telematics.services import devices as devices_module
from tests.customers.factories import TelematicsConsentFactory
from tests.telematics.factories import DeviceFactory
from tests.telematics.lean import LeanClient
from tests.telematics.test_positions_api import OSMAND, _now_s, traccar_get

pytestmark = pytest.mark.django_db


@pytest.fixture
def device(monkeypatch):
    """A device with consent; nobody flushes until the test says so."""
    monkeypatch.setattr(hooks.positions_flush_wanted, "_receivers", [])
    client = buffer._redis()
    client.delete(*buffer._keys())
    yield DeviceFactory(customer=TelematicsConsentFactory().customer, serial="LEAN-1")
    client.delete(*buffer._keys())


def _get(client, device, seconds_ago: int, **extra):
    overrides = {k: v for k, v in extra.items() if not k.isupper() and k != "secure"}
    environ = {k: v for k, v in extra.items() if k.isupper() or k == "secure"}
    return client.get(OSMAND, traccar_get(device, timestamp=str(_now_s() - seconds_ago), **overrides), **environ)


def _comparable(response) -> dict:
    return {name: value for name, value in response.items() if name != "X-Request-ID"}


def test_a_known_device_is_answered_lean_with_djangos_headers(device, django_assert_num_queries):
    lean, plain = LeanClient(), Client()
    first = _get(lean, device, 90)
    assert first.status_code == 200 and not getattr(first, "lean", False)  # checked by the view
    with django_assert_num_queries(0):
        answer = _get(lean, device, 80, HTTP_X_REQUEST_ID="tracker-42")
    assert answer.status_code == 200 and answer.content == b"" and answer.lean
    assert answer["X-Request-ID"] == "tracker-42"
    django_answer = _get(plain, device, 70)
    assert _comparable(answer) == _comparable(django_answer)
    assert len(_get(lean, device, 60)["X-Request-ID"]) == 32  # none sent: a new one
    buffer.positions_flush()
    assert Position.objects.count() == 4


def test_the_lean_answers_are_counted_in_the_metrics(device):
    lean = LeanClient()
    _get(lean, device, 90)
    counter = REQUESTS.labels("GET", "api:telematics-osmand", "200")
    before = counter._value.get()
    assert _get(lean, device, 80).lean
    assert counter._value.get() == before + 1


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"HTTP_HOST": "evil.example"}, 400),  # ALLOWED_HOSTS: Django's DisallowedHost
        ({"altitude": ""}, 400),  # a blank parameter: the API boundary's refusal
        ({"lat": "north"}, 400),  # parsing
        ({"lat": "95"}, 200),  # cleaning: the view records the rejection
        ({"key": "dev_0123456789.nope"}, 401),  # not a remembered key
    ],
)
def test_what_django_would_refuse_is_left_to_django(device, extra, status):
    lean = LeanClient()
    assert _get(lean, device, 90).status_code == 200
    answer = _get(lean, device, 80, **extra)
    assert answer.status_code == status and not getattr(answer, "lean", False)


def test_behind_tls_the_lean_answer_has_the_security_headers_and_plain_http_is_redirected(device, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    lean, plain = LeanClient(), Client()
    assert _get(lean, device, 90, HTTP_X_FORWARDED_PROTO="https").status_code == 200
    answer = _get(lean, device, 80, HTTP_X_FORWARDED_PROTO="https")
    assert answer.lean and answer["Strict-Transport-Security"] == "max-age=31536000"
    assert _comparable(answer) == _comparable(_get(plain, device, 70, HTTP_X_FORWARDED_PROTO="https"))
    redirected = _get(lean, device, 60)
    assert redirected.status_code == 301 and not getattr(redirected, "lean", False)


def test_a_device_reporting_every_five_minutes_stays_answered_from_memory(device, monkeypatch, settings):
    """Traccar Client reports every 300 s by default: a memory of 30 s sent every such position
    through Django and the database. Within DEVICE_MEMORY_SECONDS it is answered lean; past it,
    the view checks the device again."""
    import time as time_module

    lean = LeanClient()
    clock = [time_module.monotonic()]
    monkeypatch.setattr(buffer.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(devices_module.time, "monotonic", lambda: clock[0])
    assert not getattr(_get(lean, device, 900), "lean", False)
    clock[0] += 301
    assert _get(lean, device, 600).lean
    clock[0] += settings.TELEMATICS["DEVICE_MEMORY_SECONDS"]
    assert not getattr(_get(lean, device, 300), "lean", False)
    buffer.positions_flush()
    assert Position.objects.count() == 3


def test_the_flush_records_the_last_contact_of_devices_answered_from_memory(device):
    lean = LeanClient()
    _get(lean, device, 90)
    Device.objects.filter(pk=device.pk).update(last_seen_at=None)
    assert _get(lean, device, 80).lean  # no request checks the device now
    buffer.positions_flush()
    device.refresh_from_db()
    assert device.last_seen_at is not None


def test_a_full_memory_forgets_its_oldest_tenth_only():
    memory = {}
    for key in range(25):
        devices_module.remember(memory, key, key, cap=20)
    assert len(memory) == 19 and min(memory) == 6 and max(memory) == 24  # never emptied whole
