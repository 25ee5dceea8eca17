from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.common.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restores a backup into a new database (created here unless --no-create) and its model artifacts under "
        "ARTIFACT_ROOT; then run migrate and db_app_role against that database."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory")
        parser.add_argument("--database-url", required=True, help="postgresql://user@host:port/new_database")
        parser.add_argument("--artifact-root", default=None, help="default: ARTIFACT_ROOT")
        parser.add_argument("--no-create", action="store_true", help="the database exists already (and is empty)")

    def handle(self, *args, directory, database_url, artifact_root, no_create, **options):
        root = Path(artifact_root or settings.ARTIFACT_ROOT)
        try:
            manifest = backup_restore(Path(directory), url=database_url, artifact_root=root, create=not no_create)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        names = ", ".join(item["name"] for item in manifest["secrets_to_keep"])
        self.stdout.write(
            self.style.SUCCESS(f"Restored {manifest['database']} of {manifest['created_at']}; artifacts in {root}.")
        )
        self.stdout.write(f"Set the same secrets as before ({names}), then migrate and db_app_role.")
