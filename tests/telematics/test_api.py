import datetime as dt
import gzip
import threading

import orjson
import pytest
from django.db import connection
from django.utils import timezone

from apps.telematics.models import TelematicsSample, Trip
from tests.customers.factories import CustomerFactory, TelematicsConsentFactory
from tests.fleet.factories import VehicleFactory
from tests.telematics.factories import DeviceFactory
from tests.telematics.helpers import cruise, hand_built_stop

URL = "/api/v1/telematics/trips"
pytestmark = pytest.mark.django_db


@pytest.fixture
def device():
    consent = TelematicsConsentFactory()
    return DeviceFactory(customer=consent.customer)


def post(client, device, body, *, content_type="application/json", token=None, **headers):
    if isinstance(body, dict):
        body = orjson.dumps(body)
    return client.post(
        URL,
        data=body,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Device {token or device.raw_token}",
        **headers,
    )


def nothing_stored():
    return not Trip.objects.exists() and not TelematicsSample.objects.exists()


def test_upload_stores_the_trip_and_samples_and_computes_features(client, device, django_capture_on_commit_callbacks):
    samples = hand_built_stop()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, device, {"external_id": "t-1", "samples": samples})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["samples"] == {"received": 45, "stored": 45, "dropped": {}, "dropped_total": 0, "reordered": 0}
    trip = Trip.objects.get(pk=body["trip_id"])
    assert trip.driver_id == device.customer_id and trip.vehicle_id == device.vehicle_id
    assert TelematicsSample.objects.filter(trip=trip).count() == 45
    assert trip.feature_status == Trip.FeatureStatus.DONE  # the Celery task ran on commit (eager in tests)
    assert trip.harsh_brake_count == 1


def test_columnar_json_is_accepted(client, device):
    rows = cruise(30)
    columns = {key: [s[key] for s in rows] for key in rows[0]}
    response = post(client, device, {"external_id": "cols", "samples": columns})
    assert response.status_code == 201, response.content
    assert response.json()["samples"]["stored"] == 30


def test_gzip_body(client, device):
    body = gzip.compress(orjson.dumps({"external_id": "gz", "samples": cruise(25)}))
    response = post(client, device, body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 201, response.content
    assert TelematicsSample.objects.count() == 25


def test_csv_body(client, device):
    rows = cruise(15, limit=13.9)
    header = "t,lat,lon,speed,acc_lon,acc_lat,heading,speed_limit,phone\n"
    lines = "".join(
        f"{s['t']},{s['lat']},{s['lon']},{s['speed']},{s['acc_lon']},{s['acc_lat']},{s['heading']},13.9,"
        f"{'true' if i == 3 else ''}\n"
        for i, s in enumerate(rows)
    )
    response = post(client, device, (header + lines).encode(), content_type="text/csv", QUERY_STRING="external_id=c1")
    assert response.status_code == 201, response.content
    stored = TelematicsSample.objects.order_by("recorded_at")
    assert stored.count() == 15
    assert [s.phone_use for s in stored[:5]] == [None, None, None, True, None]
    assert stored[0].speed_limit_mps == pytest.approx(13.9)


def test_csv_bad_cell_names_row_and_column(client, device):
    body = b"t,lat,lon,speed,acc_lon,acc_lat\n" + b"".join(
        f"{s['t']},{s['lat']},{s['lon']},{'fast' if i == 4 else s['speed']},0,0\n".encode()
        for i, s in enumerate(cruise(8))
    )
    response = post(client, device, body, content_type="text/csv", QUERY_STRING="external_id=c2")
    assert response.status_code == 400
    assert response.json()["errors"]["field"] == "speed" and response.json()["errors"]["index"] == 4
    assert nothing_stored()


def test_same_upload_again_returns_the_existing_trip(client, device):
    body = {"external_id": "again", "samples": cruise(20) + cruise(20)[:2]}
    first = post(client, device, body)
    second = post(client, device, body)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["trip_id"] == second.json()["trip_id"]
    assert second.json()["created"] is False
    assert second.json()["samples"]["dropped"] == {"duplicate": 2}
    assert Trip.objects.count() == 1 and TelematicsSample.objects.count() == 20


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_identical_uploads_store_one_trip(device):
    from django.test import Client

    body = orjson.dumps({"external_id": "race", "samples": cruise(200)})
    statuses = []
    barrier = threading.Barrier(3)

    def upload():
        barrier.wait()
        response = Client().post(
            URL, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Device {device.raw_token}"
        )
        statuses.append(response.status_code)
        connection.close()

    threads = [threading.Thread(target=upload) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 200, 201]
    assert Trip.objects.count() == 1 and TelematicsSample.objects.count() == 200


@pytest.mark.parametrize("withdrawn", [True, False])
def test_no_consent_in_force_stores_nothing(client, withdrawn):
    customer = CustomerFactory()
    if withdrawn:
        TelematicsConsentFactory(
            customer=customer, given_at=timezone.now() - dt.timedelta(days=9), withdrawn_at=timezone.now()
        )
    device = DeviceFactory(customer=customer)
    response = post(client, device, {"external_id": "nc", "samples": cruise(20)})
    assert response.status_code == 403
    assert response.json()["reason"] == ("consent_withdrawn" if withdrawn else "no_consent")
    assert "nothing was stored" in response.json()["detail"]
    assert nothing_stored()


def test_driver_named_in_the_upload_is_checked_for_consent(client, device):
    other = CustomerFactory()
    TelematicsConsentFactory(
        customer=other, given_at=timezone.now() - dt.timedelta(days=9), withdrawn_at=timezone.now()
    )
    response = post(client, device, {"external_id": "d", "driver": other.pk, "samples": cruise(20)})
    assert response.status_code == 403
    assert nothing_stored()


def _samples_with(index, **change):
    samples = cruise(12)
    samples[index].update(change)
    return samples


@pytest.mark.parametrize(
    ("body", "field", "index"),
    [
        (b"{not json", "body", None),
        (b"[1, 2]", "body", None),
        ({"samples": cruise(5)}, "external_id", None),
        ({"external_id": "", "samples": cruise(5)}, "external_id", None),
        ({"external_id": "m"}, "samples", None),
        ({"external_id": "m", "samples": "lots"}, "samples", None),
        ({"external_id": "m", "samples": cruise(1)}, "samples", 1),
        ({"external_id": "m", "samples": [*cruise(3), 7]}, "samples[3]", 3),
        ({"external_id": "m", "samples": _samples_with(7, lat=None)}, "samples[7].lat", 7),
        ({"external_id": "m", "samples": _samples_with(2, speed="12")}, "samples[2].speed", 2),
        ({"external_id": "m", "samples": _samples_with(0, t=1.0)}, "samples[0].t", 0),
        ({"external_id": "m", "vehicle": "VIN123", "samples": cruise(5)}, "vehicle", None),
        ({"external_id": "m", "vehicle": 987654321, "samples": cruise(5)}, "vehicle", None),
        ({"external_id": "m", "samples": {"t": [1, 2], "lat": [1.0]}}, "samples.lat", 1),
    ],
)
def test_malformed_bodies_get_400_with_field_and_index_and_store_nothing(client, device, body, field, index):
    response = post(client, device, body)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert errors["field"] == field
    assert errors["index"] == index
    assert errors["detail"]
    assert nothing_stored()


def test_more_samples_than_the_limit_is_refused(client, device, settings):
    settings.TELEMATICS = {**settings.TELEMATICS, "MAX_SAMPLES_PER_TRIP": 50}
    response = post(client, device, {"external_id": "big", "samples": cruise(51)})
    assert response.status_code == 400
    assert response.json()["errors"]["field"] == "samples" and response.json()["errors"]["index"] == 50
    assert nothing_stored()


def test_all_samples_impossible_stores_nothing(client, device):
    samples = [dict(s, lat=95.0) for s in cruise(10)]
    response = post(client, device, {"external_id": "bad", "samples": samples})
    assert response.status_code == 400
    assert response.json()["errors"]["dropped"] == {"coordinates_out_of_range": 10}
    assert nothing_stored()


def test_bad_gzip_is_400(client, device):
    response = post(client, device, b"\x1f\x8b not really", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400 and response.json()["errors"]["field"] == "body"


@pytest.mark.parametrize("header", [None, "Device nope", "Bearer abc", "Device dev_12345678.wrong"])
def test_missing_or_wrong_token_is_401(client, header):
    kwargs = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post(URL, data=b"{}", content_type="application/json", **kwargs)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Device"


def test_revoked_device_is_401(client, device):
    from apps.telematics.services import device_revoke

    device_revoke(device=device)
    response = post(client, device, {"external_id": "r", "samples": cruise(5)})
    assert response.status_code == 401
    assert nothing_stored()


def test_vehicle_and_driver_can_be_named(client, device):
    vehicle = VehicleFactory()
    response = post(client, device, {"external_id": "v", "vehicle": vehicle.pk, "samples": cruise(5)})
    assert response.status_code == 201
    assert Trip.objects.get().vehicle_id == vehicle.pk


@pytest.mark.parametrize("consented", [True, False])
def test_the_vehicles_rental_names_the_driver_when_the_device_cannot(client, consented):
    from tests.transactions.factories import RentalFactory

    device = DeviceFactory(customer=None)
    samples = cruise(20)
    start = timezone.datetime.fromtimestamp(samples[0]["t"], tz=dt.UTC)
    rental = RentalFactory(
        vehicle=device.vehicle,
        rented_at=start - dt.timedelta(days=1),
        due_at=start + dt.timedelta(days=1),
        returned_at=start + dt.timedelta(days=1),
    )
    if consented:
        TelematicsConsentFactory(customer=rental.customer)
    response = post(client, device, {"external_id": "rent", "samples": samples})
    if consented:
        assert response.status_code == 201, response.content
        trip = Trip.objects.get()
        assert (trip.driver_id, trip.rental_id) == (rental.customer_id, rental.pk)
    else:
        assert response.status_code == 403 and response.json()["reason"] == "no_consent"
        assert nothing_stored()


def test_unknown_driver_is_400_and_stores_nothing(client, device):
    response = post(client, device, {"external_id": "d", "driver": 987654321, "samples": cruise(5)})
    assert response.status_code == 400
    assert response.json()["errors"]["field"] == "driver"
    assert nothing_stored()


def test_errors_carry_the_request_id_and_the_api_error_shape(client, device):
    response = post(client, device, b"{not json", HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 400
    assert response.headers["X-Request-ID"] == "req-42"
    assert response.json()["type"] == "invalid" and response.json()["status"] == 400
    assert response.json()["request_id"] == "req-42"
    unauthorized = client.post(URL, data=b"{}", content_type="application/json", HTTP_X_REQUEST_ID="req-43")
    assert unauthorized.json() == {
        "type": "not_authenticated",
        "status": 401,
        "request_id": "req-43",
        "detail": "Authentication credentials were not provided.",
    }


def test_other_methods_are_405_for_a_device(client, device):
    response = client.get(URL, HTTP_AUTHORIZATION=f"Device {device.raw_token}")
    assert response.status_code == 405


def test_a_reupload_that_cleaning_would_refuse_still_returns_the_stored_trip(client, device):
    first = post(client, device, {"external_id": "kept", "samples": cruise(10)})
    # The same trip id again, now with every fix impossible: the stored trip is the answer.
    broken = [{**s, "lat": 95.0} for s in cruise(10)]
    again = post(client, device, {"external_id": "kept", "samples": broken})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["trip_id"] == first.json()["trip_id"]
    assert TelematicsSample.objects.count() == 10


def test_a_reupload_after_consent_is_withdrawn_returns_the_stored_trip(client, device):
    first = post(client, device, {"external_id": "before", "samples": cruise(10)})
    device.customer.telematics_consents.update(withdrawn_at=timezone.now())
    again = post(client, device, {"external_id": "before", "samples": cruise(10)})
    assert (first.status_code, again.status_code) == (201, 200)
    assert Trip.objects.count() == 1


def test_many_uploads_on_one_connection_reuse_the_prepared_statements(client, device):
    def prepared_trip_statements():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%INSERT INTO telematics_trip%%'"
            )
            return cursor.fetchone()[0]

    before = prepared_trip_statements()
    ids = {post(client, device, {"external_id": f"p{n}", "samples": cruise(8 + n)}).json()["trip_id"] for n in range(8)}
    assert len(ids) == 8
    assert sorted(Trip.objects.filter(pk__in=ids).values_list("samples_stored", flat=True)) == list(range(8, 16))
    # Prepared once per connection (and per NULL pattern of vehicle/driver), then only executed.
    assert prepared_trip_statements() >= 1
    assert prepared_trip_statements() - before <= 1


def test_a_device_revoked_after_uploading_is_refused_at_its_next_upload(client, device):
    from apps.telematics.services import device_revoke

    assert post(client, device, {"external_id": "ok", "samples": cruise(6)}).status_code == 201
    device_revoke(device=device)
    again = post(client, device, {"external_id": "after-revoke", "samples": cruise(6)})
    assert again.status_code == 401
    assert again.headers["WWW-Authenticate"] == "Device"
    assert list(Trip.objects.values_list("external_id", flat=True)) == ["ok"]
    # Nor does it get its stored trip back.
    assert post(client, device, {"external_id": "ok", "samples": cruise(6)}).status_code == 401


@pytest.mark.parametrize("vehicle", ["²", "99999999999999999999999"])
def test_a_csv_vehicle_id_in_non_ascii_digits_or_beyond_bigint_is_a_400(client, device, vehicle):
    header = "t,lat,lon,speed,acc_lon,acc_lat\n"
    body = header + "".join(f"{s['t']},{s['lat']},{s['lon']},{s['speed']},0,0\n" for s in cruise(5))
    response = client.post(
        f"{URL}?external_id=c&vehicle={vehicle}",
        data=body.encode(),
        content_type="text/csv",
        HTTP_AUTHORIZATION=f"Device {device.raw_token}",
    )
    assert response.status_code == 400 and response.json()["errors"]["field"] == "vehicle"
    assert nothing_stored()


def test_an_unknown_content_type_is_a_415_and_an_oversized_body_a_413(client, device, settings):
    response = post(client, device, b"<trip/>", content_type="application/xml")
    assert response.status_code == 415 and response.json()["type"] == "unsupported_media_type"
    settings.TELEMATICS = {**settings.TELEMATICS, "MAX_BODY_BYTES": 100}
    response = post(client, device, {"external_id": "big", "samples": cruise(20)})
    assert response.status_code == 413 and response.json()["type"] == "request_too_large"
    assert nothing_stored()


def test_a_revoked_device_is_refused_at_once_even_where_it_was_remembered(client, device):
    """The per-process memory of devices answered for up to 30 s after a revocation (400 or 200
    instead of 401)."""
    from apps.telematics.services import device_revoke

    assert post(client, device, {"external_id": "before", "samples": cruise(5)}).status_code == 201
    device_revoke(device=device)
    assert post(client, device, b"{not json").status_code == 401
    assert post(client, device, {"external_id": "after", "samples": cruise(5)}).status_code == 401
