"""Score drivers with the active risk model (job risk.score_drivers).

manage.py score_drivers --all
manage.py score_drivers --driver-ids 12,15 --as-of 2026-06-30
manage.py score_drivers --all --no-shap --queue
"""

import json

from django.core.management.base import BaseCommand, CommandError

from apps.jobs.cli import job_run_from_command


def driver_id_list(value: str) -> list[int]:
    try:
        ids = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise CommandError(f"--driver-ids takes comma-separated integers, not {value!r}") from None
    if not ids:
        raise CommandError("--driver-ids is empty")
    return ids


class Command(BaseCommand):
    help = "Score every driver (--all) or some (--driver-ids) with the active risk model."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", dest="all_drivers")
        which.add_argument("--driver-ids", default="")
        parser.add_argument("--as-of", default="", help="feature day YYYY-MM-DD (default: the latest)")
        parser.add_argument("--no-shap", action="store_true", help="skip contributions and reasons")
        parser.add_argument("--chunk-size", type=int, default=1000)
        parser.add_argument("--queue", action="store_true", help="queue for a Celery worker instead of running here")

    def handle(self, *args, all_drivers, driver_ids, as_of, no_shap, chunk_size, queue, **options):
        params = {"as_of": as_of, "explain": not no_shap, "chunk_size": chunk_size}
        if not all_drivers:
            params["driver_ids"] = driver_id_list(driver_ids)
        run = job_run_from_command(kind="risk.score_drivers", parameters=params, sync=not queue)
        if queue:
            self.stdout.write(f"queued risk.score_drivers as run #{run.pk}")
            return
        elapsed = (run.finished_at - run.started_at).total_seconds()
        self.stdout.write(f"run #{run.pk} scored in {elapsed:.1f} s")
        self.stdout.write(json.dumps(run.result, indent=2, sort_keys=True))
