from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "apps.transactions"
    label = "transactions"

    def ready(self):
        from apps.jobs.services import recovery_sweep
        from apps.transactions.services import ingest_runs_recover_interrupted

        recovery_sweep.connect(ingest_runs_recover_interrupted)
