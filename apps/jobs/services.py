import hashlib
import json
import traceback
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.common.exceptions import ApplicationError
from apps.jobs import registry
from apps.jobs.models import JobRun


def _params_hash(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


@transaction.atomic
def job_start(
    *, kind: str, parameters: dict[str, Any] | None = None, user=None, trigger: str = "manual", enqueue: bool = True
) -> JobRun:
    """Queues a job run; refuses a second live run of the same kind and parameters.

    `enqueue=False` leaves the queued run to the caller (`run_job --sync` executes it in-process)."""
    try:
        job_kind = registry.get(kind)
        params = job_kind.clean_params(parameters or {})
    except (KeyError, ValueError, TypeError) as exc:
        raise ApplicationError(str(exc).strip('"'), code="invalid_job") from exc
    try:
        with transaction.atomic():
            run = JobRun.objects.create(
                kind=kind, parameters=params, parameters_hash=_params_hash(params), started_by=user, trigger=trigger
            )
    except IntegrityError:
        live = JobRun.objects.filter(kind=kind, parameters_hash=_params_hash(params), status__in=JobRun.LIVE).first()
        raise ApplicationError(
            f"{kind} with these parameters is already {live.status if live else 'running'}"
            f" (run #{live.pk if live else '?'}).",
            code="job_already_running",
            extra={"job_id": live.pk if live else None},
        ) from None
    if enqueue:
        from apps.jobs.tasks import run_job

        transaction.on_commit(lambda: run_job.apply_async(args=[run.pk], queue=job_kind.queue))
    return run


def job_cancel(*, run: JobRun) -> JobRun:
    """Asks a live run to stop; a queued run is cancelled at once."""
    updated = JobRun.objects.filter(pk=run.pk, status=JobRun.Status.QUEUED).update(
        status=JobRun.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    if not updated:
        JobRun.objects.filter(pk=run.pk, status=JobRun.Status.RUNNING).update(cancel_requested=True)
    run.refresh_from_db()
    return run


def job_execute(*, run_id: int, task_id: str = "") -> JobRun | None:
    """Runs a queued job in this process (called by the Celery task and by `run_job --sync`)."""
    claimed = JobRun.objects.filter(pk=run_id, status=JobRun.Status.QUEUED).update(
        status=JobRun.Status.RUNNING, started_at=timezone.now(), celery_task_id=task_id
    )
    if not claimed:
        return None  # already taken, finished or cancelled: a redelivered message does nothing
    run = JobRun.objects.get(pk=run_id)
    ctx = registry.JobContext(run)
    try:
        result = registry.get(run.kind).func(ctx, **run.parameters) or {}
        status, error = JobRun.Status.SUCCEEDED, ""
    except registry.JobCancelled:
        result, status, error = {}, JobRun.Status.CANCELLED, ""
    except Exception as exc:
        result, status, error = {}, JobRun.Status.FAILED, f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc()}"
    JobRun.objects.filter(pk=run_id).update(
        status=status,
        result=json.loads(json.dumps(result, default=str)),
        error=error[:20000],
        finished_at=timezone.now(),
    )
    run.refresh_from_db()
    return run


@transaction.atomic
def job_schedules_install() -> list[str]:
    """Creates a beat PeriodicTask for every registered kind that declares a schedule and has none
    yet (by name `<kind> (scheduled)`). Existing rows, edited or disabled by ops, are left alone."""
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    created = []
    for kind in registry.all_kinds().values():
        if not kind.schedule:
            continue
        name = f"{kind.name} (scheduled)"
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        try:
            minute, hour, day_of_month, month_of_year, day_of_week = kind.schedule.split()
        except ValueError:
            raise ApplicationError(f"{kind.name}: schedule {kind.schedule!r} is not 'm h dom mon dow'") from None
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
            timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.create(
            name=name,
            task="jobs.start_scheduled",
            crontab=crontab,
            kwargs=json.dumps({"kind": kind.name}),
            description=f"Starts the {kind.name} job (a JobRun) on schedule.",
        )
        created.append(kind.name)
    return created
