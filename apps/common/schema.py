"""OpenAPI post-processing (drf-spectacular hook): the schema states every bound and status the
API's common boundary enforces, so clients and schemathesis see what the server really does."""

from django.conf import settings

BIGINT_MAX = 2**63 - 1
PAGE_MAX = 10**9
PAGE_SIZE_MAX = 200
ERROR_SCHEMA = {
    "type": "object",
    "description": "The API's error format; 400 carries field errors under `errors`, others a `detail`.",
    "properties": {
        "type": {"type": "string", "description": "Machine-readable error code."},
        "status": {"type": "integer"},
        "request_id": {"type": "string", "description": "Also in the X-Request-ID header; quote it to support."},
        "detail": {},
        "errors": {"type": "object", "description": "Field name -> list of messages (400 only)."},
    },
    "required": ["type", "status", "request_id"],
}
COMMON_STATUSES = {
    "400": "Malformed request: field errors under `errors` (also unknown fields, unknown or blank query "
    "parameters, NUL characters and invalid Unicode, JSON nested deeper than the limit).",
    "401": "Missing, invalid, expired or revoked credentials.",
    "403": "The credentials lack the permission or scope.",
    "404": "No such object for this caller (also ids out of range and pages past the end).",
    "405": "The path exists but not with this method (`Allow` lists the methods).",
    "429": "Rate limit exceeded (Retry-After).",
}
BODY_STATUSES = {
    "409": "Conflicts with what exists: a duplicate, a run already queued, or the same Idempotency-Key still "
    "in flight.",
    "413": "The body is larger than the limit, or the request has too many fields.",
    "415": "A Content-Type the endpoint does not accept.",
    "503": "A service the request needs (the job queue) is unreachable; nothing was done (Retry-After).",
}
BODY_METHODS = ("post", "put", "patch")
# Text the server stores or queries never contains NUL (PostgreSQL cannot hold it): a 400.
NO_NUL = "^[^\\u0000]*$"


def _no_nul(schema: dict) -> None:
    if schema.get("type") == "string" and not ({"enum", "format", "pattern"} & set(schema)):
        schema["pattern"] = NO_NUL
    for child in schema.get("properties", {}).values():
        _no_nul(child)
    if isinstance(schema.get("items"), dict):
        _no_nul(schema["items"])


def _ref():
    return {"$ref": "#/components/schemas/ApiError"}


def _filter_bounds(generator) -> dict:
    """(path, method, query parameter) -> the minimum/maximum its django-filter field enforces."""
    bounds = {}
    for path, _regex, method, view in getattr(generator, "endpoints", None) or []:
        filterset = getattr(getattr(view, "cls", None), "filterset_class", None)
        for name, field in getattr(filterset, "base_filters", {}).items():
            limits = {
                key: field.extra[option]
                for option, key in (("min_value", "minimum"), ("max_value", "maximum"))
                if field.extra.get(option) is not None
            }
            if limits:
                bounds[(path, method.lower(), name)] = limits
    return bounds


def document_api_boundary(result, generator, request, public):
    """Error statuses on every operation, bounds on ids, pages and filters, closed request objects."""
    filter_bounds = _filter_bounds(generator)
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ApiError"] = ERROR_SCHEMA
    max_depth = settings.API_MAX_JSON_DEPTH
    for name, component in schemas.items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
            _no_nul(component)
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            extra = {**COMMON_STATUSES, **(BODY_STATUSES if method in BODY_METHODS else {})}
            for status, description in extra.items():
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": _ref()}}}
                )
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter["in"] == "path" and schema.get("type") == "integer":
                    schema.update(minimum=1, maximum=BIGINT_MAX)
                elif parameter["in"] == "query" and parameter["name"] == "page":
                    schema.update(type="integer", minimum=1, maximum=PAGE_MAX)
                elif parameter["in"] == "query" and parameter["name"] == "page_size":
                    schema.update(type="integer", minimum=1, maximum=PAGE_SIZE_MAX)
                elif parameter["in"] == "query":
                    schema.update(filter_bounds.get((path, method, parameter["name"]), {}))
                if parameter["in"] == "query" and schema.get("type") == "string":
                    schema.setdefault("minLength", 1)
                    _no_nul(schema)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                body.setdefault("schema", {})
                operation["requestBody"]["description"] = (
                    f"JSON, at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes and {max_depth} levels deep."
                )
    return result
