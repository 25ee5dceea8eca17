"""The Celery broker (Redis) as the rest of the code sees it: a quick reachability check, and a
watch that logs its loss at once in a worker (a paused or cut-off Redis sends no EOF, and Celery's
consumer would wait silently until it is back)."""

from __future__ import annotations

import logging
import threading

import redis
from django.conf import settings

logger = logging.getLogger("fleetops.broker")


def broker_ping(timeout: float = 1.0) -> str | None:
    """None when the broker answers a PING within `timeout` seconds, else the reason."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return str(exc) or exc.__class__.__name__
    finally:
        client.close()
    return None


class BrokerWatch(threading.Thread):
    """Pings the broker every `interval` seconds; logs an error on the first failed ping and a
    notice when it answers again."""

    def __init__(self, interval: float, timeout: float):
        super().__init__(name="broker-watch", daemon=True)
        self.interval, self.timeout = interval, timeout
        self.stopped = threading.Event()

    def run(self):
        lost = False
        while not self.stopped.wait(self.interval):
            problem = broker_ping(self.timeout)
            if problem and not lost:
                logger.error("broker lost: %s does not answer (%s); tasks wait until it is back", _safe_url(), problem)
            elif not problem and lost:
                logger.warning("broker back: %s answers again", _safe_url())
            lost = bool(problem)


def _safe_url() -> str:
    url = settings.CELERY_BROKER_URL
    return url.split("@")[-1] if "@" in url else url
