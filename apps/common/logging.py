"""Log records carry the id of the request (or Celery task) they belong to, so every line of
one request can be found, in the JSON log lines (LOG_FORMAT=json, the default) or plain ones."""

import contextvars
import logging

from apps.common.keys import KEY_IN_TEXT, redact_keys

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class RedactKeysFilter(logging.Filter):
    """Takes the secret part of device and API keys out of a record before any handler writes it:
    trackers send their token in the query string or the path, and Django's request log (a 4xx's
    warning) and gunicorn's access line carry both. The message is formatted here once, and a
    `request` in the record's extra becomes its redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if KEY_IN_TEXT.search(message):
            record.msg, record.args = redact_keys(message), ()
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            record.request = redact_keys(repr(request))
        return True


class DropColorMessage(logging.Filter):
    """uvicorn gives its records a `color_message` (the message with terminal colour codes),
    which a JSON line would carry as a field of escape sequences."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)
        return True
