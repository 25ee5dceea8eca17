"""Per-partner request rate limit, counted in Redis (the default cache)."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.db import connection
from django_redis import get_redis_connection
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class PartnerRateThrottle(BaseThrottle):
    """At most `Partner.requests_per_minute` requests per calendar minute per partner, counted
    with one atomic INCR per request (one Redis round trip) (all web processes share the counter). A fixed window, not
    a sliding log: O(1) in Redis whatever the rate. A Redis outage fails open: requests pass."""

    def allow_request(self, request, view) -> bool:
        partner = getattr(getattr(request, "user", None), "partner", None)
        if partner is None:
            return True
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        self._wait = WINDOW_SECONDS - (now % WINDOW_SECONDS)
        key = cache.make_key(f"throttle:partner:{connection.settings_dict['NAME']}:{partner.pk}:{window}")
        try:
            # One round trip: INCR creates the counter at 1, EXPIRE lets old windows vanish.
            pipe = get_redis_connection("default").pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS + 5)
            count, _ = pipe.execute()
        except Exception:  # Redis down: fail open rather than refuse every partner
            logger.warning("throttle counter unavailable for partner %s", partner.pk, exc_info=True)
            return True
        return count <= partner.requests_per_minute

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)
