"""Property-based fuzzing of every POST body of the API (and the trip upload over HTTP): whatever
the JSON, including invalid Unicode, NUL characters, huge numbers and deep nesting, the answer is
never a 500 and always the API's error format."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))

# Text with what used to break the server: lone surrogates, NUL, long values.
texts = st.one_of(
    st.text(max_size=20),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xDFFF), max_size=10),
    st.sampled_from(["\x00", "\ud800", "a\udfffb", "x" * 5000, "https://h.example/\x00", "score.changed", "SUV", "BY"]),
)
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=False, allow_infinity=False)
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=10
)
FIELDS = {
    "/api/v1/quotes/": ["driver_id", "vehicle_category", "region", "kind", "vehicle_age_years"],
    "/api/v1/policies/": ["quote_id", "starts_on"],
    "/api/v1/policies/{policy}/cancel/": ["reason"],
    "/api/v1/risk/batch-score/": ["driver_ids"],
    "/api/v1/webhooks/": ["url", "events", "description"],
}


def _bodies(fields):
    known = st.dictionaries(st.sampled_from(fields), values, max_size=len(fields))
    return st.one_of(known, values, st.dictionaries(texts, values, max_size=3))


def _dumps(body) -> bytes:
    return json.dumps(body).encode()  # escapes lone surrogates and NUL as \\ud800, \\u0000


def _in_the_api_format(response):
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        body = response.json()
        assert {"type", "status", "request_id"} <= set(body)
        assert ("errors" in body) != ("detail" in body)
        assert len(response.content) < 20_000


@pytest.mark.parametrize("path", list(FIELDS))
def test_any_json_body_is_answered_without_a_server_error(two_partners, path):
    client = two_partners["a"]["client"]
    url = path.format(policy=two_partners["a"]["policy"].pk)

    @FUZZ
    @given(_bodies(FIELDS[path]))
    def run(body):
        _in_the_api_format(client.generic("POST", url, _dumps(body), content_type="application/json"))

    run()


@FUZZ
@given(depth=st.integers(min_value=1, max_value=3000), opener=st.sampled_from(["[", '{"a":']))
def test_any_nesting_depth_is_answered_without_a_server_error(two_partners, depth, opener):
    closer = "]" if opener == "[" else "}"
    raw = (opener * depth + "1" + closer * depth).encode()
    response = two_partners["a"]["client"].generic("POST", "/api/v1/quotes/", raw, content_type="application/json")
    _in_the_api_format(response)


@FUZZ
@given(st.binary(max_size=200), st.sampled_from(["application/json", "text/csv", "application/x-www-form-urlencoded"]))
def test_any_bytes_to_any_post_are_answered_without_a_server_error(two_partners, raw, content_type):
    client = two_partners["a"]["client"]
    for path in ("/api/v1/quotes/", "/api/v1/webhooks/"):
        _in_the_api_format(client.generic("POST", path, raw, content_type=content_type))


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["page", "page_size", "driver_id", "kind", "created_after", "x"]), texts, max_size=3
    )
)
def test_any_query_string_is_answered_without_a_server_error(two_partners, params):
    client = two_partners["a"]["client"]
    safe = {key: value.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for key, value in params.items()}
    _in_the_api_format(client.get("/api/v1/quotes/", safe))


@pytest.fixture
def device():
    from tests.customers.factories import TelematicsConsentFactory
    from tests.telematics.factories import DeviceFactory

    consent = TelematicsConsentFactory()
    return DeviceFactory(customer=consent.customer)


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["external_id", "vehicle", "driver", "samples"]), values, max_size=4),
    st.sampled_from(["application/json", "text/csv"]),
)
def test_any_trip_upload_is_answered_without_a_server_error(client, device, doc, content_type):
    raw = _dumps(doc) if content_type == "application/json" else str(doc).encode("utf-8", "surrogatepass")
    response = client.post(
        "/api/v1/telematics/trips?external_id=f",
        data=raw,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Device {device.raw_token}",
    )
    _in_the_api_format(response)
