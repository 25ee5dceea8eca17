"""Positions the server will never store are answered 200 (so a Traccar Client moves on to its
next position instead of retrying this one forever) and recorded per device and reason."""

import datetime as dt

import orjson
import pytest
from django.utils import timezone

from apps.customers.models import TelematicsConsent
from apps.telematics.models import Position, PositionRejection
from tests.customers.factories import TelematicsConsentFactory
from tests.telematics.factories import DeviceFactory
from tests.telematics.test_positions_api import BATCH, OSMAND, _now_s, traccar_get, traccar_json

pytestmark = pytest.mark.django_db
THROUGH_LEAN_PATH = True


@pytest.fixture
def device():
    return DeviceFactory(customer=TelematicsConsentFactory().customer, serial="REJ-1")


def _days_ago(days: float) -> int:
    return int((timezone.now() - dt.timedelta(days=days)).timestamp())


def _rejections(device) -> dict:
    return {r.reason: r.count for r in PositionRejection.objects.filter(device=device)}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"timestamp": str(_days_ago(30))}, "older_than_window"),
        ({"timestamp": str(_days_ago(-3))}, "ahead_of_clock"),
        ({"lat": "95.0"}, "coordinates_out_of_range"),
        ({"lon": "-181"}, "coordinates_out_of_range"),
        ({"speed": "400"}, "speed_out_of_range"),  # knots: 206 m/s
    ],
)
def test_a_position_never_to_be_stored_is_answered_200_and_recorded(client, device, overrides, reason):
    assert client.get(OSMAND, traccar_get(device)).status_code == 200  # a known device (lean path)
    for _ in range(2):
        response = client.get(OSMAND, traccar_get(device, **overrides))
        assert response.status_code == 200 and response.content == b""
    assert Position.objects.count() in (0, 1)  # the first, good one (once flushed), never these
    assert _rejections(device) == {reason: 2}
    rejection = PositionRejection.objects.get(device=device)
    assert rejection.last_at >= rejection.first_at
    if "timestamp" in overrides:
        assert rejection.last_recorded_at.timestamp() == int(overrides["timestamp"])
        assert "accepted time range" in rejection.detail


def test_the_window_is_position_max_age_days(client, device, settings):
    settings.TELEMATICS = {**settings.TELEMATICS, "POSITION_MAX_AGE_DAYS": 7}
    assert client.get(OSMAND, traccar_get(device, timestamp=str(_days_ago(6.9)))).status_code == 200
    assert client.get(OSMAND, traccar_get(device, timestamp=str(_days_ago(7.1)))).status_code == 200
    assert Position.objects.count() == 1 and _rejections(device) == {"older_than_window": 1}
    settings.TELEMATICS = {**settings.TELEMATICS, "POSITION_MAX_AGE_DAYS": 8}
    assert client.get(OSMAND, traccar_get(device, timestamp=str(_days_ago(7.1)))).status_code == 200
    assert Position.objects.count() == 2 and _rejections(device) == {"older_than_window": 1}


def test_a_json_list_stores_what_it_can_and_records_the_rest(client, device):
    body = traccar_json(device)
    late = {**body["location"], "timestamp": (timezone.now() - dt.timedelta(days=30)).isoformat()}
    body["location"] = [body["location"], late]
    response = client.post(f"{OSMAND}?key={device.raw_token}", orjson.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    assert Position.objects.count() == 1 and _rejections(device) == {"older_than_window": 1}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"lat": "north"}, "lat"), ({"id": None}, "id"), ({"timestamp": "yesterday"}, "timestamp")],
)
def test_a_malformed_request_is_still_400_naming_the_field_and_records_nothing(client, device, overrides, field):
    response = client.get(OSMAND, traccar_get(device, **overrides))
    assert response.status_code == 400 and response.json()["errors"]["field"] == field
    assert not PositionRejection.objects.exists()


def test_without_consent_the_answer_is_403_and_nothing_is_recorded(client, device):
    TelematicsConsent.objects.filter(customer=device.customer).update(withdrawn_at=timezone.now())
    assert client.get(OSMAND, traccar_get(device, timestamp=str(_days_ago(30)))).status_code == 403
    assert not PositionRejection.objects.exists() and not Position.objects.exists()


def test_the_gateway_batch_still_answers_400_naming_the_position(client, device):
    """Gateways are integrations of ours: a 400 naming positions[i] is theirs to act on."""
    t = _now_s()
    body = {
        "keys": {device.serial: device.raw_token},
        "positions": [{"id": device.serial, "t": at, "lat": 52.5, "lon": 13.4} for at in (t, t - 30 * 86400)],
    }
    response = client.post(BATCH, orjson.dumps(body), content_type="application/json")
    assert response.status_code == 400 and response.json()["errors"]["field"] == "positions[1].t"
    assert not PositionRejection.objects.exists()


def test_ops_see_the_rejections_in_the_back_office(client, device, admin_user):
    client.get(OSMAND, traccar_get(device, timestamp=str(_days_ago(30))))
    client.force_login(admin_user)
    page = client.get("/admin/telematics/positionrejection/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "REJ-1" in text and "older_than_window" in text and "accepted time range" in text
