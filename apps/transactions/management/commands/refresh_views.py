from django.core.management.base import BaseCommand

from apps.transactions.services import enriched_transactions_refresh


class Command(BaseCommand):
    help = "Refreshes the enriched_transactions materialized view CONCURRENTLY (readers are not blocked)."

    def handle(self, *args, **options):
        result = enriched_transactions_refresh()
        self.stdout.write(
            self.style.SUCCESS(f"enriched_transactions refreshed ({result['mode']}) in {result['seconds']:.1f} s.")
        )
