"""The OsmAnd endpoint with the requests the Traccar Client apps send, and the gateway batch."""

import datetime as dt

import orjson
import pytest
from django.utils import timezone

from apps.customers.models import TelematicsConsent
from apps.telematics.models import Position, PositionCursor, PositionRejection
from tests.customers.factories import TelematicsConsentFactory
from tests.telematics.factories import DeviceFactory

pytestmark = pytest.mark.django_db
THROUGH_LEAN_PATH = True  # every test twice: Django's stack, and the lean path before it (conftest)
OSMAND = "/api/v1/telematics/osmand"
BATCH = "/api/v1/telematics/positions"


@pytest.fixture
def device():
    consent = TelematicsConsentFactory()
    return DeviceFactory(customer=consent.customer, serial="864512")


def _now_s() -> int:
    return int(timezone.now().timestamp()) - 60


def traccar_get(device, **overrides) -> dict:
    """The query string of the classic Traccar Client (Android): speed in knots, epoch seconds."""
    params = {
        "id": device.serial,
        "timestamp": str(_now_s()),
        "lat": "52.520008",
        "lon": "13.404954",
        "speed": "19.4384",  # knots: 10 m/s
        "bearing": "87.5",
        "altitude": "34.0",
        "accuracy": "4.8",
        "batt": "81.0",
        "key": device.raw_token,
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def traccar_json(device, **location) -> dict:
    """The body of the current Traccar Client (speed in m/s, battery level 0..1)."""
    body = {
        "location": {
            "timestamp": (timezone.now() - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "coords": {
                "latitude": 52.520008,
                "longitude": 13.404954,
                "accuracy": 5.1,
                "speed": 12.5,
                "heading": 90.0,
                "altitude": 34.2,
            },
            "is_moving": True,
            "odometer": 1234.5,
            "event": "motionchange",
            "battery": {"level": 0.62, "is_charging": False},
            "activity": {"type": "in_vehicle"},
            "extras": {},
        },
        "device_id": device.serial,
    }
    body["location"].update(location)
    return body


def test_get_query_string_stores_the_position(client, device, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(OSMAND, traccar_get(device))
    assert response.status_code == 200 and response.content == b""
    position = Position.objects.get()
    assert position.device_id == device.pk
    assert position.latitude == pytest.approx(52.520008) and position.longitude == pytest.approx(13.404954)
    assert position.speed_mps == pytest.approx(10.0, abs=1e-3)
    assert (position.heading_deg, position.accuracy_m, position.battery_pct) == (87.5, pytest.approx(4.8), 81.0)
    assert abs(position.recorded_at.timestamp() - _now_s()) < 5
    assert PositionCursor.objects.get(device=device).version == 1


def test_post_form_and_key_as_path_segment(client, device):
    params = traccar_get(device, key=None)
    response = client.post(f"{OSMAND}/{device.raw_token}", params)
    assert response.status_code == 200, response.content
    assert Position.objects.count() == 1


def test_iso_and_millisecond_timestamps(client, device):
    iso = (timezone.now() - dt.timedelta(minutes=3)).replace(microsecond=0)
    assert client.get(OSMAND, traccar_get(device, timestamp=iso.isoformat())).status_code == 200
    ms = int((iso + dt.timedelta(minutes=1)).timestamp() * 1000)
    assert client.get(OSMAND, traccar_get(device, timestamp=str(ms))).status_code == 200
    times = list(Position.objects.order_by("recorded_at").values_list("recorded_at", flat=True))
    assert times == [iso, iso + dt.timedelta(minutes=1)]


def test_json_body_of_the_current_traccar_client(client, device):
    body = traccar_json(device)
    response = client.post(f"{OSMAND}?key={device.raw_token}", orjson.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    position = Position.objects.get()
    assert position.speed_mps == pytest.approx(12.5)
    assert position.battery_pct == pytest.approx(62.0)
    assert position.accuracy_m == pytest.approx(5.1)


def test_json_unknown_speed_and_heading_are_stored_as_unknown(client, device):
    body = traccar_json(device)
    body["location"]["coords"].update(speed=-1, heading=-1)
    response = client.post(f"{OSMAND}?key={device.raw_token}", orjson.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    position = Position.objects.get()
    assert position.speed_mps is None and position.heading_deg is None


def test_the_same_position_twice_is_stored_once_and_the_first_wins(client, device):
    first = traccar_get(device)
    assert client.get(OSMAND, first).status_code == 200
    assert client.get(OSMAND, {**first, "lat": "52.6"}).status_code == 200
    assert Position.objects.get().latitude == pytest.approx(52.520008)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lat": None}, "lat"),
        ({"lon": "east"}, "lon"),
        ({"id": None}, "id"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"speed": "fast"}, "speed"),
    ],
)
def test_bad_or_missing_fields_answer_400_naming_the_field(client, device, overrides, field):
    response = client.get(OSMAND, traccar_get(device, **overrides))
    assert response.status_code == 400, response.content
    assert response.json()["errors"]["field"] == field
    assert not Position.objects.exists()


def test_json_missing_coords_names_the_field(client, device):
    body = traccar_json(device)
    del body["location"]["coords"]["latitude"]
    response = client.post(f"{OSMAND}?key={device.raw_token}", orjson.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"]["field"] == "location.coords.latitude"


def test_wrong_key_is_401_and_unknown_identifier_is_404(client, device):
    assert client.get(OSMAND, traccar_get(device, key="dev_0123456789.nope")).status_code == 401
    assert client.get(OSMAND, traccar_get(device, key=None)).status_code == 401
    assert client.get(OSMAND, traccar_get(device, id="999999")).status_code == 404
    assert not Position.objects.exists()


def test_revoked_device_is_401(client, device):
    device.revoked_at = timezone.now()
    device.is_active = False
    device.save()
    assert client.get(OSMAND, traccar_get(device)).status_code == 401
    assert not Position.objects.exists()


def test_withdrawn_consent_is_refused_and_nothing_is_stored(client, device):
    TelematicsConsent.objects.filter(customer=device.customer).update(withdrawn_at=timezone.now())
    response = client.get(OSMAND, traccar_get(device))
    assert response.status_code == 403
    assert response.json()["reason"] == "consent_withdrawn"
    assert not Position.objects.exists() and not PositionCursor.objects.exists()


def test_late_positions_within_the_window_are_accepted(client, device):
    for minutes in (1, 90, 60 * 24 * 3):
        ts = str(int((timezone.now() - dt.timedelta(minutes=minutes)).timestamp()))
        assert client.get(OSMAND, traccar_get(device, timestamp=ts)).status_code == 200
    assert Position.objects.count() == 3


def _days_ago(days: float) -> int:
    return int((timezone.now() - dt.timedelta(days=days)).timestamp())


def test_the_live_window_is_position_max_age_days_on_both_endpoints(client, device, settings):
    """Late positions inside POSITION_MAX_AGE_DAYS are stored, older ones are not (historical
    data goes through manage.py import_positions), on the OsmAnd endpoint and on the gateway
    batch alike; the window is the setting's. The OsmAnd endpoint answers an older one 200 and
    records it (a Traccar Client would retry a 400 forever: test_positions_rejections), the
    batch a 400 naming the position."""
    settings.TELEMATICS = {**settings.TELEMATICS, "POSITION_MAX_AGE_DAYS": 7}
    inside, outside = _days_ago(6.9), _days_ago(7.1)
    assert client.get(OSMAND, traccar_get(device, timestamp=str(inside))).status_code == 200
    response = client.get(OSMAND, traccar_get(device, timestamp=str(outside)))
    assert response.status_code == 200
    assert PositionRejection.objects.get(device=device).reason == "older_than_window"
    body = {
        "keys": {device.serial: device.raw_token},
        "positions": [{"id": device.serial, "t": t, "lat": 52.5, "lon": 13.4} for t in (inside + 10, outside)],
    }
    response = client.post(BATCH, orjson.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"]["field"] == "positions[1].t"
    assert Position.objects.count() == 1
    settings.TELEMATICS = {**settings.TELEMATICS, "POSITION_MAX_AGE_DAYS": 8}
    assert client.get(OSMAND, traccar_get(device, timestamp=str(outside))).status_code == 200
    assert Position.objects.count() == 2


# --- the gateway batch -------------------------------------------------------------------


def test_batch_stores_many_devices_and_reports_refusals(client, device):
    other = DeviceFactory(customer=TelematicsConsentFactory().customer)
    no_consent = DeviceFactory(customer=TelematicsConsentFactory().customer)
    TelematicsConsent.objects.filter(customer=no_consent.customer).update(withdrawn_at=timezone.now())
    t0 = _now_s() - 600
    positions = [
        {"id": device.serial, "t": t0 + i * 10, "lat": 52.5 + i * 1e-3, "lon": 13.4, "speed": 10.0} for i in range(5)
    ]
    positions += [{"id": other.serial, "t": t0 + i * 10, "lat": 48.1, "lon": 11.5 + i * 1e-3} for i in range(3)]
    positions += [{"id": no_consent.serial, "t": t0, "lat": 50.0, "lon": 8.0}]
    positions += [{"id": "intruder", "t": t0, "lat": 50.0, "lon": 8.0}]
    positions += [positions[0]]  # sent twice
    body = {
        "keys": {
            device.serial: device.raw_token,
            other.serial: other.raw_token,
            no_consent.serial: no_consent.raw_token,
            "intruder": "dev_0123456789.nope",
        },
        "positions": positions,
    }
    response = client.post(BATCH, orjson.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "received": 11,
        "stored": 8,
        "duplicates": 1,
        "dropped": {},
        "refused": {no_consent.serial: "consent_withdrawn", "intruder": "authentication_failed"},
    }
    assert Position.objects.filter(device=device).count() == 5
    assert Position.objects.filter(device=other).count() == 3
    assert Position.objects.get(device=other, recorded_at=dt.datetime.fromtimestamp(t0, tz=dt.UTC)).speed_mps is None


def test_batch_columnar_and_cleaning_drops(client, device):
    t0 = _now_s() - 600
    body = {
        "keys": {device.serial: device.raw_token},
        "positions": {
            "id": [device.serial] * 4,
            "t": [t0, t0 + 10, t0 + 20, t0 + 30],
            "lat": [52.5, 52.501, 53.9, 52.502],  # the third is a jump of 150 km in 10 s
            "lon": [13.4, 13.4, 13.4, 13.4],
        },
    }
    response = client.post(BATCH, orjson.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["stored"] == 3 and response.json()["dropped"] == {"implausible_jump": 1}


def test_batch_with_no_valid_key_is_401_and_bad_field_is_400(client, device):
    t0 = _now_s()
    positions = [{"id": device.serial, "t": t0, "lat": 52.5, "lon": 13.4}]
    response = client.post(
        BATCH, orjson.dumps({"keys": {device.serial: "x"}, "positions": positions}), content_type="application/json"
    )
    assert response.status_code == 401
    positions.append({"id": device.serial, "t": t0 + 1, "lat": "north", "lon": 13.4})
    response = client.post(
        BATCH,
        orjson.dumps({"keys": {device.serial: device.raw_token}, "positions": positions}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["field"] == "positions[1].lat"
    assert not Position.objects.exists()


def test_batch_reads_the_device_version_once_and_checks_its_keys_itself(client, device, monkeypatch):
    """The shared device version is read once per request, not once per device; the body is
    checked by the view (a NUL in a key is a 400 naming `keys`), not walked by the middleware."""
    from apps.telematics.services import devices as device_services

    others = [DeviceFactory(customer=TelematicsConsentFactory().customer) for _ in range(2)]
    reads = []
    real = device_services.cache.get
    monkeypatch.setattr(device_services.cache, "get", lambda key, *a, **kw: reads.append(key) or real(key, *a, **kw))
    t0 = _now_s() - 600
    body = {
        "keys": {d.serial: d.raw_token for d in (device, *others)},
        "positions": [{"id": d.serial, "t": t0, "lat": 52.5, "lon": 13.4} for d in (device, *others)],
    }
    response = client.post(BATCH, orjson.dumps(body), content_type="application/json")
    assert response.status_code == 200 and response.json()["stored"] == 3
    assert reads.count("telematics:device-version") == 1
    body["keys"][device.serial] = device.raw_token + "\u0000"
    response = client.post(BATCH, orjson.dumps(body), content_type="application/json")
    assert response.status_code == 400 and response.json()["errors"]["field"] == "keys"
    assert Position.objects.count() == 3
