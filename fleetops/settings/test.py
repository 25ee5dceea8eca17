"""Test settings: the same real PostgreSQL and Redis, fixed keys, eager Celery by default
(tests that need a real worker start one)."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = "test-only-secret-key-not-used-anywhere-else"
CARD_HMAC_KEY = "test-only-card-hmac-key"
AUDIT_CHECKPOINT_KEY = "test-only-audit-key"
ENCRYPTION_KEY = "test-only-encryption-key"
ENCRYPTION_KEY_FALLBACKS = []
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# No request to a tile server from the tests; tests/ops/test_browser.py points the maps at an
# unreachable one to check that they still draw.
MAP_TILES_URL = env("MAP_TILES_URL", default="")
CACHES["default"]["KEY_PREFIX"] = env("CACHE_KEY_PREFIX", default="fleetops-test")  # noqa: F405
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# Tests do not run collectstatic: let WhiteNoise look files up per request instead of scanning STATIC_ROOT.
WHITENOISE_AUTOREFRESH = True
# Transactional tests end with Django's flush (one TRUNCATE of every table); the audit log's
# append-only trigger lets a connection with this switch truncate (see audit migration 0003).
DATABASES["default"]["OPTIONS"] = {  # noqa: F405
    **DATABASES["default"].get("OPTIONS", {}),  # noqa: F405
    "options": "-c fleetops.allow_audit_truncate=on",
}
