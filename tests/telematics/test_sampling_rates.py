"""The same simulated drive sampled at 1 s, 10 s, 60 s and irregular 30-180 s: features agree
with the 1 Hz truth, a standing vehicle's wander is no distance, and harsh events are found at
1 Hz and reported as not measurable where the sampling cannot show them."""

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone

from apps.telematics.features import bounds_from_trip_ids, compute_features
from apps.telematics.ingest import US, SampleArrays

M_PER_DEG_LAT = 111_195.0


def _drive(start_local: dt.datetime) -> SampleArrays:
    """An hour at 1 Hz from 03:30 local: pulls away, cruises at 14 m/s on gentle curves with two
    traffic-light stops (60 s standing each) and one harsh stop (-5 m/s² for 3 s), as a phone
    tracker reports it (speed and heading, no accelerometer)."""
    seconds = 3600
    speed = np.full(seconds + 1, 14.0)
    speed[:7] = np.arange(7) * 2.0  # 0 -> 12 m/s at 2 m/s²
    for stop in (900, 2100):
        speed[stop - 7 : stop] = np.linspace(14, 0, 7, endpoint=False)  # -2 m/s²
        speed[stop : stop + 60] = 0.0
        speed[stop + 60 : stop + 67] = np.linspace(0, 14, 7, endpoint=False)
    harsh = 3000
    speed[harsh - 3 : harsh] = [14.0, 9.0, 4.0]  # -5 m/s² into a stop
    speed[harsh : harsh + 20] = 0.0
    speed[harsh + 20 : harsh + 27] = np.linspace(0, 14, 7, endpoint=False)
    speed[-10:] = np.linspace(14, 0, 10)  # arrives and stops
    heading = 30 * np.sin(np.arange(seconds + 1) / 600.0)  # a gentle curve every ~30 min
    step = (speed[:-1] + speed[1:]) / 2
    theta = np.radians(heading[:-1])
    north = np.concatenate([[0.0], np.cumsum(step * np.cos(theta))])
    east = np.concatenate([[0.0], np.cumsum(step * np.sin(theta))])
    lat0 = 52.5
    t0 = int(start_local.timestamp() * US)
    n = seconds + 1
    return SampleArrays(
        t=t0 + np.arange(n, dtype=np.int64) * US,
        lat=lat0 + north / M_PER_DEG_LAT,
        lon=13.4 + east / (M_PER_DEG_LAT * np.cos(np.radians(lat0))),
        speed=speed,
        acc_lon=np.full(n, np.nan),
        acc_lat=np.full(n, np.nan),
        heading=heading % 360,
        speed_limit=np.full(n, np.nan),
        phone=np.full(n, -1, dtype=np.int8),
    )


def _every(s: SampleArrays, spacing: int) -> SampleArrays:
    index = np.arange(0, len(s), spacing)
    if index[-1] != len(s) - 1:
        index = np.append(index, len(s) - 1)
    return s.take(index)


def _irregular(s: SampleArrays, seed: int = 7) -> SampleArrays:
    rng = np.random.default_rng(seed)
    index = [0]
    while index[-1] < len(s) - 1:
        index.append(min(index[-1] + int(rng.integers(30, 181)), len(s) - 1))
    return s.take(np.array(index))


def _features(s: SampleArrays) -> dict:
    _, bounds = bounds_from_trip_ids(np.zeros(len(s), dtype=np.int64))
    return compute_features(s, bounds)[0]


@pytest.fixture
def drive():
    zone = timezone.get_default_timezone()
    return _drive(dt.datetime(2026, 3, 10, 3, 30, tzinfo=zone))


def _night_share(f: dict) -> float:
    return f["night_s"] / (f["moving_s"] + f["idle_s"])


@pytest.mark.parametrize("sampling", ["10s", "60s", "irregular"])
def test_features_agree_with_the_1_hz_truth(drive, sampling):
    truth = _features(drive)
    sparse = {"10s": _every(drive, 10), "60s": _every(drive, 60), "irregular": _irregular(drive)}[sampling]
    f = _features(sparse)
    assert f["distance_km"] == pytest.approx(truth["distance_km"], rel=0.02)
    assert f["moving_s"] == pytest.approx(truth["moving_s"], rel=0.05)
    assert f["gap_s"] == 0
    assert abs(_night_share(f) - _night_share(truth)) < 0.05
    assert f["mean_speed_mps"] == pytest.approx(truth["mean_speed_mps"], rel=0.05)


def test_the_1_hz_truth_is_what_was_driven(drive):
    truth = _features(drive)
    driven = float(np.sum((drive.speed[:-1] + drive.speed[1:]) / 2)) / 1000
    assert truth["distance_km"] == pytest.approx(driven, rel=0.005)
    assert _night_share(truth) == pytest.approx(0.5, abs=0.01)  # 03:30-04:00 of 03:30-04:30
    assert truth["sampling_interval_s"] == 1.0


def test_harsh_events_are_found_at_1_hz_and_not_measurable_at_60_s(drive):
    truth = _features(drive)
    assert truth["harsh_brake_count"] == 1
    assert truth["harsh_accel_count"] == 0 and truth["harsh_corner_count"] == 0
    assert truth["measurable"]["harsh_brake"] and truth["measurable"]["harsh_corner"]
    assert [e["type"] for e in truth["events"]] == ["harsh_brake"]
    sparse = _features(_every(drive, 60))
    assert sparse["harsh_brake_count"] is None  # not a clean zero
    assert sparse["harsh_accel_count"] is None and sparse["harsh_corner_count"] is None
    assert sparse["measurable"] == {
        "harsh_brake": False,
        "rapid_accel": False,
        "harsh_corner": False,
        "speeding": False,
        "phone_use": False,
    }
    assert sparse["events"] == []
    assert sparse["rates"]["harsh_brake_per_100km"] is None
    assert sparse["sampling_interval_s"] == 60.0


@pytest.mark.parametrize("spacing", [1, 10, 60, 120])
def test_a_standing_vehicle_wanders_no_distance(spacing):
    rng = np.random.default_rng(spacing)
    n = 1801
    wander_m = rng.normal(0, 4.0, size=(n, 2))
    t0 = int(dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC).timestamp() * US)
    s = SampleArrays(
        t=t0 + np.arange(n, dtype=np.int64) * US,
        lat=52.5 + wander_m[:, 0] / M_PER_DEG_LAT,
        lon=13.4 + wander_m[:, 1] / (M_PER_DEG_LAT * 0.6088),
        speed=np.zeros(n),
        acc_lon=np.full(n, np.nan),
        acc_lat=np.full(n, np.nan),
        heading=np.full(n, np.nan),
        speed_limit=np.full(n, np.nan),
        phone=np.full(n, -1, dtype=np.int8),
    )
    f = _features(_every(s, spacing))
    assert f["distance_km"] == 0
    assert f["moving_s"] == 0 and f["idle_s"] == pytest.approx(1800)
