"""gunicorn settings for the Procfile's web process: access and error logs as JSON lines with the
request id, like the application's own log lines (LOG_FORMAT=plain keeps gunicorn's text)."""

import json
import os

if os.environ.get("LOG_FORMAT", "json") != "plain":
    accesslog = "-"
    access_log_format = json.dumps(
        {
            "time": "%(t)s",
            "level": "INFO",
            "logger": "gunicorn.access",
            # The path without its query string: trackers send their position (and some their
            # token) there, and an access log is no place for where a driver was.
            "message": "%(m)s %(U)s %(H)s",
            "status": "%(s)s",
            "bytes": "%(B)s",
            "duration_ms": "%(M)s",
            "remote": "%(h)s",
            "request_id": "%({x-request-id}o)s",
        }
    )
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
            "raw": {"format": "%(message)s"},  # the access log line is JSON already
        },
        # A tracker's request line carries its device token (?key= or /osmand/<token>): redacted.
        "filters": {"redact_keys": {"()": "apps.common.logging.RedactKeysFilter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["redact_keys"]},
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "raw",
                "stream": "ext://sys.stdout",
                "filters": ["redact_keys"],
            },
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }
else:
    accesslog = "-"
