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
            "message": "%(r)s",
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
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json"},
            "access": {"class": "logging.StreamHandler", "formatter": "raw", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }
else:
    accesslog = "-"
