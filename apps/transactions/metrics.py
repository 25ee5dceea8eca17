"""Scrape-time metrics of the payments ELT (settings.METRICS_COLLECTORS)."""

from django.db.models import Count, Sum
from prometheus_client.core import GaugeMetricFamily

from apps.transactions.models import IngestRun


def collect():
    runs = GaugeMetricFamily("fleetops_ingest_runs", "Payment ingest runs by status.", labels=["status"])
    for row in IngestRun.objects.values("status").annotate(n=Count("id")).order_by("status"):
        runs.add_metric([row["status"]], row["n"])
    yield runs
    totals = IngestRun.objects.aggregate(
        read=Sum("rows_read"), loaded=Sum("rows_loaded"), rejected=Sum("rows_rejected"), duplicate=Sum("rows_duplicate")
    )
    rows = GaugeMetricFamily("fleetops_ingest_rows", "Rows of all payment ingest runs by outcome.", labels=["outcome"])
    for outcome, value in totals.items():
        rows.add_metric([outcome], value or 0)
    yield rows
