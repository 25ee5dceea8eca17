import pytest

from apps.telematics.models import Device
from apps.telematics.services import device_authenticate
from tests.customers.factories import TelematicsConsentFactory
from tests.fleet.factories import VehicleFactory
from tests.telematics.factories import DeviceFactory, DriverFeaturesFactory, TripFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456789")
    client.force_login(user)
    return client


def test_creating_a_device_shows_its_token_once(admin_client):
    vehicle = VehicleFactory()
    response = admin_client.post(
        "/admin/telematics/device/add/",
        {"serial": "OBD-1", "kind": "obd", "vehicle": vehicle.pk, "customer": ""},
        follow=True,
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    (message,) = [m for m in messages if "not be shown again" in m]
    raw = message.split("<code>")[1].split("</code>")[0]
    device = Device.objects.get(serial="OBD-1")
    assert raw not in (device.token_hash, device.token_prefix)
    assert device_authenticate(raw_token=raw) == device
    page = admin_client.get(f"/admin/telematics/device/{device.pk}/change/")
    assert raw not in page.content.decode()


def test_changelists_and_trip_page_render(admin_client, django_assert_max_num_queries):
    consent = TelematicsConsentFactory()
    device = DeviceFactory(customer=consent.customer)
    trips = [TripFactory(device=device, driver=consent.customer) for _ in range(5)]
    trips[0].events = [
        {"type": "harsh_brake", "at": "2026-01-01T10:00:00Z", "lat": 52.5, "lon": 13.4, "magnitude": -5.0}
    ]
    trips[0].save()
    DriverFeaturesFactory(driver=consent.customer)
    for url in ("/admin/telematics/device/", "/admin/telematics/trip/", "/admin/telematics/driverfeatures/"):
        with django_assert_max_num_queries(15):
            assert admin_client.get(url).status_code == 200
    page = admin_client.get(f"/admin/telematics/trip/{trips[0].pk}/change/")
    assert page.status_code == 200
    assert "harsh_brake" in page.content.decode()
    assert admin_client.get("/admin/telematics/trip/add/").status_code == 403


def test_revoke_action(admin_client):
    device = DeviceFactory()
    admin_client.post("/admin/telematics/device/", {"action": "revoke", "_selected_action": [device.pk]})
    device.refresh_from_db()
    assert device.revoked_at is not None and not device.is_active
    assert device_authenticate(raw_token=device.raw_token) is None
