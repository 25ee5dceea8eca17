"""Running a registered job from a management command, the same way everywhere."""

from typing import Any

from django.core.management.base import CommandError

from apps.common.exceptions import ApplicationError
from apps.jobs.models import JobRun
from apps.jobs.services import job_execute, job_start


def job_run_from_command(
    *, kind: str, parameters: dict[str, Any] | None = None, sync: bool = True, raise_on_failure: bool = True
) -> JobRun:
    """Starts `kind` as a CLI-triggered JobRun. With `sync` it runs in this process and returns the
    finished run; otherwise it is queued for a worker. Refusals and (by default) failures become a
    CommandError naming the first line of the error."""
    try:
        run = job_start(kind=kind, parameters=parameters, trigger="cli", enqueue=not sync)
    except ApplicationError as exc:
        raise CommandError(exc.message) from None
    if not sync:
        return run
    run = job_execute(run_id=run.pk) or JobRun.objects.get(pk=run.pk)
    if raise_on_failure:
        job_raise_if_failed(run)
    return run


def job_raise_if_failed(run: JobRun) -> None:
    if run.status != JobRun.Status.SUCCEEDED:
        raise CommandError(run.error.splitlines()[0] if run.error else f"run #{run.pk} ended {run.status}")
