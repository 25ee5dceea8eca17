"""Reads of the partner API and the ops pages on a read replica (DATABASE_REPLICA_URL), when
one is configured: a request marks itself, the router sends that request's reads there. Writes,
and reads inside a transaction that writes, stay on the primary."""

import contextvars

from django.conf import settings
from django.db import connections

_replica_reads = contextvars.ContextVar("replica_reads", default=False)


class ReplicaReadsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        wanted = (
            "replica" in settings.DATABASES
            and request.method in ("GET", "HEAD")
            and any(request.path_info.startswith(prefix) for prefix in settings.REPLICA_READ_PATHS)
        )
        token = _replica_reads.set(wanted)
        try:
            return self.get_response(request)
        finally:
            _replica_reads.reset(token)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if _replica_reads.get() and "replica" in settings.DATABASES and not connections["default"].in_atomic_block:
            return "replica"
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
