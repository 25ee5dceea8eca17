"""Reads of the partner API and the ops pages on a read replica (DATABASE_REPLICA_URL), when
one is configured: a request marks itself, the router sends that request's reads there. Writes,
and reads inside a transaction that writes, stay on the primary.

Read your own writes: after a request with an unsafe method (POST, PUT, PATCH, DELETE) the
primary's WAL position is remembered for that client (its Authorization header or session
cookie, hashed, for REPLICA_READ_YOUR_WRITES_SECONDS). That client's reads go to the replica only
once the replica has replayed past that position, to the primary until then: a partner reading
the policy it just bound, or an analyst the alert they just acknowledged, never sees the replica's
older state. Other clients may see a change after the replication delay."""

import contextvars
import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

_replica_reads = contextvars.ContextVar("replica_reads", default=False)
SAFE_METHODS = ("GET", "HEAD")


def _client_keys(request, response=None) -> list[str]:
    """Cache keys of the client behind a request: its credential, and a session cookie the
    response just set (a login: the next request comes with that cookie)."""
    credentials = [request.META.get("HTTP_AUTHORIZATION"), request.COOKIES.get(settings.SESSION_COOKIE_NAME)]
    if response is not None and settings.SESSION_COOKIE_NAME in response.cookies:
        credentials.append(response.cookies[settings.SESSION_COOKIE_NAME].value)
    return [
        f"replica:written:{hashlib.sha256(credential.encode()).hexdigest()}"
        for credential in dict.fromkeys(credentials)
        if credential
    ]


def _remember_write(keys: list[str]) -> None:
    try:
        with connections["default"].cursor() as cursor:
            # The insert position: at or past the end of this request's commit records.
            cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
            position = cursor.fetchone()[0]
    except DatabaseError:
        logger.warning("could not read the primary's WAL position", exc_info=True)
        return
    cache.set_many(dict.fromkeys(keys, position), timeout=settings.REPLICA_READ_YOUR_WRITES_SECONDS)


def replica_has_replayed(position: str) -> bool:
    """Whether the replica has replayed the primary's WAL up to `position` (a replica that is
    not in recovery is a primary itself: up to date)."""
    try:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, true)", [position])
            return bool(cursor.fetchone()[0])
    except DatabaseError:
        logger.warning("the replica did not answer; reading from the primary", exc_info=True)
        return False


class ReplicaReadsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "replica" not in settings.DATABASES:
            return self.get_response(request)
        safe = request.method in SAFE_METHODS
        wanted = safe and any(request.path_info.startswith(prefix) for prefix in settings.REPLICA_READ_PATHS)
        if wanted:
            written = [position for position in cache.get_many(_client_keys(request)).values() if position]
            wanted = all(replica_has_replayed(position) for position in written)
        token = _replica_reads.set(wanted)
        try:
            response = self.get_response(request)
        finally:
            _replica_reads.reset(token)
        if not safe:
            keys = _client_keys(request, response)
            if keys:
                _remember_write(keys)
        return response


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
