"""Shared version counters in the cache: a writer bumps one when something every process may
remember changes (a device revoked, a consent withdrawn); a reader compares the value it
remembered things at with the current one before using them."""

from django.core.cache import cache
from django.db import transaction


def version_bump(key: str) -> None:
    """Bumps now, and once more at commit (a process reading in between re-remembers the row as
    it was before the change)."""

    def bump():
        cache.add(key, 0, timeout=None)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=None)

    bump()
    transaction.on_commit(bump)


def version_redis_key(key: str) -> str:
    """The key as stored in Redis, for reading it in a pipeline beside other commands."""
    return cache.make_key(key)


def version_parse(raw: bytes | None) -> int:
    """A value read raw from Redis: a missing counter is version 0, as cache.get(key, 0) reads it."""
    return int(raw) if raw is not None else 0
