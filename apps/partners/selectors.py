"""Reads for the partner API: what a partner may see, and the cached hot reads (score, explanation).

Visibility rule: a partner sees a driver when it insures or insured that driver, i.e. the driver
has at least one `Policy` with the partner in any status (active, cancelled or expired). Past
policies stay visible so the partner can still read the history of risks it carried; webhooks
(`score.changed`) go only to partners with an *active* policy. Everything else (another
partner's drivers, quotes, policies, jobs) does not exist for the partner: 404, never 403.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from psycopg import sql

from apps.common.sql import statement_sql
from apps.customers.models import Customer
from apps.partners.models import Partner
from apps.pricing.models import Policy
from apps.risk.models import RiskModel, RiskScore
from apps.risk.reasons import may_name, reason_features
from apps.risk.selectors import driver_latest_score

logger = logging.getLogger(__name__)

# Customer columns a partner may read. Protected attributes (gender, birth year), contact data
# and credit data are never selected for the API.
DRIVER_API_FIELDS = ("id", "first_name", "last_name", "city", "licence_since", "created_at")


def partner_policies(*, partner: Partner) -> QuerySet[Policy]:
    return Policy.objects.filter(partner=partner)


def partner_drivers(*, partner: Partner) -> QuerySet[Customer]:
    """Drivers the partner insures or insured (see the module docstring)."""
    insured = Policy.objects.filter(partner=partner, driver_id=OuterRef("pk"))
    return Customer.objects.filter(Exists(insured)).only(*DRIVER_API_FIELDS)


def partner_driver_list(*, partner: Partner) -> QuerySet[Customer]:
    """The partner's drivers, each marked `has_active_policy` with this partner."""
    active = Policy.objects.filter(partner=partner, driver_id=OuterRef("pk"), status=Policy.Status.ACTIVE)
    return partner_drivers(partner=partner).annotate(has_active_policy=Exists(active)).order_by("pk")


def partner_driver_policy_ids(*, partner: Partner, driver_id: int) -> list[int]:
    return list(
        Policy.objects.filter(partner=partner, driver_id=driver_id).order_by("-bound_at").values_list("pk", flat=True)
    )


def partner_driver_visible(*, partner: Partner, driver_id: int) -> bool:
    return Policy.objects.filter(partner=partner, driver_id=driver_id).exists()


# --- cached hot reads ---------------------------------------------------------------------------


def _cache_key(kind: str, driver_id: int) -> str:
    # The database name keeps deployments or parallel test databases sharing one Redis apart.
    return f"api:{kind}:{connection.settings_dict['NAME']}:{driver_id}"


def _cache_timeout() -> int:
    return int(getattr(settings, "PARTNER_API_CACHE_SECONDS", 300))


def score_payload(score: RiskScore) -> dict[str, Any]:
    return {
        "driver_id": score.driver_id,
        "score_id": score.pk,
        "safety_score": score.safety_score,
        "band": score.band,
        "expected_claims_per_year": round(score.expected_claims_per_year, 6),
        "relative_risk": round(score.relative_risk, 6),
        "as_of": score.as_of.isoformat(),
        "model_version": score.model.version,
        "scored_at": score.created_at.isoformat(),
    }


def explanation_payload(score: RiskScore) -> dict[str, Any]:
    contributions = score.contributions or {}
    ranked = sorted(contributions.items(), key=lambda kv: (-abs(float(kv[1])), kv[0]))
    supported = reason_features(score.model.model_card)

    def direction(name: str, value: float) -> str:
        if not may_name(name, supported):
            return "no supported effect"
        return "raises risk" if value > 0 else "lowers risk"

    return {
        **score_payload(score),
        "base_value": round(score.base_value, 6),
        "reasons": score.reasons or [],
        "contributions": [
            {
                "feature": name,
                "contribution": round(float(value), 6),
                "value": (score.features or {}).get(name),
                "direction": direction(name, float(value)),
                "supported": may_name(name, supported),
            }
            for name, value in ranked
        ],
    }


def _visible_key(partner_id: int, driver_id: int) -> str:
    return f"api:visible:{connection.settings_dict['NAME']}:{partner_id}:{driver_id}"


def partner_driver_visible_cached(*, partner: Partner, driver_id: int) -> bool:
    """partner_driver_visible with the positive answers cached: policies are never deleted
    (PROTECT, no delete path), so once a partner sees a driver it always does."""
    timeout = _cache_timeout()
    if timeout <= 0:
        return partner_driver_visible(partner=partner, driver_id=driver_id)
    key = _visible_key(partner.pk, driver_id)
    try:
        if cache.get(key):
            return True
    except Exception:
        logger.warning("cache read failed for %s", key, exc_info=True)
    visible = partner_driver_visible(partner=partner, driver_id=driver_id)
    if visible:
        _remember_visible(partner.pk, driver_id, timeout)
    return visible


def _remember_visible(partner_id: int, driver_id: int, timeout: int) -> None:
    key = _visible_key(partner_id, driver_id)
    try:
        cache.set(key, 1, timeout=max(timeout, 3600))
    except Exception:
        logger.warning("cache write failed for %s", key, exc_info=True)


# The hot read of the partner API (sql/driver_score.sql), composed once: static SQL with bound
# parameters.
_SCORE_SQL = statement_sql(
    __name__,
    "driver_score.sql",
    "driver_score",
    policy=sql.Identifier(Policy._meta.db_table),
    risk_score=sql.Identifier(RiskScore._meta.db_table),
    risk_model=sql.Identifier(RiskModel._meta.db_table),
).as_string(None)


def partner_driver_score_row(*, partner_id: int, driver_id: int) -> tuple[bool, dict[str, Any] | None]:
    """(visible, score payload as score_payload gives it, or None) in one query."""
    with connection.cursor() as cursor:
        cursor.execute(_SCORE_SQL, {"partner": partner_id, "driver": driver_id})
        visible, pk, safety, band, expected, relative, as_of, created_at, version = cursor.fetchone()
    if not visible or pk is None:
        return bool(visible), None
    return True, {
        "driver_id": driver_id,
        "score_id": pk,
        "safety_score": safety,
        "band": band,
        "expected_claims_per_year": round(expected, 6),
        "relative_risk": round(relative, 6),
        "as_of": as_of.isoformat(),
        "model_version": version,
        "scored_at": created_at.isoformat(),
    }


def _cached_for_partner(kind: str, partner: Partner, driver_id: int, build) -> tuple[bool, dict[str, Any] | None]:
    """(visible, payload) for a hot read, both from one Redis round trip when warm.

    Cache-aside: a miss and a Redis outage (the cache swallows its errors and answers None) both
    fall back to the database, so the answer is always correct; only the latency differs."""
    timeout = _cache_timeout()
    if timeout <= 0:
        if build is score_payload:
            return partner_driver_score_row(partner_id=partner.pk, driver_id=driver_id)
        score = driver_latest_score(driver_id=driver_id, insured_by=partner)
        if score is not None:
            return True, build(score)
        return partner_driver_visible(partner=partner, driver_id=driver_id), None
    visible_key, payload_key = _visible_key(partner.pk, driver_id), _cache_key(kind, driver_id)
    try:
        hits = cache.get_many([visible_key, payload_key]) or {}
    except Exception:  # belt and braces: IGNORE_EXCEPTIONS already turns outages into misses
        logger.warning("cache read failed for %s", payload_key, exc_info=True)
        hits = {}
    visible, payload = bool(hits.get(visible_key)), hits.get(payload_key)
    if payload is None and build is score_payload:
        visible, payload = partner_driver_score_row(partner_id=partner.pk, driver_id=driver_id)
        if visible:
            _remember_visible(partner.pk, driver_id, timeout)
        if payload is None:
            return visible, None
        try:
            cache.set(payload_key, payload, timeout=timeout)
        except Exception:
            logger.warning("cache write failed for %s", payload_key, exc_info=True)
        return True, payload
    if not visible and not partner_driver_visible_cached(partner=partner, driver_id=driver_id):
        return False, None
    if payload is None:
        score = driver_latest_score(driver_id=driver_id)
        if score is None:
            return True, None
        payload = build(score)
        try:
            cache.set(payload_key, payload, timeout=timeout)
        except Exception:
            logger.warning("cache write failed for %s", payload_key, exc_info=True)
    return True, payload


def _cached(kind: str, driver_id: int, build) -> dict[str, Any] | None:
    timeout = _cache_timeout()
    key = _cache_key(kind, driver_id)
    if timeout > 0:
        try:
            hit = cache.get(key)
        except Exception:
            logger.warning("cache read failed for %s", key, exc_info=True)
            hit = None
        if hit is not None:
            return hit
    score = driver_latest_score(driver_id=driver_id)
    if score is None:
        return None
    payload = build(score)
    if timeout > 0:
        try:
            cache.set(key, payload, timeout=timeout)
        except Exception:
            logger.warning("cache write failed for %s", key, exc_info=True)
    return payload


def driver_score_cached(*, driver_id: int) -> dict[str, Any] | None:
    return _cached("score", driver_id, score_payload)


def partner_driver_score(*, partner: Partner, driver_id: int) -> tuple[bool, dict[str, Any] | None]:
    """(visible to the partner, latest score payload or None), cached."""
    return _cached_for_partner("score", partner, driver_id, score_payload)


def partner_driver_explanation(*, partner: Partner, driver_id: int) -> tuple[bool, dict[str, Any] | None]:
    return _cached_for_partner("explanation", partner, driver_id, explanation_payload)


def _redis_key_stem(kind: str) -> str | None:
    """The Redis key of a driver's cached `kind` is this stem followed by the driver id, when the
    cache's key function concatenates (Django's default: prefix, version, key); None otherwise."""
    stem = _cache_key(kind, "")
    base = cache.make_key(stem + "0")[:-1]
    return base if cache.make_key(stem + "19") == base + "19" else None


# Deletes stem..id for every id of a comma list: batch scoring invalidates 100,000 drivers at a
# time, and sending 200,000 keys (built, packed and parsed one by one) cost more than the scoring.
_DELETE_BY_IDS = """
local keys, n = {}, 0
for id in string.gmatch(ARGV[#ARGV], "%d+") do
    for i = 1, #ARGV - 1 do
        keys[#keys + 1] = ARGV[i] .. id
    end
    if #keys >= 4000 then
        n = n + redis.call("DEL", unpack(keys))
        keys = {}
    end
end
if #keys > 0 then
    n = n + redis.call("DEL", unpack(keys))
end
return n
"""


def driver_score_cache_invalidate(*, driver_ids: list[int]) -> None:
    if not driver_ids:
        return
    kinds = ("score", "explanation")
    try:
        stems = [_redis_key_stem(kind) for kind in kinds]
        if None in stems:  # a custom key function: key by key
            cache.delete_many([_cache_key(kind, d) for d in driver_ids for kind in kinds])
            return
        client = cache.client.get_client(write=True)
        client.eval(_DELETE_BY_IDS, 0, *stems, ",".join(map(str, driver_ids)))
    except Exception:
        logger.warning("cache invalidation failed for %d drivers", len(driver_ids), exc_info=True)
