"""Log records carry the id of the request (or Celery task) they belong to, so every line of
one request can be found, in the JSON log lines (LOG_FORMAT=json, the default) or plain ones."""

import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True
