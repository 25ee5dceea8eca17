from django.http import JsonResponse
from django.views.decorators.http import require_GET

from apps.common import health


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
