"""FleetOps settings. Every value comes from the environment (django-environ) with a safe
local default; production is configured by environment variables, not another module."""

import secrets
from decimal import Decimal
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def local_secret(name: str) -> str:
    """A random per-checkout secret kept under var/ (git-ignored), for local runs only.

    Production sets the environment variable; nothing secret is ever committed."""
    path = VAR_DIR / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default=None) or local_secret("django_secret_key")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "apps.common",
    "apps.accounts",
    "apps.audit",
    "apps.regions",
    "apps.fleet",
    "apps.customers",
    "apps.transactions",
    "apps.telematics",
    "apps.risk",
    "apps.pricing",
    "apps.alerts",
    "apps.jobs",
    "apps.intelligence",
    "apps.partners",
    "apps.ops",
    "apps.portal",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.common.middleware.RequestIdMiddleware",
    "apps.common.metrics.MetricsMiddleware",
    "apps.common.db.ReplicaReadsMiddleware",
    "apps.common.middleware.ApiBoundaryMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "fleetops.urls"
WSGI_APPLICATION = "fleetops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://fleetops@127.0.0.1:55432/fleetops"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Lets several test runs share one cluster (e.g. FLEETOPS_TEST_DB=test_fleetops_payments).
DATABASES["default"]["TEST"] = {"NAME": env("FLEETOPS_TEST_DB", default=None)}
# An optional streaming replica: the partner API's and the ops pages' reads (GET) go there
# (apps.common.db); every write, and every other read, stays on the primary.
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db_url("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["apps.common.db.ReplicaRouter"]
# Paths whose GET/HEAD requests read from the replica when there is one.
REPLICA_READ_PATHS = env.list("REPLICA_READ_PATHS", default=["/api/v1/", "/ops/"])
# After a client's unsafe request (POST, ...), its reads stay on the primary until the replica has
# replayed that write; the primary's WAL position is kept this long for the check.
REPLICA_READ_YOUR_WRITES_SECONDS = env.int("REPLICA_READ_YOUR_WRITES_SECONDS", default=300)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:56379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="fleetops"),
        "TIMEOUT": 300,
        "OPTIONS": {
            # A Redis outage degrades to cache misses instead of failing the request.
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 1,
            "SOCKET_TIMEOUT": 1,
        },
    }
}
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/portal/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Where trained model artifacts (XGBoost JSON) are written.
ARTIFACT_ROOT = env.path("ARTIFACT_ROOT", default=str(VAR_DIR / "artifacts"))
# Fewest claims the training part of a risk model must hold (apps/risk/services/training.py).
RISK_MIN_TRAINING_CLAIMS = env.int("RISK_MIN_TRAINING_CLAIMS", default=200)

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="fleetops@localhost")
# Links in e-mails to drivers (notifications, password reset) start with this.
PORTAL_BASE_URL = env("FLEETOPS_BASE_URL", default="http://localhost:8000")
# The trips page shows a trip "in progress" while detection holds it open, or for this many
# minutes after a trip that ended within the hour was uploaded whole.
PORTAL_LIVE_TRIP_MINUTES = env.int("PORTAL_LIVE_TRIP_MINUTES", default=10)
# A driver is notified of a requote only when it moves the annual premium by at least this much
# (in the premium's currency); a new safety score only when it is the first or changes the band.
NOTIFY_PREMIUM_CHANGE_MIN = Decimal(env.str("NOTIFY_PREMIUM_CHANGE_MIN", default="10"))

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Queues per workload (docs/operations.md): "ingest" (payment deliveries: long, I/O and COPY),
# "scoring" (model training, batch and per-driver scoring, trip features: CPU), "celery" (the
# default: webhooks, housekeeping, everything else). Job kinds name their queue at registration.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "risk.driver_rescore": {"queue": "scoring"},
    "pricing.requote_drivers": {"queue": "scoring"},
    "telematics.trip_features": {"queue": "scoring"},
    "telematics.trip_features_pending": {"queue": "scoring"},
}
# Housekeeping that is not a JobRun (the nightly jobs are beat rows from jobs/0002); the database
# scheduler copies these entries into its table at start. Webhook deliveries retry on their own
# countdown; this sweep re-queues the ones whose message was lost (a broker restart). The jobs
# sweep frees runs left running by a dead worker and re-sends queued runs whose message was lost.
CELERY_BEAT_SCHEDULE = {
    "accounts.webhooks_retry_due": {"task": "accounts.webhooks_retry_due", "schedule": 300.0},
    "jobs.recover": {"task": "jobs.recover", "schedule": 300.0},
    "partners.idempotency_keys_expire": {"task": "partners.idempotency_keys_expire", "schedule": 3600.0},
    # Cuts trips from streamed positions, and closes the trips of vehicles that stopped reporting.
    "telematics.trips_detect": {"task": "telematics.trips_detect", "schedule": 60.0},
    # Stores the OsmAnd endpoint's buffered positions a request-queued flush has not (a lost task,
    # a flusher that died before acknowledging).
    "telematics.positions_flush": {"task": "telematics.positions_flush", "schedule": 60.0},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker that stops answering (paused, network cut) sends no EOF, so Celery's consumer notices
# nothing until it is back: every worker pings it (apps.common.broker.BrokerWatch) and logs
# "broker lost" within BROKER_WATCH_SECONDS + BROKER_WATCH_TIMEOUT_SECONDS.
BROKER_WATCH_SECONDS = env.float("BROKER_WATCH_SECONDS", default=2.0)
BROKER_WATCH_TIMEOUT_SECONDS = env.float("BROKER_WATCH_TIMEOUT_SECONDS", default=1.0)
# Starting a job pings the broker first (at most this long) and refuses with a clear message,
# leaving no run, when it does not answer; publishing then gives up within seconds, not minutes.
BROKER_CHECK_TIMEOUT_SECONDS = env.float("BROKER_CHECK_TIMEOUT_SECONDS", default=1.0)
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}

# --- REST framework -----------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.common.api.exception_handler",
    # The API speaks JSON only (a form body is a 415), as its schema says.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "FleetOps API",
    "DESCRIPTION": (
        "Partner insurer and telematics API of FleetOps.\n\n"
        "**Authentication**: `Authorization: Token <key>` with a partner API key (issued in the back office, "
        "shown once; scopes `drivers:read`, `quotes:write`, `policies:write`, `jobs:write`; expiry and revocation). "
        "Webhook management needs `policies:write`.\n\n"
        "**Which drivers a partner sees**: those with at least one policy with the partner, active, cancelled or "
        "expired. Any other driver, and another partner's quotes, policies, jobs and webhooks, answer 404 on every "
        "endpoint. `score.changed` webhooks go only to partners with an active policy for the driver.\n\n"
        "**Errors**: a JSON body `{type, status, request_id, detail | errors}`; 400 carries field errors, also for "
        "unknown fields and unknown query parameters. Every response has `X-Request-ID`.\n\n"
        "**Idempotency**: send `Idempotency-Key` on any POST; the same key and body replays the first response "
        "(`Idempotent-Replayed: true`; a webhook registration is replayed without its signing secret, which is "
        "shown once only), the same key with another body is a 422, a key still in flight a 409. A key is kept "
        "24 hours from its first request; after that the same key is a new request.\n\n"
        "**Rate limit**: per partner per minute (429 with `Retry-After`).\n\n"
        "**Webhooks**: `X-FleetOps-Signature: sha256=HMAC_SHA256(secret, X-FleetOps-Timestamp + '.' + raw body)`; "
        "retried with exponential back-off on any non-2xx; the body's `id` identifies the event across retries."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVERS": [{"url": "/", "description": "This deployment"}],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.common.schema.document_api_boundary",
    ],
}
# Request limits (the API answers 413 over them; the trip upload has TELEMATICS MAX_BODY_BYTES).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("DATA_UPLOAD_MAX_NUMBER_FIELDS", default=1000)
# JSON bodies of the API nested deeper than this are a 400 before any view parses them.
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)
# Partner API: seconds the score and explanation stay cached in Redis (0 turns the cache off).
PARTNER_API_CACHE_SECONDS = env.int("PARTNER_API_CACHE_SECONDS", default=300)
# Seconds a successful token check is cached (so a revocation takes effect within this; 0: off).
PARTNER_API_TOKEN_CACHE_SECONDS = env.int("PARTNER_API_TOKEN_CACHE_SECONDS", default=10)
# Seconds an Idempotency-Key is kept from its first request: a retry within this replays the first
# response; after it the same key is a new request. Expired keys are deleted hourly (beat).
IDEMPOTENCY_KEY_TTL_SECONDS = env.int("IDEMPOTENCY_KEY_TTL_SECONDS", default=24 * 3600)
# Outgoing webhooks: attempts per delivery, back-off base (doubles each attempt) and cap, timeout.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)
WEBHOOK_BACKOFF_BASE_SECONDS = env.int("WEBHOOK_BACKOFF_BASE_SECONDS", default=30)
WEBHOOK_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_BACKOFF_MAX_SECONDS", default=3600)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# Ports webhook URLs may use (the host is resolved at every delivery and must be public).
WEBHOOK_ALLOWED_PORTS = env.list("WEBHOOK_ALLOWED_PORTS", cast=int, default=[443, 8443])
# Hosts that may receive webhooks over plain http (tests and local development only).
WEBHOOK_ALLOW_HTTP_HOSTS = env.list("WEBHOOK_ALLOW_HTTP_HOSTS", default=[])

# --- Observability ---------------------------------------------------------------
# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (no token configured: closed).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Read at scrape time; each yields prometheus-client metric families.
METRICS_COLLECTORS = [
    "apps.jobs.metrics.collect",
    "apps.transactions.metrics.collect",
    "apps.partners.metrics.collect",
]
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        send_default_pii=False,
    )

# --- Domain settings ------------------------------------------------------------
# Key for the HMAC of card numbers (matching a card without storing its number).
CARD_HMAC_KEY = env("FLEETOPS_CARD_HMAC_KEY", default=None) or local_secret("card_hmac_key")
# Key of the signature on the audit chain's checkpoints (keep it out of the database's reach).
AUDIT_CHECKPOINT_KEY = env("FLEETOPS_AUDIT_KEY", default=None) or local_secret("audit_key")
# Encrypts the secrets the application must read back (webhook signing secrets) at rest
# (apps/common/crypto.py); older keys, comma-separated, still decrypt during a rotation.
ENCRYPTION_KEY = env("FLEETOPS_ENCRYPTION_KEY", default=None) or local_secret("encryption_key")
ENCRYPTION_KEY_FALLBACKS = env.list("FLEETOPS_ENCRYPTION_KEY_FALLBACKS", default=[])
# The database role the application runs as in production (`manage.py db_app_role` grants it).
DATABASE_APP_ROLE = env("DATABASE_APP_ROLE", default="fleetops_app")
# --- Payments ELT (PAYMENTS) ---
# Ingest runs started from the admin or by the ops role may only read files under this directory.
PAYMENTS_INGEST_ROOT = env("PAYMENTS_INGEST_ROOT", default=str(VAR_DIR / "ingest"))
# How transactions files are loaded (docs/payments.md "Engines"): "sql" stages them as text and
# types them in SQL; "columnar" reads, checks and types them with pyarrow and binary-COPYs them.
PAYMENTS_INGEST_ENGINE = env("PAYMENTS_INGEST_ENGINE", default="columnar")

# --- Telematics (docs/telematics.md "Telematics thresholds" gives the source of each value) -----------
# Every key can be overridden by the environment variable TELEMATICS_<KEY>.
_TELEMATICS_DEFAULTS = {
    # Upload limits and cleaning.
    "MAX_SAMPLES_PER_TRIP": 100_000,
    "MAX_BODY_BYTES": 64 * 1024 * 1024,  # after gzip decoding
    "MAX_SAMPLE_AGE_DAYS": 400,  # older fixes are refused (no partitions are made for them)
    "MAX_JUMP_SPEED_MPS": 90.0,  # a fix implying more than this from the previous one is dropped
    "MAX_ABS_ACCEL_MPS2": 30.0,  # |acceleration| above this is a sensor fault
    "MAX_SPEED_MPS": 90.0,
    "GAP_S": 30.0,  # a gap between fixes longer than this splits the trip's moving time
    "GAP_SAMPLING_FACTOR": 3.0,  # ... and longer than this many times the trip's median spacing
    "MOVING_SPEED_MPS": 1.0,  # below this the vehicle is idle
    # Events.
    "HARSH_BRAKE_MPS2": -3.0,
    "RAPID_ACCEL_MPS2": 3.5,
    "HARSH_CORNER_MPS2": 4.0,
    "SPEEDING_MARGIN_MPS": 10 / 3.6,  # 10 km/h over the posted limit
    "SPEEDING_MIN_S": 10.0,
    "PHONE_EVENT_MIN_S": 5.0,
    "HIGHWAY_LIMIT_MPS": 100 / 3.6,  # posted limit >= 100 km/h, or speed >= this where no limit is known
    "NIGHT_START_HOUR": 0,
    "NIGHT_END_HOUR": 4,
    "RUSH_HOURS": "7-9,16-19",  # local hours on weekdays, [start, end)
    "LOCAL_TIME_ZONE": TIME_ZONE,
    # Trip score: 100 minus these deductions (each capped).
    "SCORE_HARSH_BRAKE_POINTS": 4.0,
    "SCORE_HARSH_BRAKE_CAP": 30.0,
    "SCORE_RAPID_ACCEL_POINTS": 3.0,
    "SCORE_RAPID_ACCEL_CAP": 20.0,
    "SCORE_HARSH_CORNER_POINTS": 3.0,
    "SCORE_HARSH_CORNER_CAP": 20.0,
    "SCORE_SPEEDING_POINTS_PER_MIN": 2.0,
    "SCORE_SPEEDING_CAP": 30.0,
    "SCORE_PHONE_POINTS_PER_MIN": 3.0,
    "SCORE_PHONE_CAP": 30.0,
    "SCORE_NIGHT_POINTS_FULL_SHARE": 10.0,  # points for a trip driven entirely at night
    # Driver features and partitions.
    "DRIVER_WINDOW_DAYS": 90,
    "PARTITION_MONTHS_AHEAD": 3,
    "ARCHIVE_DIR": str(VAR_DIR / "archive"),
    # Streamed positions (OsmAnd protocol, gateway batches) and the trips cut from them.
    "POSITION_MAX_AGE_DAYS": 7,  # late positions are accepted this long after their time
    "POSITION_BATCH_MAX": 100_000,  # positions in one gateway request
    "POSITION_MOVE_MIN_M": 20.0,  # a displacement counts as movement beyond max(accuracy, this)
    "TRIP_STOP_MINUTES": 5.0,  # a trip ends after this long without movement
    # While positions stream in, trip detection runs at most about this often: the run a store
    # queues waits this long and then covers every device that reported meanwhile (a trip in
    # progress shows on the live map from its positions before detection cuts it).
    "TRIP_DETECT_DELAY_SECONDS": 10.0,
    "TRIP_MIN_DISTANCE_M": 200.0,  # shorter movements are not kept as trips
    "TRIP_MIN_DURATION_S": 60.0,
    "DETECT_CHUNK_POSITIONS": 50_000,  # detection reads a device's stream in pieces of this many
    "POSITION_BUFFER": 1,  # 1: the OsmAnd endpoint buffers positions in Redis; 0: each request stores
    # A device and its consent state checked against the database are answered from a web
    # process's memory this long (a revocation, rotation or consent change anywhere ends it at
    # once through the shared versions; the flush checks both in the database again and records
    # last contact). Longer than the trackers' intervals (Traccar Client's default: 300 s), or
    # every position is a database check.
    "DEVICE_MEMORY_SECONDS": 900,
    "POSITION_BUFFER_WARN": 1_000_000,  # buffered requests beyond which a flusher is not keeping up
}
TELEMATICS = {
    key: (
        env(f"TELEMATICS_{key}", default=value)
        if isinstance(value, str)
        else env.float(f"TELEMATICS_{key}", default=value)
        if isinstance(value, float)
        else env.int(f"TELEMATICS_{key}", default=value)
    )
    for key, value in _TELEMATICS_DEFAULTS.items()
}

# --- Maps (ops console and driver portal) ------------------------------------------------------
# One tile server for every map (Leaflet URL template) with its attribution; default the public
# OpenStreetMap tiles (their usage policy suits light use; point this at your own or a provider's
# server for more). Empty: no background and no request to another host. Either way, when no tile
# loads the maps drop the background and still draw stores, routes and markers (static/ops/ops.js).
# OPS_MAP_TILES / OPS_MAP_TILES_ATTRIBUTION, the ops console's former names, are still read.
MAP_TILES_URL = env(
    "MAP_TILES_URL", default=env("OPS_MAP_TILES", default="https://tile.openstreetmap.org/{z}/{x}/{y}.png")
)
MAP_TILES_ATTRIBUTION = env(
    "MAP_TILES_ATTRIBUTION", default=env("OPS_MAP_TILES_ATTRIBUTION", default="© OpenStreetMap contributors")
)

# --- Alerts and fleet intelligence (INTELLIGENCE) ----------------------------------------
# Rules and thresholds of the intelligence jobs. Override any section's keys with a JSON
# environment variable, e.g. FLEETOPS_INTELLIGENCE='{"RENTAL_FRAUD": {"MAX_RENTALS": 10}}'.
ALERTS = {"DISMISS_SUPPRESS_DAYS": env.int("ALERTS_DISMISS_SUPPRESS_DAYS", default=30)}
INTELLIGENCE = env.json("FLEETOPS_INTELLIGENCE", default={})

# JSON lines by default (LOG_FORMAT=plain for reading in a terminal); every line has the request
# id (the Celery task id in workers, "-" outside both).
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "apps.common.logging.RequestIdFilter"},
        "redact_keys": {"()": "apps.common.logging.RedactKeysFilter"},
        "no_color": {"()": "apps.common.logging.DropColorMessage"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "raw": {"format": "%(message)s"},  # the positions receiver's access lines are JSON already
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain" if LOG_FORMAT == "plain" else "json",
            "filters": ["request_id", "redact_keys", "no_color"],
        },
        "access": {"class": "logging.StreamHandler", "formatter": "raw", "stream": "ext://sys.stdout"},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # The positions receiver (fleetops.asgi under uvicorn): its access lines, one per request
        # like gunicorn's, and uvicorn's own messages as JSON lines.
        "fleetops.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "uvicorn": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},  # fleetops.access's
    },
}
