"""Property-based fuzzing of the upload parsers (JSON rows and columns, CSV, gzip): whatever the
bytes, the answer is a parsed upload or UploadInvalid naming the field, never another exception."""

import gzip

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apps.telematics.ingest import FIELD_NAMES, UploadInvalid, decode_body, parse_csv, parse_json
from tests.telematics.helpers import cruise

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 1e300, 2**62, -(2**62), 0.5, 1.7e9]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=30))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
field_values = st.one_of(
    numbers,
    st.none(),
    st.booleans(),
    st.text(max_size=30),
    st.sampled_from(["2026-05-01T07:30:00Z", "2026-05-01T07:30:00+14:00", "9999-12-31T23:59:59-23:59"]),
)


def _parses_or_names_the_field(parse, body):
    try:
        parse(body)
    except UploadInvalid as exc:
        assert exc.field and exc.message
        assert len(exc.message) < 2000


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_as_json(body):
    _parses_or_names_the_field(parse_json, body)


@FUZZ
@given(st.dictionaries(st.sampled_from(["external_id", "vehicle", "driver", "samples", "x"]), values, max_size=5))
def test_arbitrary_json_documents(doc):
    _parses_or_names_the_field(parse_json, orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS))


@FUZZ
@given(st.lists(st.fixed_dictionaries({}, optional=dict.fromkeys(FIELD_NAMES, field_values)), min_size=2, max_size=6))
@example([{"t": 1e300, "lat": 1, "lon": 1, "speed": 1, "acc_lon": 0, "acc_lat": 0}, {"t": "2026-05-01T07:30:00Z"}])
@example([{"t": 1.7e9, "lat": 1e308, "lon": 1, "speed": 1, "acc_lon": 0, "acc_lat": 0, "speed_limit": -1e39}] * 2)
def test_arbitrary_sample_rows(samples):
    body = {"external_id": "fuzz", "samples": samples}
    _parses_or_names_the_field(parse_json, orjson.dumps(body))
    columns = {name: [s.get(name) for s in samples] for name in FIELD_NAMES}
    _parses_or_names_the_field(parse_json, orjson.dumps({"external_id": "fuzz", "samples": columns}))


csv_cells = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters=',\n\r"'), max_size=12),
    numbers.map(str),
    st.sampled_from(["1e400", "-1e400", "inf", "nan", "2026-05-01T07:30:00Z", "true", ""]),
)


@FUZZ
@given(st.lists(st.lists(csv_cells, min_size=6, max_size=6), min_size=2, max_size=5))
def test_arbitrary_csv_rows(rows):
    header = ",".join(FIELD_NAMES[:6])
    body = "\n".join([header, *(",".join(row) for row in rows)]).encode("utf-8", "surrogatepass")
    _parses_or_names_the_field(lambda b: parse_csv(b, external_id="fuzz"), body)


@FUZZ
@given(st.binary(max_size=200), st.text(max_size=20), st.text(max_size=20))
def test_arbitrary_csv_bytes_and_query(body, vehicle, driver):
    _parses_or_names_the_field(lambda b: parse_csv(b, external_id="fuzz", vehicle=vehicle, driver=driver), body)


@FUZZ
@given(st.binary(max_size=200), st.sampled_from(["gzip", "x-gzip", "", "identity", "br", "g\u00fczip"]))
def test_arbitrary_bytes_as_gzip(raw, encoding):
    _parses_or_names_the_field(lambda b: decode_body(b, encoding), raw)


@FUZZ
@given(st.integers(min_value=0, max_value=200))
def test_truncated_gzip_of_a_valid_upload(cut):
    body = gzip.compress(orjson.dumps({"external_id": "z", "samples": cruise(5)}))
    _parses_or_names_the_field(lambda b: decode_body(b, "gzip"), body[: len(body) - cut])


@pytest.mark.parametrize(
    "samples",
    [
        [
            {"t": 1e300, "lat": 1.0, "lon": 1.0, "speed": 1.0, "acc_lon": 0.0, "acc_lat": 0.0},
            {"t": "2026-05-01T07:30:00Z"},
        ],
        [
            {
                "t": 1e308,
                "lat": 1.0,
                "lon": 1.0,
                "speed": 1.0,
                "acc_lon": 0.0,
                "acc_lat": 0.0,
            },
            {"t": "x"},
        ],
    ],
)
def test_a_huge_time_in_a_field_that_mixes_forms_is_refused_naming_it(samples):
    """Mixing epoch seconds and ISO text used to overflow int64 (OverflowError, a 500)."""
    with pytest.raises(UploadInvalid) as caught:
        parse_json(orjson.dumps({"external_id": "o", "samples": samples}))
    assert caught.value.field == "samples[0].t"
