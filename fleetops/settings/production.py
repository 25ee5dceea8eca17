"""Production settings: base plus what a deployment behind a TLS-terminating proxy needs.

`DJANGO_SETTINGS_MODULE=fleetops.settings.production`. The secrets (Django's key, the card HMAC
key, the audit checkpoint key, the key that encrypts webhook secrets) must come from the
environment: without them the start stops here, before base.py could fall back to the
per-checkout files it generates under var/ for local runs. `manage.py check --deploy` is clean
with these settings (tests/common/test_deploy.py keeps it so)."""

import os

from django.core.exceptions import ImproperlyConfigured

REQUIRED_SECRETS = ("DJANGO_SECRET_KEY", "FLEETOPS_CARD_HMAC_KEY", "FLEETOPS_AUDIT_KEY", "FLEETOPS_ENCRYPTION_KEY")
_missing = [name for name in REQUIRED_SECRETS if not os.environ.get(name, "").strip()]
if _missing:
    raise ImproperlyConfigured(
        f"production settings need {', '.join(_missing)} in the environment (no generated fallback in production)"
    )

from .base import *  # noqa: E402, F403
from .base import env  # noqa: E402

DEBUG = False
# The proxy terminates TLS and says so in X-Forwarded-Proto; anything else is redirected to https.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Load balancers probe over plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
