from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views import defaults
from django.views.decorators.http import require_GET

from apps.common import health
from apps.common.api import api_error_response, input_error_response


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's): the product's icon."""
    return HttpResponsePermanentRedirect(static("common/favicon.svg"))


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    checks = {"database": health.check_database(), "redis": health.check_redis()}
    if checks["database"] == "ok":
        checks["migrations"] = health.check_migrations()
    down = sorted(name for name, state in checks.items() if state != "ok")
    return JsonResponse(
        {"status": "ok" if not down else "unavailable", "down": down, "checks": checks},
        status=200 if not down else 503,
    )


# Error pages: under /api/ the API's JSON error format; under a section with its own layout (the
# driver portal) that section's `<dir>/403.html`, `404.html`, `500.html`; elsewhere the site's.
SECTION_ERROR_TEMPLATES = (("/portal/", "portal/"),)


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def _section(request) -> str:
    path = getattr(request, "path_info", "") or ""
    return next((folder for prefix, folder in SECTION_ERROR_TEMPLATES if path.startswith(prefix)), "")


def bad_request(request, exception):
    if _is_api(request):
        return input_error_response(request, exception) or api_error_response(
            request, 400, "parse_error", errors={"body": ["The request could not be read."]}
        )
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _is_api(request):
        return api_error_response(request, 403, "permission_denied", detail="You do not have permission.")
    return defaults.permission_denied(request, exception, template_name=f"{_section(request)}403.html")


def page_not_found(request, exception):
    if _is_api(request):
        return api_error_response(request, 404, "not_found", detail="Not found.")
    return defaults.page_not_found(request, exception, template_name=f"{_section(request)}404.html")


def server_error(request):
    if _is_api(request):
        return api_error_response(request, 500, "server_error", detail="Server error; quote the request_id to support.")
    return defaults.server_error(request, template_name=f"{_section(request)}500.html")
