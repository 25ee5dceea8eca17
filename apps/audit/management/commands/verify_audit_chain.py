from django.core.management.base import BaseCommand, CommandError

from apps.audit.services import audit_verify


class Command(BaseCommand):
    help = "Verifies the audit log's hash chain; exits non-zero at the first broken entry."

    def handle(self, *args, **options):
        ok, checked, broken = audit_verify()
        if not ok:
            raise CommandError(f"audit chain broken at entry #{broken} after {checked} good entries")
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {checked} entries"))
