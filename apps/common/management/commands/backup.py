from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.common.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Backs up the database (pg_dump: partitions, triggers, the materialized view), the model artifacts and a "
        "manifest listing the secrets to keep, into an empty directory."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory")

    def handle(self, *args, directory, **options):
        try:
            manifest = backup_create(Path(directory))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup of {manifest['database']} in {directory}: database, "
                f"{len(manifest['artifacts']['files'])} artifact file(s)."
            )
        )
        names = ", ".join(item["name"] for item in manifest["secrets_to_keep"])
        self.stdout.write(f"Not in the backup, keep them with it: {names}.")
