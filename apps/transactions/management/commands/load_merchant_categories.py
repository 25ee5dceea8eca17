from django.core.management.base import BaseCommand

from apps.transactions.services import merchant_categories_load_official


class Command(BaseCommand):
    help = "Upserts the ISO 18245 merchant category codes (the iso18245 package's official list); idempotent."

    def handle(self, *args, **options):
        count = merchant_categories_load_official()
        self.stdout.write(self.style.SUCCESS(f"{count} merchant category codes loaded."))
