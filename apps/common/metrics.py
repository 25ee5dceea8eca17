"""Prometheus metrics at /metrics: HTTP requests and latency, database queries and time, cache hits
(this process's counters), plus what the apps register in METRICS_COLLECTORS, read at scrape time
from the database and Redis (job runs by kind and status, queue lengths, ingest rows, uploads,
webhook deliveries), so every web process reports the same figures.

With several gunicorn workers set PROMETHEUS_MULTIPROC_DIR (an empty directory per start): the
counters are then summed over the processes (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import hmac
import logging
import os
import time
from contextlib import ExitStack

from django.conf import settings
from django.http import HttpResponse
from django.utils.module_loading import import_string
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

REQUESTS = Counter("fleetops_http_requests_total", "HTTP requests answered.", ["method", "view", "status"])
LATENCY = Histogram(
    "fleetops_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DB_QUERIES = Counter("fleetops_db_queries_total", "Database queries made while answering requests.", ["alias"])
DB_SECONDS = Counter("fleetops_db_query_seconds_total", "Seconds spent in database queries by requests.", ["alias"])
UPLOADS = Counter("fleetops_telematics_uploads_total", "Trip uploads by outcome.", ["outcome"])


class MetricsMiddleware:
    """Counts every request by view and status, its latency, and its database queries."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.db import connections

        started = time.perf_counter()
        timers = [_QueryTimer(alias) for alias in connections]
        with ExitStack() as stack:
            for timer in timers:
                stack.enter_context(connections[timer.alias].execute_wrapper(timer))
            response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match._func_path) if match else "unmatched"
        REQUESTS.labels(request.method if len(request.method) <= 10 else "other", view, str(response.status_code)).inc()
        LATENCY.labels(view).observe(time.perf_counter() - started)
        for timer in timers:
            if timer.count:
                DB_QUERIES.labels(timer.alias).inc(timer.count)
                DB_SECONDS.labels(timer.alias).inc(timer.seconds)
        return response


class _QueryTimer:
    def __init__(self, alias: str):
        self.alias, self.count, self.seconds = alias, 0, 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


class AppCollector:
    """Calls the functions named in settings.METRICS_COLLECTORS at scrape time; one that fails is
    reported as down instead of failing the scrape."""

    def collect(self):
        up = GaugeMetricFamily("fleetops_metrics_collector_up", "1 when the collector answered.", labels=["collector"])
        for path in settings.METRICS_COLLECTORS:
            try:
                families = list(import_string(path)())
            except Exception:
                logger.warning("metrics collector %s failed", path, exc_info=True)
                up.add_metric([path], 0)
                continue
            up.add_metric([path], 1)
            yield from families
        yield from _cache_families()
        yield up


def _cache_families():
    """Redis' own hit and miss counters (the cache and the broker share it unless configured apart)."""
    from django_redis import get_redis_connection

    up = GaugeMetricFamily("fleetops_cache_up", "1 when the cache (Redis) answers.")
    try:
        stats = get_redis_connection("default").info("stats")
    except Exception:
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    yield up
    for name in ("keyspace_hits", "keyspace_misses"):
        family = GaugeMetricFamily(f"fleetops_cache_{name}", f"Redis {name} since it started.")
        family.add_metric([], stats.get(name, 0))
        yield family


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in (REQUESTS, LATENCY, DB_QUERIES, DB_SECONDS, UPLOADS):
            registry.register(collector)
    registry.register(AppCollector())
    return registry


def metrics_view(request):
    """Prometheus text format; `Authorization: Bearer <METRICS_TOKEN>`. Without a configured token
    the endpoint is closed (403)."""
    token = settings.METRICS_TOKEN
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token or not hmac.compare_digest(sent.encode(), token.encode()):
        return HttpResponse(
            "metrics need Authorization: Bearer <METRICS_TOKEN>\n", status=403, content_type="text/plain"
        )
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
