"""schemathesis against the API's own schema (/api/schema/) with every check, positive and negative
cases: no 500, every status, header and body the server answers is in the schema, and what the
schema refuses is refused. Bounded examples per operation so it runs in `make test`."""

import json
import os

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

pytestmark = pytest.mark.django_db

# Raise it locally (FLEETOPS_SCHEMATHESIS_EXAMPLES=200) for a longer hunt.
MAX_EXAMPLES = int(os.environ.get("FLEETOPS_SCHEMATHESIS_EXAMPLES", "15"))


def _load_schema():
    from fleetops.wsgi import application

    raw = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    loaded = schemathesis.openapi.from_dict(raw)
    loaded.app = application
    return loaded


SCHEMA = _load_schema()
OPERATIONS = sorted(result.ok().label for result in SCHEMA.get_all_operations())


def _all_checks():
    load_all_checks()
    return CHECKS.get_all()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes the database connection after each request, which would end the
    test's transaction; Django's own test client disconnects the same signal handlers."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("label", OPERATIONS)
def test_the_api_answers_as_its_schema_says(label, mode, two_partners):
    operation = SCHEMA.find_operation_by_label(label)
    headers = {"Authorization": f"Token {two_partners['a']['token'].raw_key}"}
    checks = _all_checks()
    reference_codes = label == "POST /api/v1/quotes/"
    if reference_codes:
        # Vehicle categories and regions are reference data named by code: a code this deployment
        # does not have is well-formed for the schema and a 400 naming the field for the server.
        checks = [check for check in checks if check.__name__ != "positive_data_acceptance"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=checks, headers=headers)
        if reference_codes and mode == GenerationMode.POSITIVE and response.status_code == 400:
            errors = response.json()["errors"]
            assert set(errors) <= {"vehicle_category", "region"}, errors
            assert all("does not exist" in message for messages in errors.values() for message in messages)

    run()
