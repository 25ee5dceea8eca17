import datetime as dt
import hashlib
import json
import logging
import traceback
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from apps.common import live as live_updates
from apps.common.broker import broker_ping
from apps.common.exceptions import ApplicationError
from apps.common.hooks import Hook
from apps.common.sql import own_connection
from apps.jobs import registry
from apps.jobs.hooks import run_queued
from apps.jobs.models import JobRun

logger = logging.getLogger(__name__)


def _params_hash(params: dict[str, Any], scope: str = "") -> str:
    text = json.dumps(params, sort_keys=True, default=str) + (f"|{scope}" if scope else "")
    return hashlib.sha256(text.encode()).hexdigest()


@transaction.atomic
def job_start(
    *,
    kind: str,
    parameters: dict[str, Any] | None = None,
    user=None,
    trigger: str = "manual",
    enqueue: bool = True,
    scope: str = "",
) -> JobRun:
    """Queues a job run; refuses a second live run of the same kind and parameters within the
    same `scope` (a partner's runs are scoped to it, so one partner never blocks or learns of
    another's).

    `enqueue=False` leaves the queued run to the caller (`run_job --sync` executes it in-process)."""
    try:
        job_kind = registry.get(kind)
        params = job_kind.clean_params(parameters or {})
    except (KeyError, ValueError, TypeError) as exc:
        raise ApplicationError(str(exc).strip('"'), code="invalid_job") from exc
    if enqueue:
        _broker_check()
    try:
        with transaction.atomic():
            run = JobRun.objects.create(
                kind=kind,
                parameters=params,
                parameters_hash=_params_hash(params, scope),
                started_by=user,
                trigger=trigger,
            )
    except IntegrityError:
        live = JobRun.objects.filter(
            kind=kind, parameters_hash=_params_hash(params, scope), status__in=JobRun.LIVE
        ).first()
        raise ApplicationError(
            f"{kind} with these parameters is already {live.status if live else 'running'}"
            f" (run #{live.pk if live else '?'}).",
            code="job_already_running",
            extra={"job_id": live.pk if live else None},
        ) from None
    queued = {"id": run.pk, "kind": kind, "status": run.status}
    if enqueue:

        def send() -> None:
            _send(run.pk, job_kind.queue)
            live_updates.send("jobs", queued)

        transaction.on_commit(send)
    else:
        live_updates.publish("jobs", queued)
    return run


def _broker_check() -> None:
    """Refuses a start at once, before any run exists, when the broker does not answer: a run
    queued without a message would only start when the recovery sweep re-sends it."""
    from celery import current_app

    if current_app.conf.task_always_eager:
        return
    problem = broker_ping(timeout=settings.BROKER_CHECK_TIMEOUT_SECONDS)
    if problem:
        raise ApplicationError(
            f"The job queue (Redis) does not answer ({problem}); nothing was started. Start it again once "
            "the queue is back.",
            code="broker_unavailable",
        )


def _send(run_id: int, queue: str) -> None:
    """Sends the run's message after commit. Should the broker fail between the check and this
    send, the run stays queued and the recovery sweep sends it again; the caller is not failed."""
    try:
        run_queued.send(run_id=run_id, queue=queue)
    except Exception:
        logger.error("job run %s queued but its message could not be sent; the recovery sweep re-sends it", run_id)


def job_cancel(*, run: JobRun) -> JobRun:
    """Asks a live run to stop; a queued run is cancelled at once."""
    updated = JobRun.objects.filter(pk=run.pk, status=JobRun.Status.QUEUED).update(
        status=JobRun.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    if not updated:
        JobRun.objects.filter(pk=run.pk, status=JobRun.Status.RUNNING).update(cancel_requested=True)
    run.refresh_from_db()
    return run


# A run being executed is held by an advisory lock on a connection of its own, taken before the
# run is claimed and released after its outcome is stored. A worker that dies (killed, out of
# memory, restarted) drops the connection and with it the lock: job_runs_recover then knows that
# a run still marked running has nobody left to finish it.
_RUN_LOCK_BASE = 0x4A4F4200 << 32  # "JOB\0" in the high half of the bigint key, the run id below


def _run_lock_key(run_id: int) -> int:
    return _RUN_LOCK_BASE + run_id


def job_execute(*, run_id: int, task_id: str = "") -> JobRun | None:
    """Runs a queued job in this process (called by the Celery task and by `run_job --sync`)."""
    with own_connection(application_name=f"fleetops-job-{run_id}") as alive:
        alive.execute("SELECT pg_advisory_lock(%s)", [_run_lock_key(run_id)])
        claimed = JobRun.objects.filter(pk=run_id, status=JobRun.Status.QUEUED).update(
            status=JobRun.Status.RUNNING, started_at=timezone.now(), celery_task_id=task_id
        )
        if not claimed:
            return None  # already taken, finished or cancelled: a redelivered message does nothing
        run = JobRun.objects.get(pk=run_id)
        live_updates.publish("jobs", {"id": run.pk, "kind": run.kind, "status": run.status})
        ctx = registry.JobContext(run)
        try:
            result = registry.get(run.kind).func(ctx, **run.parameters) or {}
            status, error = JobRun.Status.SUCCEEDED, ""
        except registry.JobCancelled:
            result, status, error = {}, JobRun.Status.CANCELLED, ""
        except Exception as exc:
            result, status = {}, JobRun.Status.FAILED
            error = f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc()}"
        JobRun.objects.filter(pk=run_id).update(
            status=status,
            result=json.loads(json.dumps(result, default=str)),
            error=error[:20000],
            finished_at=timezone.now(),
        )
    live_updates.publish("jobs", {"id": run_id, "kind": run.kind, "status": status})
    run.refresh_from_db()
    return run


INTERRUPTED = (
    "Interrupted: the process running it stopped (a worker killed or restarted) before it finished. "
    "Jobs are idempotent: start it again."
)


# Other apps' interrupted work freed by the same sweep (the payments ingest connects here); each
# receiver returns a dict merged into the sweep's result.
recovery_sweep = Hook("jobs.recovery_sweep")


def job_runs_recover(*, resend_after_seconds: int = 900) -> dict:
    """Frees the runs nobody will finish, so that their kind can start again (a live run blocks a
    second one of the same kind and parameters, scheduled starts included):
    - a run marked running whose lock nobody holds lost its worker: it is marked failed;
    - a run queued for `resend_after_seconds` without a worker taking it most likely lost its
      message (the broker keeps none across a restart): the message is sent again, at most once
      per period. A duplicate message is harmless: only one execution can claim the run.
    Run every five minutes by beat."""
    interrupted = []
    running = list(JobRun.objects.filter(status=JobRun.Status.RUNNING).values_list("pk", flat=True))
    if running:
        with own_connection(application_name="fleetops-job-recover") as probe:
            for run_id in running:
                key = _run_lock_key(run_id)
                if not probe.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
                    continue  # its worker is alive
                try:
                    if JobRun.objects.filter(pk=run_id, status=JobRun.Status.RUNNING).update(
                        status=JobRun.Status.FAILED, error=INTERRUPTED, finished_at=timezone.now()
                    ):
                        interrupted.append(run_id)
                finally:
                    probe.execute("SELECT pg_advisory_unlock(%s)", [key])
    due = timezone.now() - dt.timedelta(seconds=resend_after_seconds)
    resent = []
    for run in JobRun.objects.filter(status=JobRun.Status.QUEUED).filter(
        models.Q(resent_at__lt=due) | models.Q(resent_at__isnull=True, created_at__lt=due)
    ):
        try:
            queue = registry.get(run.kind).queue
        except KeyError:
            JobRun.objects.filter(pk=run.pk, status=JobRun.Status.QUEUED).update(
                status=JobRun.Status.FAILED, error=f"unknown job kind {run.kind!r}", finished_at=timezone.now()
            )
            continue
        JobRun.objects.filter(pk=run.pk).update(resent_at=timezone.now())
        run_queued.send(run_id=run.pk, queue=queue)
        resent.append(run.pk)
    result = {"interrupted": interrupted, "resent": resent}
    for other in recovery_sweep.send():
        result.update(other)
    return result


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
