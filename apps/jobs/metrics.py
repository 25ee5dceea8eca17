"""Scrape-time metrics of the jobs (settings.METRICS_COLLECTORS)."""

import redis
from django.conf import settings
from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from apps.jobs import registry
from apps.jobs.models import JobRun


def collect():
    runs = GaugeMetricFamily("fleetops_job_runs", "Job runs by kind and status.", labels=["kind", "status"])
    for row in JobRun.objects.values("kind", "status").annotate(n=Count("id")).order_by("kind", "status"):
        runs.add_metric([row["kind"], row["status"]], row["n"])
    yield runs
    queues = GaugeMetricFamily("fleetops_queue_length", "Messages waiting in a Celery queue.", labels=["queue"])
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    names = sorted(
        {kind.queue for kind in registry.all_kinds().values()} | routed | {settings.CELERY_TASK_DEFAULT_QUEUE}
    )
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        lengths = [client.llen(name) for name in names]
    finally:
        client.close()
    for name, length in zip(names, lengths, strict=True):
        queues.add_metric([name], length)
    yield queues
