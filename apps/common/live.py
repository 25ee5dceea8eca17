"""Live updates for the pages: a small publish/subscribe over Redis.

Services publish what changed (`publish("alerts", {...})`) after their transaction commits; the
ops pages' Server-Sent Events stream subscribes to the topics a page shows and forwards each
message. Redis pub/sub reaches every web process on every machine; a message published while
nobody listens is dropped, which is what a live view wants (the page reloads its part from the
database when told, so nothing is lost but a nudge)."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

TOPICS = ("alerts", "jobs", "positions")
_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=5)
    return _client


def _channel(topic: str) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'fleetops')}:live:{topic}"


def send(topic: str, data: dict[str, Any]) -> None:
    """Sends `data` to the topic's listeners now. A Redis outage costs the live nudge, never the
    caller's work."""
    try:
        _redis().publish(_channel(topic), json.dumps(data, default=str))
    except redis.RedisError as exc:
        logger.warning("live: publish to %s failed: %s", topic, exc)


def publish(topic: str, data: dict[str, Any]) -> None:
    """Sends `data` once the current transaction commits (at once outside one), so listeners that
    reload from the database see the change."""
    transaction.on_commit(lambda: send(topic, data))


def subscribe(topics: list[str], *, seconds: float, heartbeat: float = 15.0) -> Iterator[tuple[str, dict] | None]:
    """Yields (topic, data) for each message on the topics for up to `seconds`, and None every
    `heartbeat` seconds without one (the stream sends a comment then, so proxies keep it open)."""
    pubsub = _redis().pubsub(ignore_subscribe_messages=True)
    channels = {_channel(t): t for t in topics}
    try:
        pubsub.subscribe(*channels)
        deadline = time.monotonic() + seconds
        quiet_since = time.monotonic()
        while (now := time.monotonic()) < deadline:
            message = pubsub.get_message(timeout=min(1.0, deadline - now))
            if message is None:
                if time.monotonic() - quiet_since >= heartbeat:
                    quiet_since = time.monotonic()
                    yield None
                continue
            quiet_since = time.monotonic()
            channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            try:
                data = json.loads(message["data"])
            except (TypeError, ValueError):
                continue
            yield channels.get(channel, channel), data
    finally:
        with contextlib.suppress(redis.RedisError):
            pubsub.close()
