"""Per-partner request rate limit, counted in Redis (the default cache)."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.db import connection
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class PartnerRateThrottle(BaseThrottle):
    """At most `Partner.requests_per_minute` requests per calendar minute per partner, counted
    with one atomic INCR per request (all web processes share the counter). A fixed window, not
    a sliding log: O(1) in Redis whatever the rate. A Redis outage fails open: requests pass."""

    def allow_request(self, request, view) -> bool:
        partner = getattr(getattr(request, "user", None), "partner", None)
        if partner is None:
            return True
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        self._wait = WINDOW_SECONDS - (now % WINDOW_SECONDS)
        key = f"throttle:partner:{connection.settings_dict['NAME']}:{partner.pk}:{window}"
        try:
            cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
            count = cache.incr(key)
        except Exception:  # key evicted between add and incr, or Redis down
            logger.debug("throttle counter unavailable for partner %s", partner.pk, exc_info=True)
            return True
        if count is None:
            return True
        return count <= partner.requests_per_minute

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)
