"""Trip features of hand-built trips with known answers."""

import datetime as dt

import numpy as np
import orjson
import pytest
from django.utils import timezone

from apps.telematics.features import compute_features
from apps.telematics.ingest import clean_samples, parse_json
from apps.telematics.models import Trip
from apps.telematics.services import trip_features_compute, trip_ingest
from tests.customers.factories import TelematicsConsentFactory
from tests.telematics.factories import DeviceFactory
from tests.telematics.helpers import cruise, hand_built_stop, samples_from_speeds


def features_of(samples):
    cleaned = clean_samples(parse_json(orjson.dumps({"external_id": "x", "samples": samples})).samples)
    return compute_features(cleaned.samples, np.array([0, cleaned.stored]))[0]


def test_stop_from_20_mps_in_4_s_is_one_harsh_brake_of_minus_5():
    f = features_of(hand_built_stop())
    assert f["harsh_brake_count"] == 1
    (event,) = f["events"]
    assert event["type"] == "harsh_brake"
    assert event["magnitude"] == -5.0
    assert event["duration_s"] == 4.0
    assert event["speed_mps"] == 15.0
    assert f["distance_km"] == pytest.approx(0.640, abs=1e-4)
    assert f["duration_s"] == 44 and f["moving_s"] == 34 and f["idle_s"] == 10
    assert f["max_speed_mps"] == 20.0
    assert f["mean_speed_mps"] == pytest.approx(640 / 34)
    assert f["rates"]["harsh_brake_per_100km"] == pytest.approx(100 / 0.640, rel=1e-3)
    assert f["score"] == 96
    assert f["score_deductions"] == [{"reason": "harsh_brake", "amount": 1.0, "points": 4.0, "events": [0]}]


def test_gentle_braking_is_no_event():
    speeds = [20.0] * 10 + [20 - 2.5 * i for i in range(1, 9)] + [0.0] * 5
    acc = [0.0] * 10 + [-2.5] * 8 + [0.0] * 5
    f = features_of(samples_from_speeds(speeds, acc=acc))
    assert f["harsh_brake_count"] == 0 and f["events"] == [] and f["score"] == 100


def test_two_separate_brakes_are_two_events():
    acc = [0.0] * 5 + [-4.0, -3.5] + [0.0] * 5 + [-6.0] + [0.0] * 5
    f = features_of(samples_from_speeds([15.0] * len(acc), acc=acc))
    assert f["harsh_brake_count"] == 2
    assert [e["magnitude"] for e in f["events"]] == [-4.0, -6.0]


def test_rapid_acceleration_and_cornering():
    acc = [0.0] * 3 + [3.6, 4.1, 3.0] + [0.0] * 4
    lat = [0.0] * 7 + [-4.5, -5.2] + [0.0]
    f = features_of(samples_from_speeds([10.0] * 10, acc=acc, acc_lat=lat))
    assert f["harsh_accel_count"] == 1 and f["harsh_corner_count"] == 1
    by_type = {e["type"]: e for e in f["events"]}
    assert by_type["rapid_accel"]["magnitude"] == 4.1
    assert by_type["harsh_corner"]["magnitude"] == -5.2


def test_speeding_counts_only_runs_of_at_least_10_s_over_the_margin():
    limit = 50 / 3.6
    speeds = [limit + 4] * 12 + [limit] * 5 + [limit + 4] * 6 + [limit + 2] * 10  # +2 m/s is within the margin
    f = features_of(samples_from_speeds(speeds, limit=limit))
    assert f["speeding_count"] == 1
    assert f["speeding_s"] == 12
    (event,) = f["events"]
    assert event["type"] == "speeding" and event["speed_limit_mps"] == pytest.approx(limit, abs=0.01)
    assert event["magnitude"] == pytest.approx(4.0, abs=0.01)


def test_phone_use_counts_only_while_moving():
    speeds = [10.0] * 20 + [0.0] * 10
    phone = [False] * 5 + [True] * 10 + [False] * 5 + [True] * 10
    f = features_of(samples_from_speeds(speeds, phone=phone))
    assert f["phone_use_s"] == 10
    assert [e["type"] for e in f["events"]] == ["phone_use"]
    assert f["rates"]["phone_use_per_hour"] == pytest.approx(10 / 29 * 3600)


def test_night_rush_hour_and_highway_shares():
    zone = timezone.get_default_timezone()
    day = timezone.localdate() - dt.timedelta(days=7)
    while day.weekday() != 2:  # a Wednesday
        day -= dt.timedelta(days=1)
    night = dt.datetime.combine(day, dt.time(2, 0), tzinfo=zone).timestamp()
    rush = dt.datetime.combine(day, dt.time(8, 0), tzinfo=zone).timestamp()
    f_night = features_of(cruise(31, v=30.0, t0=night))  # 108 km/h, no posted limit: highway by speed
    assert f_night["night_s"] == 30 and f_night["highway_s"] == 30 and f_night["rush_hour_s"] == 0
    f_rush = features_of(cruise(31, v=12.0, t0=rush, limit=100 / 3.6))  # posted 100 km/h: highway
    assert f_rush["rush_hour_s"] == 30 and f_rush["night_s"] == 0 and f_rush["highway_s"] == 30
    assert f_night["score_deductions"][-1]["reason"] == "night"


def test_a_batch_gives_the_same_features_as_one_trip_at_a_time():
    trips = [hand_built_stop(), cruise(40, v=25.0), samples_from_speeds([5.0] * 12, acc=[0] * 6 + [-3.2] * 2 + [0] * 4)]
    one_by_one = [features_of(t) for t in trips]
    cleaned = [clean_samples(parse_json(orjson.dumps({"external_id": "x", "samples": t})).samples) for t in trips]
    from apps.telematics.ingest import SampleArrays

    batch = SampleArrays.concat([c.samples for c in cleaned])
    bounds = np.concatenate([[0], np.cumsum([c.stored for c in cleaned])])
    assert compute_features(batch, bounds) == one_by_one


@pytest.mark.django_db
def test_feature_service_is_idempotent_and_reads_the_stored_samples():
    consent = TelematicsConsentFactory()
    device = DeviceFactory(customer=consent.customer)
    upload = parse_json(orjson.dumps({"external_id": "f", "samples": hand_built_stop()}))
    trip_id = trip_ingest(device=device, upload=upload, enqueue_features=False).trip_id
    first = trip_features_compute(trip_id=trip_id)
    snapshot = {f: getattr(first, f) for f in ("distance_km", "harsh_brake_count", "events", "score", "moving_s")}
    second = trip_features_compute(trip_id=trip_id)
    assert {f: getattr(second, f) for f in snapshot} == snapshot
    assert second.feature_status == Trip.FeatureStatus.DONE
    assert snapshot["harsh_brake_count"] == 1 and snapshot["score"] == 96


@pytest.mark.django_db
def test_trip_features_job_catches_up_pending_trips_and_asks_risk_to_rescore(django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from apps.jobs.services import job_execute, job_start
    from apps.risk.services import _rescore_key

    consent = TelematicsConsentFactory()
    device = DeviceFactory(customer=consent.customer)
    ids = []
    for n, samples in enumerate([hand_built_stop(), cruise(30)]):
        upload = parse_json(orjson.dumps({"external_id": f"j{n}", "samples": samples}))
        ids.append(trip_ingest(device=device, upload=upload, enqueue_features=False).trip_id)
    cache.delete(_rescore_key(consent.customer_id))
    run = job_start(kind="telematics.trip_features")
    with django_capture_on_commit_callbacks(execute=False):
        run = job_execute(run_id=run.pk)
    assert run.status == "succeeded", run.error
    assert run.result == {"trips": 2, "with_samples": 2}
    trips = Trip.objects.in_bulk(ids)
    assert [trips[i].feature_status for i in ids] == ["done", "done"]
    assert trips[ids[0]].harsh_brake_count == 1 and trips[ids[1]].harsh_brake_count == 0
    assert cache.get(_rescore_key(consent.customer_id)) is not None  # the debounced rescore was requested
    again = job_execute(run_id=job_start(kind="telematics.trip_features").pk)
    assert again.result == {"trips": 0, "with_samples": 0}
