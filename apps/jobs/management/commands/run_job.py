"""Start a registered batch job from the command line.

manage.py run_job intelligence.kpis --param days=30          # queue it for a Celery worker
manage.py run_job intelligence.kpis --param days=30 --sync   # run it here and wait
manage.py run_job --list
"""

import json

from django.core.management.base import BaseCommand, CommandError

from apps.jobs import registry
from apps.jobs.cli import job_raise_if_failed, job_run_from_command


def parse_params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"--param takes name=value, not {pair!r}")
        if name.strip() in params:
            raise CommandError(f"--param {name.strip()} given twice")
        params[name.strip()] = value
    return params


class Command(BaseCommand):
    help = "Start a registered job kind (queued for Celery, or in this process with --sync)."

    def add_arguments(self, parser):
        parser.add_argument("kind", nargs="?", help="registered job kind, e.g. intelligence.kpis")
        parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
        parser.add_argument("--sync", action="store_true", help="run in this process and wait for the result")
        parser.add_argument("--list", action="store_true", dest="list_kinds", help="list the registered job kinds")

    def handle(self, *args, kind=None, param=(), sync=False, list_kinds=False, **options):
        if list_kinds:
            for job_kind in registry.all_kinds().values():
                params = ", ".join(f"{n}:{t.__name__}" for n, t in job_kind.params.items()) or "-"
                schedule = job_kind.schedule or "on demand"
                self.stdout.write(f"{job_kind.name:32} {schedule:14} {params}  {job_kind.title}")
            return
        if not kind:
            raise CommandError("name a job kind (or --list)")
        run = job_run_from_command(kind=kind, parameters=parse_params(param), sync=sync, raise_on_failure=False)
        if not sync:
            self.stdout.write(f"queued {kind} as run #{run.pk}")
            return
        elapsed = (run.finished_at - run.started_at).total_seconds() if run.started_at and run.finished_at else 0
        self.stdout.write(f"run #{run.pk} {kind}: {run.status} in {elapsed:.1f} s")
        if run.result:
            self.stdout.write(json.dumps(run.result, indent=2, sort_keys=True, default=str))
        job_raise_if_failed(run)
