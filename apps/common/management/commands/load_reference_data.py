"""Reference data every FleetOps database needs: regions, vehicle categories, the default rate plan
(fixtures/), and the ISO 18245 merchant categories (the transactions app's command).

Fixture rows are matched on their natural key and only missing ones are inserted: a second run
changes nothing, and a row edited since (or a rate plan in force, which is never rewritten) keeps
its values, unlike `loaddata`, which would overwrite them."""

from django.conf import settings
from django.core import serializers
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

FIXTURES_DIR = settings.BASE_DIR / "fixtures"
# fixture file -> the fields that identify a row
FIXTURES = {
    "regions.json": ("code",),
    "vehicle_categories.json": ("code",),
    "rate_plans.json": ("name", "version"),
}


def load_fixture(path, natural_key: tuple[str, ...]) -> tuple[int, int]:
    """Inserts the fixture's rows that are missing; returns (inserted, already present)."""
    inserted = present = 0
    with path.open() as handle:
        for deserialized in serializers.deserialize("json", handle):
            obj = deserialized.object
            model = type(obj)
            lookup = {field: getattr(obj, field) for field in natural_key}
            if model.objects.filter(**lookup).exists():
                present += 1
                continue
            obj.pk = None
            obj.full_clean()
            obj.save(force_insert=True)
            inserted += 1
    return inserted, present


class Command(BaseCommand):
    help = "Loads the reference data (fixtures/ and merchant categories); idempotent."

    def handle(self, *args, **options):
        with transaction.atomic():
            for name, natural_key in FIXTURES.items():
                inserted, present = load_fixture(FIXTURES_DIR / name, natural_key)
                self.stdout.write(f"{name}: {inserted} inserted, {present} already present")
        call_command("load_merchant_categories", stdout=self.stdout, stderr=self.stderr)
