from celery import shared_task

from apps.jobs import services


@shared_task(name="jobs.run_job", acks_late=True)
def run_job(run_id: int) -> str | None:
    from celery import current_task

    task_id = current_task.request.id if current_task and current_task.request else ""
    run = services.job_execute(run_id=run_id, task_id=task_id or "")
    return run.status if run else None


def run_job_enqueue(*, run_id: int, queue: str) -> None:
    """Receiver of hooks.run_queued (connected in JobsConfig.ready): a worker runs it."""
    run_job.apply_async(args=[run_id], queue=queue)


@shared_task(name="jobs.start_scheduled")
def start_scheduled(kind: str, parameters: dict | None = None) -> int | None:
    """Beat entry point: queues a JobRun so scheduled work is visible like any other run."""
    from apps.common.exceptions import ApplicationError

    try:
        return services.job_start(kind=kind, parameters=parameters or {}, trigger="schedule").pk
    except ApplicationError:
        return None  # the same job is still running: skip this tick


@shared_task(name="jobs.recover")
def recover() -> dict:
    """Beat housekeeping: fails runs whose worker died and re-sends queued runs whose message was
    lost (see services.job_runs_recover)."""
    return services.job_runs_recover()
