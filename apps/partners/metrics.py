"""Scrape-time metrics of the partner webhooks (settings.METRICS_COLLECTORS)."""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from apps.partners.models import WebhookDelivery


def collect():
    deliveries = GaugeMetricFamily("fleetops_webhook_deliveries", "Webhook deliveries by status.", labels=["status"])
    for row in WebhookDelivery.objects.values("status").annotate(n=Count("id")).order_by("status"):
        deliveries.add_metric([row["status"]], row["n"])
    yield deliveries
