"""jobs 0004 renames the payments pipeline's kinds to its app's label (`payments.*` ->
`transactions.*`) in the JobRun history and in the beat schedules that start them, and back."""

import json

import pytest

from tests.migrations import migrate as _migrate

BEFORE = [("jobs", "0003_jobrun_resent_at")]
AFTER = [("jobs", "0004_rename_payments_job_kinds")]


@pytest.mark.django_db(transaction=True)
def test_job_runs_and_schedules_follow_the_renamed_kinds_and_back():
    apps = _migrate(BEFORE)
    try:
        JobRun = apps.get_model("jobs", "JobRun")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
        PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
        # the default schedule of 0002, as an existing database has it
        default = PeriodicTask.objects.get(name="payments.refresh_views (scheduled)")
        assert json.loads(default.kwargs) == {"kind": "payments.refresh_views"}
        crontab = CrontabSchedule.objects.create(minute="5", hour="6")
        by_args = PeriodicTask.objects.create(
            name="morning ingest", task="jobs.start_scheduled", crontab=crontab, args=json.dumps(["payments.ingest"])
        )
        other = PeriodicTask.objects.create(
            name="risk by hand", task="jobs.start_scheduled", crontab=crontab, kwargs=json.dumps({"kind": "risk.train"})
        )
        ingest = JobRun.objects.create(kind="payments.ingest", parameters_hash="a" * 64, status="succeeded")
        refresh = JobRun.objects.create(kind="payments.refresh_views", parameters_hash="b" * 64, status="queued")
        kpis = JobRun.objects.create(kind="intelligence.kpis", parameters_hash="c" * 64, status="failed")
        PeriodicTasks.objects.filter(ident=1).delete()

        apps = _migrate(AFTER)
        JobRun = apps.get_model("jobs", "JobRun")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
        kinds = dict(JobRun.objects.values_list("pk", "kind"))
        assert kinds[ingest.pk] == "transactions.ingest"
        assert kinds[refresh.pk] == "transactions.refresh_views"
        assert kinds[kpis.pk] == "intelligence.kpis"
        default = PeriodicTask.objects.get(pk=default.pk)
        assert default.name == "transactions.refresh_views (scheduled)"
        assert json.loads(default.kwargs) == {"kind": "transactions.refresh_views"}
        assert default.description == "Starts the transactions.refresh_views job (a JobRun) on schedule."
        by_args = PeriodicTask.objects.get(pk=by_args.pk)
        assert (by_args.name, json.loads(by_args.args)) == ("morning ingest", ["transactions.ingest"])
        assert json.loads(PeriodicTask.objects.get(pk=other.pk).kwargs) == {"kind": "risk.train"}
        assert PeriodicTasks.objects.filter(ident=1).exists()  # beat reloads its schedule

        apps = _migrate(BEFORE)
        JobRun = apps.get_model("jobs", "JobRun")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        assert JobRun.objects.get(pk=ingest.pk).kind == "payments.ingest"
        assert JobRun.objects.get(pk=refresh.pk).kind == "payments.refresh_views"
        default = PeriodicTask.objects.get(pk=default.pk)
        assert default.name == "payments.refresh_views (scheduled)"
        assert json.loads(default.kwargs) == {"kind": "payments.refresh_views"}
        assert json.loads(PeriodicTask.objects.get(pk=by_args.pk).args) == ["payments.ingest"]
    finally:
        _migrate(AFTER)
