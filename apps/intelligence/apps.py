from django.apps import AppConfig


class IntelligenceConfig(AppConfig):
    name = "apps.intelligence"
    label = "intelligence"

    def ready(self) -> None:
        # A payments ingestion that loaded rows asks for the new payments to be scored.
        from apps.intelligence.payment_fraud import payments_scoring_requested
        from apps.transactions.hooks import payments_ingested

        payments_ingested.connect(payments_scoring_requested)
