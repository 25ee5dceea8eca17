"""Test settings: the same real PostgreSQL and Redis, fixed keys, eager Celery by default
(tests that need a real worker start one)."""

import os

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
# The suite logs in as the owner role, which creates the test database and migrates it; then every
# test runs as the application role (DATABASE_APP_ROLE, SET ROLE at connect: tests/db_roles.py).
# Taken out of the environment, so that the processes tests start (workers, ingests) connect where
# they are told (DATABASE_URL), not to the owner's database.
_owner_url = os.environ.pop("DATABASE_OWNER_URL", "")
if _owner_url:
    DATABASES["default"].update(env.db_url_config(_owner_url))  # noqa: F405
# The application role's own login, for the processes tests start; None: the suite's login.
_app_url = env("DATABASE_URL", default="")
TEST_APP_DATABASE_LOGIN = env.db_url_config(_app_url) if _owner_url and _app_url else None
# Transactional tests end with Django's flush (one TRUNCATE of every table, run as the owner); the
# audit log's append-only trigger lets a connection with this switch truncate (audit migration 0003).
DATABASES["default"]["OPTIONS"] = {  # noqa: F405
    **DATABASES["default"].get("OPTIONS", {}),  # noqa: F405
    "options": "-c fleetops.allow_audit_truncate=on",
}
