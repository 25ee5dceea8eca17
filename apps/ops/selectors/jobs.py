"""The job console: every kind with its schedule, last run and outcome; runs with live progress."""

from django.db.models import QuerySet
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.jobs import registry
from apps.jobs.models import JobRun
from apps.jobs.selectors import job_run_list, user_can_operate_jobs

__all__ = ["job_kinds", "job_progress", "job_run_get", "job_runs", "user_can_operate_jobs"]

PARAM_HELP = {
    "as_of": ("date", "Day the job looks back from (YYYY-MM-DD); empty: today."),
    "last_day": ("date", "Last day of KPIs to compute (YYYY-MM-DD); empty: yesterday."),
    "days": ("number", "How many days back to compute."),
    "retrain": ("checkbox", "Train a new model even when a recent one exists."),
    "window_days": ("number", "Days of driving the features cover."),
    "follow_days": ("number", "Days after the features in which claims count."),
    "seed": ("number", "Random seed (same seed, same model)."),
    "chunk_size": ("number", "Drivers per chunk."),
    "explain": ("checkbox", "Store the SHAP reasons with each score."),
    "driver_ids": ("text", "Comma-separated driver ids; empty: every driver."),
    "recompute": ("checkbox", "Recompute trips that already have features."),
    "limit": ("number", "At most this many items; empty: all."),
    "months": ("number", "Months ahead to create."),
    "paths": ("text", "Comma-separated files or delivery directories under the ingest root."),
    "ingest_run_id": ("number", "An ingest run created in the back office."),
    "source_tz": ("text", "Time zone of the delivery's timestamps (IANA name, e.g. UTC)."),
}


def job_kinds() -> list[dict]:
    """Every registered kind with its beat schedule and its last run (two queries)."""
    kinds = registry.all_kinds()
    schedules = {}
    for task in PeriodicTask.objects.select_related("crontab").filter(task="jobs.start_scheduled"):
        kind = _kind_of(task)
        if kind and task.crontab:
            c = task.crontab
            cron = f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"
            schedules[kind] = cron if task.enabled else f"{cron} (disabled)"
    latest = JobRun.objects.filter(kind__in=kinds).order_by("kind", "-created_at").distinct("kind")
    last_runs = {run.kind: run for run in latest}
    rows = []
    for name, kind in kinds.items():
        rows.append(
            {
                "name": name,
                "title": kind.title,
                "schedule": schedules.get(name),
                "last_run": last_runs.get(name),
                "params": [
                    {"name": p, "type": PARAM_HELP.get(p, ("text", ""))[0], "help": PARAM_HELP.get(p, ("", ""))[1]}
                    for p in kind.params
                ],
            }
        )
    return rows


def _kind_of(task) -> str | None:
    import json

    try:
        return json.loads(task.kwargs or "{}").get("kind")
    except ValueError:
        return None


def job_runs(*, kind: str = "", status: str = "") -> QuerySet[JobRun]:
    return job_run_list(kind=kind or None, status=status or None)


def job_run_get(*, pk: int) -> JobRun | None:
    return JobRun.objects.select_related("started_by").filter(pk=pk).first()


def job_progress(run: JobRun) -> dict:
    """Share done and an ETA from the pace so far (None when unknown)."""
    share = None
    eta = None
    if run.progress_total:
        share = min(1.0, run.progress_done / run.progress_total)
    if run.status == "succeeded":
        share = 1.0
    if run.status == "running" and run.started_at and share and 0 < share < 1:
        elapsed = (timezone.now() - run.started_at).total_seconds()
        eta = elapsed * (1 - share) / share
    return {"share": share, "eta_seconds": eta}
