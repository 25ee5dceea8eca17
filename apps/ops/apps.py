from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "apps.ops"
    label = "ops"

    def ready(self):
        from apps.ops.selectors.payments import payments_dashboards_precompute
        from apps.transactions.hooks import enriched_transactions_refreshed, payments_ingested

        # The payments dashboard's figures are computed when the view changes, not by its first viewer.
        payments_ingested.connect(payments_dashboards_precompute)
        enriched_transactions_refreshed.connect(payments_dashboards_precompute)
