from django.core.management.base import BaseCommand, CommandError

from apps.audit.services import audit_head_problem, audit_verify


class Command(BaseCommand):
    help = (
        "Verifies the audit log's hash chain and that it reaches the newest signed checkpoint; exits non-zero "
        "at the first broken entry or when entries are missing."
    )

    def handle(self, *args, **options):
        ok, checked, broken = audit_verify()
        if not ok:
            raise CommandError(f"audit chain broken at entry #{broken} after {checked} good entries")
        problem = audit_head_problem()
        if problem:
            raise CommandError(f"audit chain incomplete: {problem}")
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {checked} entries"))
