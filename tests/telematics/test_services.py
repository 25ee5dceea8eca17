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


def test_uploads_queue_one_feature_task_while_one_is_waiting(device, monkeypatch, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from apps.telematics import services, tasks
    from apps.telematics.services.trip_features import _features_requested_key

    queued = []
    monkeypatch.setattr(tasks.trip_features_pending, "delay", lambda: queued.append(1))
    cache.delete(_features_requested_key())
    for n in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            trip_ingest(device=device, upload=_upload(f"q{n}"))
    assert queued == [1]  # the first upload queued the task; the next two found it waiting
    assert Trip.objects.filter(feature_status=Trip.FeatureStatus.PENDING).count() == 3

    assert services.trip_features_compute_pending() == 3
    assert not Trip.objects.exclude(feature_status=Trip.FeatureStatus.DONE).exists()
    with django_capture_on_commit_callbacks(execute=True):
        trip_ingest(device=device, upload=_upload("after"))
    assert queued == [1, 1]  # the task cleared the key before it read the pending trips
    cache.delete(_features_requested_key())


def test_pending_features_task_computes_every_pending_trip_in_chunks(device):
    from apps.telematics.services import trip_features_compute_pending

    ids = [trip_ingest(device=device, upload=_upload(f"c{n}"), enqueue_features=False).trip_id for n in range(5)]
    assert trip_features_compute_pending(chunk=2) == 5
    trips = Trip.objects.filter(pk__in=ids)
    assert sorted(t.feature_status for t in trips) == ["done"] * 5
    assert all(t.distance_km > 0 for t in trips)
    assert trip_features_compute_pending() == 0


def test_a_trip_whose_features_fail_does_not_hold_up_the_others(device, monkeypatch):
    from apps.telematics import services
    from apps.telematics.services import trip_features

    ids = [trip_ingest(device=device, upload=_upload(f"f{n}"), enqueue_features=False).trip_id for n in range(3)]
    real = services.trip_features_compute_many

    def failing_for_the_second(*, trip_ids, **kwargs):
        if ids[1] in trip_ids:
            raise ValueError("bad trip")
        return real(trip_ids=trip_ids, **kwargs)

    monkeypatch.setattr(trip_features, "trip_features_compute_many", failing_for_the_second)
    assert services.trip_features_compute_pending() == 2
    status = dict(Trip.objects.filter(pk__in=ids).values_list("pk", "feature_status"))
    assert status == {ids[0]: "done", ids[1]: "failed", ids[2]: "done"}
