"""Trip detection from streamed positions: stops, open trips, late positions, idempotency,
midnight and month boundaries."""

import datetime as dt

import pytest
from django.db import connection

from apps.telematics.detection import trips_detect_pending
from apps.telematics.models import PositionCursor, TelematicsSample, Trip
from apps.telematics.partitions import SAMPLES_TABLE
from apps.telematics.services import trip_features_compute_pending
from tests.customers.factories import TelematicsConsentFactory
from tests.telematics.factories import DeviceFactory
from tests.telematics.streams import legs, store

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 10, 11, 0, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(days=1)


@pytest.fixture
def device():
    return DeviceFactory(customer=TelematicsConsentFactory().customer)


def detect(now) -> int:
    """A detection run, then the trip-features task it queues on commit (run here directly)."""
    devices = trips_detect_pending(now=now)
    trip_features_compute_pending()
    return devices


def trips(device):
    return list(Trip.objects.filter(device=device).order_by("started_at"))


def test_a_drive_between_two_stands_is_one_trip_with_features(device):
    t, lat, lon, v = legs(T0, [(600, 0), (1200, 15), (600, 0)])
    store(device, t, lat, lon, v)
    assert detect(LATER) == 1
    (trip,) = trips(device)
    assert trip.source == Trip.Source.POSITIONS and not trip.in_progress
    # from the last fix standing to the first fix standing again
    assert trip.started_at == T0 + dt.timedelta(seconds=590)
    assert trip.ended_at == T0 + dt.timedelta(seconds=1800)
    assert trip.driver_id == device.customer_id and trip.vehicle_id == device.vehicle_id
    assert TelematicsSample.objects.filter(trip=trip).count() == 122
    trip.refresh_from_db()
    assert trip.feature_status == Trip.FeatureStatus.DONE
    assert trip.distance_km == pytest.approx(18.0, rel=0.02)
    assert PositionCursor.objects.get(device=device).dirty_from is None


@pytest.mark.parametrize(("stop_s", "expected"), [(240, 1), (360, 2)])
def test_a_stop_of_4_minutes_continues_and_6_minutes_splits(device, stop_s, expected):
    t, lat, lon, v = legs(T0, [(300, 12), (stop_s, 0), (300, 12), (600, 0)])
    store(device, t, lat, lon, v)
    detect(LATER)
    assert len(trips(device)) == expected


def test_detection_is_idempotent(device):
    t, lat, lon, v = legs(T0, [(300, 12), (600, 0), (300, 12), (600, 0)])
    store(device, t, lat, lon, v)
    detect(LATER)
    before = [(x.pk, x.started_at, x.ended_at, x.distance_km) for x in trips(device)]
    assert len(before) == 2
    PositionCursor.objects.filter(device=device).update(dirty_from=T0 - dt.timedelta(days=1))
    detect(LATER)
    after = [(x.pk, x.started_at, x.ended_at, x.distance_km) for x in trips(device)]
    assert after == before


def test_open_trip_is_in_progress_until_the_stop_time_passes(device):
    t, lat, lon, v = legs(T0, [(300, 0), (600, 14)])
    store(device, t, lat, lon, v)
    last = T0 + dt.timedelta(seconds=900)
    detect(last + dt.timedelta(seconds=20))
    (trip,) = trips(device)
    assert trip.in_progress and trip.feature_status == Trip.FeatureStatus.PENDING
    # Nothing new arrives; the vehicle stopped reporting: the beat run closes the trip.
    detect(last + dt.timedelta(minutes=6))
    trip.refresh_from_db()
    assert not trip.in_progress and trip.feature_status == Trip.FeatureStatus.DONE


def test_late_positions_extend_the_right_trip(device):
    t, lat, lon, v = legs(T0, [(300, 0), (900, 14), (600, 0)])
    first = t < (T0 + dt.timedelta(seconds=900)).timestamp() * 1e6
    store(device, t[first], lat[first], lon[first], v[first])
    detect(LATER)
    (trip,) = trips(device)
    assert trip.ended_at == T0 + dt.timedelta(seconds=890)
    store(device, t[~first], lat[~first], lon[~first], v[~first])  # the phone's buffer arrives
    detect(LATER)
    (again,) = trips(device)
    assert again.pk == trip.pk
    assert again.ended_at == T0 + dt.timedelta(seconds=1200)
    assert again.feature_status == Trip.FeatureStatus.DONE
    assert again.distance_km == pytest.approx(900 * 14 / 1000, rel=0.02)


def test_late_positions_inside_a_stop_join_two_trips(device):
    # A loop out and back at 3 m/s between two drives: without its fixes the 7 minutes look
    # like a stop where the vehicle stood, so two trips; its fixes arrive late and join them.
    t, lat, lon, v = legs(T0, [(300, 0), (600, 14), (210, -3), (210, 3), (600, 14), (600, 0)])
    loop = (t > (T0 + dt.timedelta(seconds=900)).timestamp() * 1e6) & (
        t < (T0 + dt.timedelta(seconds=1320)).timestamp() * 1e6
    )
    v = abs(v)
    store(device, t[~loop], lat[~loop], lon[~loop], v[~loop])
    detect(LATER)
    first, second = trips(device)
    store(device, t[loop], lat[loop], lon[loop], v[loop])
    detect(LATER)
    (joined,) = trips(device)
    assert joined.pk == first.pk and not Trip.objects.filter(pk=second.pk).exists()
    assert joined.started_at == first.started_at and joined.ended_at == second.ended_at
    assert not TelematicsSample.objects.filter(trip_id=second.pk).exists()


def test_a_trip_across_midnight_and_the_month_end(device):
    start = dt.datetime(2026, 1, 31, 23, 50, tzinfo=dt.UTC)
    t, lat, lon, v = legs(start, [(300, 0), (1200, 12), (600, 0)])
    store(device, t, lat, lon, v)
    detect(LATER)
    (trip,) = trips(device)
    assert trip.started_at.month == 1 and trip.ended_at.month == 2
    assert TelematicsSample.objects.filter(trip=trip).count() == 122
    trip.refresh_from_db()
    assert trip.distance_km == pytest.approx(14.4, rel=0.02)


def _days_of_driving(start: dt.datetime, days: int):
    """`days` of a commuter's tracker reporting every 60 s: parked, three drives a day."""
    day = [(7 * 3600, 0), (1500, 13), (4 * 3600, 0), (600, 9), (3600, 0), (1800, 14), (10 * 3600 + 3300, 0)]
    assert sum(s for s, _ in day) == 86400
    return legs(start, day * days, every=60)


def _trip_rows(device):
    return [(x.started_at, x.ended_at, x.in_progress, x.samples_stored) for x in trips(device)]


def test_a_long_stream_is_read_in_bounded_pieces_with_the_same_trips(device, monkeypatch):
    """Months of positions are not read at once: no read is larger than the piece (doubled only
    while a single drive outlasts it), and the trips are those of one whole read, re-runs and
    late positions included."""
    from apps.telematics import detection

    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    t, lat, lon, v = _days_of_driving(start, 40)  # 57,601 positions, 120 drives
    whole = DeviceFactory(customer=TelematicsConsentFactory().customer)
    late = (t > (start + dt.timedelta(days=20, hours=7, minutes=5)).timestamp() * 1e6) & (
        t < (start + dt.timedelta(days=20, hours=7, minutes=20)).timestamp() * 1e6
    )  # the middle of the first drive of day 20 arrives late
    store(whole, t, lat, lon, v)
    store(device, t[~late], lat[~late], lon[~late], v[~late])
    later = start + dt.timedelta(days=60)
    reads = []
    real_track = detection._track

    def track(device_id, since, *, limit):
        result = real_track(device_id, since, limit=limit)
        if device_id == device.pk:
            reads.append(len(result[0].t))
        return result

    monkeypatch.setattr(detection, "_track", track)
    whole_cursor = PositionCursor.objects.get(device=whole)
    detection.device_trips_detect(device=whole, dirty_from=whole_cursor.dirty_from, now=later, chunk=10**6)
    expected = _trip_rows(whole)
    assert len(expected) == 120

    cursor = PositionCursor.objects.get(device=device)
    counts = detection.device_trips_detect(device=device, dirty_from=cursor.dirty_from, now=later, chunk=2000)
    assert counts["created"] == 120
    assert len(reads) > 25 and max(reads) <= 2000
    assert _trip_rows(device) != expected  # the drive with the hole has fewer positions for now
    store(device, t[late], lat[late], lon[late], v[late])
    cursor.refresh_from_db()
    detection.device_trips_detect(device=device, dirty_from=cursor.dirty_from, now=later, chunk=2000)
    assert _trip_rows(device) == expected
    again = detection.device_trips_detect(device=device, dirty_from=start, now=later, chunk=1500)
    assert again == {"created": 0, "updated": 120, "unchanged": 0, "removed": 0}  # re-copied, same trips
    assert _trip_rows(device) == expected


def test_a_drive_longer_than_the_piece_is_read_whole(device):
    from apps.telematics import detection

    t, lat, lon, v = legs(T0, [(600, 0), (3 * 3600, 25), (600, 0)], every=10)  # 1,201 positions moving
    store(device, t, lat, lon, v)
    detection.device_trips_detect(device=device, dirty_from=T0, now=LATER, chunk=100)
    (trip,) = trips(device)
    assert trip.started_at == T0 + dt.timedelta(seconds=590)
    assert trip.ended_at == T0 + dt.timedelta(seconds=600 + 3 * 3600)


def test_a_trip_in_progress_extended_at_its_end_gets_only_its_new_samples(device):
    """The samples a run added stay as they are when the next run extends the trip (each run
    copied the whole open trip again before), and the trip ends with exactly its positions."""
    t, lat, lon, v = legs(T0, [(600, 0), (1200, 15), (600, 0)])
    half = len(t) // 2
    store(device, t[:half], lat[:half], lon[:half], v[:half])
    detect(dt.datetime.fromtimestamp(t[half - 1] / 1e6 + 1, tz=dt.UTC))
    (trip,) = trips(device)
    assert trip.in_progress
    first = _sample_tuples(trip)
    store(device, t[half:], lat[half:], lon[half:], v[half:])
    detect(LATER)
    (closed,) = trips(device)
    assert closed.pk == trip.pk and not closed.in_progress
    after = _sample_tuples(trip)
    assert len(after) == 122  # the whole trip's positions, as one run over all of them gives
    assert len(first) > 30 and all(after[at] == row for at, row in first.items())  # not deleted and copied again


def _sample_tuples(trip) -> dict:
    """recorded_at -> the row's physical address (ctid): a row deleted and inserted again moves."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT recorded_at, ctid::text FROM {SAMPLES_TABLE} WHERE trip_id = %s", [trip.pk])
        return dict(cursor.fetchall())
