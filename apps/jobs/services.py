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
def job_start(*, kind: str, parameters: dict[str, Any] | None = None, user=None, trigger: str = "manual") -> JobRun:
    """Queues a job run; refuses a second live run of the same kind and parameters."""
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
