"""Each cleaning rule on its own, on the parsed arrays (no database)."""

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.telematics.features import compute_features
from apps.telematics.ingest import SampleArrays, UploadInvalid, clean_samples, parse_json
from tests.telematics.helpers import M_PER_DEG_LAT, cruise, samples_from_speeds


def parsed(samples):
    return parse_json(orjson.dumps({"external_id": "x", "samples": samples})).samples


def test_out_of_order_samples_are_sorted_and_kept():
    samples = cruise(20)
    shuffled = samples[10:] + samples[:10]
    result = clean_samples(parsed(shuffled))
    assert result.stored == 20 and result.dropped == {}
    assert result.reordered == 1
    assert np.all(np.diff(result.samples.t) > 0)
    assert np.allclose(result.samples.lat, [s["lat"] for s in samples])


def test_exact_duplicates_are_dropped_and_counted():
    samples = cruise(20)
    result = clean_samples(parsed(samples + samples[3:6]))
    assert result.received == 23 and result.stored == 20
    assert result.dropped == {"duplicate": 3}


def test_conflicting_fixes_at_one_instant_keep_one():
    samples = cruise(20)
    other = dict(samples[5], speed=samples[5]["speed"] + 1)
    result = clean_samples(parsed([*samples, other]))
    assert result.stored == 20 and result.dropped == {"duplicate_time": 1}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"lat": 91.0}, "coordinates_out_of_range"),
        ({"lon": -180.5}, "coordinates_out_of_range"),
        ({"speed": -1.0}, "speed_out_of_range"),
        ({"speed": 120.0}, "speed_out_of_range"),
        ({"acc_lon": -31.0}, "acceleration_out_of_range"),
        ({"acc_lon": 22.0, "acc_lat": 22.0}, "acceleration_out_of_range"),  # |a| = 31.1
    ],
)
def test_impossible_fixes_are_dropped_by_reason(change, reason):
    samples = cruise(20)
    samples[7] = {**samples[7], **change}
    result = clean_samples(parsed(samples))
    assert result.stored == 19
    assert result.dropped == {reason: 1}


def test_a_jump_implying_more_than_90_mps_is_dropped():
    samples = cruise(30)
    samples[10] = {**samples[10], "lat": samples[10]["lat"] + 500 / M_PER_DEG_LAT}  # 500 m away for 1 s
    samples[11] = {**samples[11], "lat": samples[11]["lat"] + 480 / M_PER_DEG_LAT}  # still out there
    result = clean_samples(parsed(samples))
    assert result.dropped == {"implausible_jump": 2}
    assert result.stored == 28


def test_a_bad_first_fix_does_not_take_the_trip_with_it():
    samples = cruise(30)
    samples[0] = {**samples[0], "lat": samples[0]["lat"] - 0.05}  # 5.5 km off
    result = clean_samples(parsed(samples))
    assert result.dropped == {"implausible_jump": 1} and result.stored == 29


def test_fast_but_possible_driving_is_kept():
    result = clean_samples(parsed(cruise(30, v=60.0)))  # 216 km/h is fast, not impossible
    assert result.dropped == {} and result.stored == 30


def test_a_gap_splits_moving_time():
    samples = cruise(20, v=10.0)
    later = cruise(20, v=10.0, t0=samples[-1]["t"] + 120, lat0=samples[-1]["lat"] + 1200 / M_PER_DEG_LAT)
    result = clean_samples(parsed(samples + later))
    assert result.stored == 40
    features = compute_features(result.samples, np.array([0, 40]))[0]
    assert features["gap_s"] == 120
    assert features["moving_s"] == 38  # 19 s in each part, the gap is neither moving nor idle
    assert features["duration_s"] == 19 + 120 + 19
    assert features["distance_km"] == pytest.approx((190 + 1200 + 190) / 1000, rel=1e-3)


@pytest.mark.parametrize(
    ("mutate", "field", "index"),
    [
        (lambda s: s[4].update(lat="52.5"), "samples[4].lat", 4),
        (lambda s: s[6].pop("speed"), "samples[6].speed", 6),
        (lambda s: s[2].update(t=None), "samples[2].t", 2),
        (lambda s: s[3].update(phone="yes"), "samples[3].phone", 3),
        (lambda s: s[8].update(speed_limit=[13]), "samples[8].speed_limit", 8),
        (lambda s: s[5].update(acc_lon=True), "samples[5].acc_lon", 5),
        (lambda s: s[1].update(t="yesterday"), "samples[1].t", 1),
        (lambda s: s[9].update(speedlimit=13.9), "samples[9].speedlimit", 9),
    ],
)
def test_bad_types_name_the_field_and_index(mutate, field, index):
    samples = cruise(12)
    mutate(samples)
    with pytest.raises(UploadInvalid) as err:
        parsed(samples)
    assert err.value.field == field
    assert err.value.index == index


def test_the_first_problem_by_index_is_reported():
    samples = cruise(12)
    samples[9]["lat"] = "x"
    samples[3]["speed"] = "y"
    with pytest.raises(UploadInvalid) as err:
        parsed(samples)
    assert (err.value.field, err.value.index) == ("samples[3].speed", 3)


def test_optional_fields_may_be_null_or_absent():
    samples = samples_from_speeds(
        [10.0] * 5, limit=[13.9, None, 13.9, None, 13.9], phone=[True, None, False, None, True]
    )
    s = parsed(samples)
    assert np.isnan(s.speed_limit[1]) and s.speed_limit[0] == pytest.approx(13.9)
    assert s.phone.tolist() == [1, -1, 0, -1, 1]


def test_samples_already_in_order_clean_the_same_as_shuffled_ones():
    upload = parse_json(orjson.dumps({"external_id": "o", "samples": cruise(40)}))
    in_order = clean_samples(upload.samples)
    shuffled = clean_samples(upload.samples.take(np.random.default_rng(3).permutation(40)))
    assert in_order.reordered == 0 and shuffled.reordered > 0
    assert in_order.dropped == shuffled.dropped == {}
    for name in in_order.samples.COLUMNS:
        np.testing.assert_array_equal(getattr(in_order.samples, name), getattr(shuffled.samples, name))


@pytest.mark.parametrize("first_higher", [True, False])
def test_of_conflicting_fixes_at_one_instant_the_first_received_wins(first_higher):
    """It used to keep the one with the lower latitude (the sort's tie-break), whichever came first."""
    samples = cruise(20)
    shifted = dict(samples[5], lat=samples[5]["lat"] + (1e-5 if first_higher else -1e-5))
    first, second = (shifted, samples[5]) if first_higher else (samples[5], shifted)
    arrived = [*samples[:5], first, *samples[6:], second]
    result = clean_samples(parsed(arrived))
    assert result.stored == 20 and result.dropped == {"duplicate_time": 1}
    assert result.samples.lat[5] == first["lat"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("speed_limit", -1.0),
        ("speed_limit", -1e39),
        ("speed_limit", 0.0),
        ("speed_limit", 1000.0),
        ("heading", 400.0),
        ("heading", -5.0),
    ],
)
def test_optional_fields_outside_their_bounds_are_refused_naming_the_sample(field, value):
    """speed_limit -1 made a speeding event, -1e39 failed the trip's features ("Infinity is invalid jsonb")."""
    samples = cruise(10)
    samples[4][field] = value
    with pytest.raises(UploadInvalid) as caught:
        parsed(samples)
    assert caught.value.field == f"samples[4].{field}" and caught.value.index == 4
    columns = {name: [s.get(name) for s in samples] for name in samples[0]}
    columns[field] = [s.get(field) for s in samples]
    with pytest.raises(UploadInvalid) as caught:
        parse_json(orjson.dumps({"external_id": "x", "samples": columns}))
    assert caught.value.field == f"samples.{field}[4]"


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(min_value=-200, max_value=200) | st.sampled_from([90.0, -90.0, np.nextafter(90, 91), np.nan]),
    lon=st.floats(min_value=-400, max_value=400) | st.sampled_from([180.0, -180.0, np.nextafter(180, 181)]),
    speed=st.floats(min_value=-5, max_value=200) | st.sampled_from([0.0, 90.0, np.nextafter(90, 91), np.nan, -1.0]),
)
def test_a_single_position_is_cleaned_as_clean_samples_cleans_it(lat, lon, speed):
    """The OsmAnd request's shortcut (positions.services._cleaned_one) and the uploads' cleaning
    keep and drop the same single positions, for the same reasons."""
    from apps.telematics.positions import services as positions
    from apps.telematics.positions.parse import PositionBatch

    one = lambda v: np.array([v], dtype=float)  # noqa: E731
    batch = PositionBatch(
        identifiers=["x"], device=np.zeros(1, dtype=np.int64), t=np.array([1_700_000_000_000_000]),
        lat=one(lat), lon=one(lon), speed=one(speed), heading=one(np.nan), altitude=one(np.nan),
        accuracy=one(np.nan), battery=one(np.nan),
    )  # fmt: skip
    samples = SampleArrays(
        t=batch.t, lat=batch.lat, lon=batch.lon, speed=batch.speed, acc_lon=one(np.nan), acc_lat=one(np.nan),
        heading=one(np.nan), speed_limit=one(np.nan), phone=np.full(1, -1, dtype=np.int8),
    )  # fmt: skip
    expected = clean_samples(samples)
    dropped: dict[str, int] = {}
    kept = positions._cleaned_one(batch, np.array([0]), dropped)
    assert len(kept) == len(expected.samples)
    assert dropped == expected.dropped
