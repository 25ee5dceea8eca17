"""Live updates for the pages: a small publish/subscribe over Redis.

Services publish what changed (`publish("alerts", {...})`) after their transaction commits; the
pages' Server-Sent Events streams (`event_stream`) subscribe to the topics a page shows and forward
each message. The ops pages' topics are public to staff (TOPICS); a portal driver's topic is their
own, and only the portal's stream for that signed-in driver subscribes to it. Redis pub/sub
reaches every web process on every machine; a message published while nobody listens is dropped,
which is what a live view wants (the page reloads its part from the database when told, so nothing
is lost but a nudge)."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction
from django.http import StreamingHttpResponse

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


def send_many(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Sends a batch of (topic, data) in one round trip (a batch of notifications)."""
    if not messages:
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        for topic, data in messages:
            pipe.publish(_channel(topic), json.dumps(data, default=str))
        pipe.execute()
    except redis.RedisError as exc:
        logger.warning("live: publish of %d messages failed: %s", len(messages), exc)


def publish(topic: str, data: dict[str, Any]) -> None:
    """Sends `data` once the current transaction commits (at once outside one), so listeners that
    reload from the database see the change."""
    transaction.on_commit(lambda: send(topic, data))


def subscribe(topics: list[str], *, seconds: float, heartbeat: float = 15.0) -> Iterator[tuple[str, dict] | None]:
    """Subscribes at once (Redis has confirmed the subscription when this returns, so a message
    published afterwards is not missed) and returns an iterator that yields (topic, data) for each
    message on the topics for up to `seconds`, and None every `heartbeat` seconds without one (the
    stream sends a comment then, so proxies keep it open)."""
    pubsub = _redis().pubsub()
    channels = {_channel(t): t for t in topics}
    try:
        pubsub.subscribe(*channels)
        confirmed, until = 0, time.monotonic() + 2.0
        while confirmed < len(channels) and time.monotonic() < until:
            message = pubsub.get_message(timeout=0.5)
            if message is not None and message["type"] == "subscribe":
                confirmed += 1
    except redis.RedisError:
        with contextlib.suppress(redis.RedisError):
            pubsub.close()
        raise
    return _messages(pubsub, channels, seconds=seconds, heartbeat=heartbeat)


def _messages(pubsub, channels: dict[str, str], *, seconds: float, heartbeat: float):
    try:
        deadline = time.monotonic() + seconds
        quiet_since = time.monotonic()
        while (now := time.monotonic()) < deadline:
            message = pubsub.get_message(timeout=min(1.0, deadline - now))
            if message is None or message["type"] != "message":
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


def event_stream(topics: list[str], *, seconds: float, event_name=None) -> StreamingHttpResponse:
    """A Server-Sent Events response forwarding the topics' messages for up to `seconds`; the
    browser's EventSource reconnects by itself after the `retry` sent first, so a web thread is
    never held forever and a deploy drains. Each message is sent as the event named
    `event_name(topic, data)` (the topic by default)."""
    name_of = event_name or (lambda topic, data: topic)

    def events():
        # A stream lives for minutes and never queries: give its database connection back now.
        connection.close()
        messages = subscribe(topics, seconds=seconds)
        yield "retry: 2000\n: connected\n\n"
        for message in messages:
            if message is None:
                yield ": keep-alive\n\n"
                continue
            topic, data = message
            yield f"event: {name_of(topic, data)}\ndata: {json.dumps(data, default=str)}\n\n"

    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
