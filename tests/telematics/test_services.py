import orjson
import pytest
from django.utils import timezone

from apps.telematics.ingest import parse_json
from apps.telematics.models import TelematicsSample, Trip
from apps.telematics.services import TRIP_FEATURE_FIELDS, DeviceRefused, device_authenticate, trip_ingest
from tests.customers.factories import TelematicsConsentFactory
from tests.telematics.factories import DeviceFactory
from tests.telematics.helpers import cruise

pytestmark = pytest.mark.django_db


def _upload(external_id: str, n: int = 10):
    return parse_json(orjson.dumps({"external_id": external_id, "samples": cruise(n)}))


@pytest.fixture
def device():
    return DeviceFactory(customer=TelematicsConsentFactory().customer)


def test_a_device_revoked_while_its_upload_is_in_flight_stores_nothing(device):
    authenticated = device_authenticate(raw_token=device.raw_token)
    type(device).objects.filter(pk=device.pk).update(revoked_at=timezone.now(), is_active=False)
    with pytest.raises(DeviceRefused) as exc:
        trip_ingest(device=authenticated, upload=_upload("late"), enqueue_features=False)
    assert exc.value.code == "device_inactive"
    assert not Trip.objects.exists() and not TelematicsSample.objects.exists()


def test_a_stored_trip_has_the_models_defaults_for_everything_the_upload_does_not_set(device):
    result = trip_ingest(device=device, upload=_upload("defaults"), enqueue_features=False)
    stored = Trip.objects.get(pk=result.trip_id)
    fresh = Trip()
    for name in (*TRIP_FEATURE_FIELDS, "feature_status", "features_computed_at"):
        assert getattr(stored, name) == getattr(fresh, name), name
    assert (stored.samples_received, stored.samples_stored, stored.samples_dropped) == (10, 10, {})
    assert (stored.driver_id, stored.vehicle_id, stored.rental_id) == (device.customer_id, device.vehicle_id, None)
    assert stored.created_at is not None and stored.started_at < stored.ended_at


def test_ingest_result_matches_the_stored_trip(device):
    first = trip_ingest(device=device, upload=_upload("same"), enqueue_features=False)
    again = trip_ingest(device=device, upload=_upload("same"), enqueue_features=False)
    assert (first.created, again.created) == (True, False)
    assert again.as_dict() == {**first.as_dict(), "created": False}
    assert again.trip.pk == first.trip_id
