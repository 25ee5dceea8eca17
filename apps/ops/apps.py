from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "apps.ops"
    label = "ops"

    def ready(self):
        from apps.ops.selectors.payments import payments_dashboards_precompute
        from apps.transactions.hooks import payments_ingested

        # The payments dashboard's figures are computed when payments are loaded, not by its first viewer.
        payments_ingested.connect(payments_dashboards_precompute)
