from django.core.management.base import BaseCommand

from apps.jobs.services import job_schedules_install


class Command(BaseCommand):
    help = "Create beat schedules for registered job kinds that declare one and have none yet."

    def handle(self, *args, **options):
        created = job_schedules_install()
        self.stdout.write(f"created {len(created)} schedule(s)" + (f": {', '.join(created)}" if created else ""))
