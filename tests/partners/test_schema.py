import pytest
import yaml
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

PARTNER_PREFIXES = (
    "/api/v1/drivers",
    "/api/v1/quotes",
    "/api/v1/policies",
    "/api/v1/risk",
    "/api/v1/jobs",
    "/api/v1/webhooks",
)


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_every_partner_operation_has_examples_errors_and_token_auth(schema):
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        if path.startswith(PARTNER_PREFIXES)
        for method, op in item.items()
    ]
    assert len(operations) == 19
    for path, method, op in operations:
        assert op["security"] == [{"partnerToken": []}], (path, method)
        success = [code for code in op["responses"] if code.startswith("2")]
        for code in success:
            content = op["responses"][code]["content"]["application/json"]
            assert content.get("examples"), (path, method, code)
        assert {"401", "404"} <= set(op["responses"]), (path, method)
        if method == "post":
            body = op["requestBody"]["content"]["application/json"]
            assert body.get("examples"), (path, method)
    assert schema["components"]["securitySchemes"]["partnerToken"]["name"] == "Authorization"


def test_swagger_ui_is_served_with_static_files_from_the_sidecar_package(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn" not in html.lower()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
