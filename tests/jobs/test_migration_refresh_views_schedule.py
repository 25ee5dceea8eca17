"""jobs 0007 removes the beat schedules of the `transactions.refresh_views` kind (gone with the
materialized view), by kwargs or positional args, and leaves the others; going back restores the
default schedule."""

import json

import pytest

from tests.migrations import migrate as _migrate

BEFORE = [("jobs", "0006_customer_segments_schedule")]
AFTER = [("jobs", "0007_remove_refresh_views_schedule")]


@pytest.mark.django_db(transaction=True)
def test_the_refresh_schedules_are_removed_and_the_default_one_comes_back():
    apps = _migrate(BEFORE)
    try:
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
        PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
        # the default schedule of jobs 0002 (renamed by 0004), as an existing database has it
        crontab = CrontabSchedule.objects.create(minute="5", hour="6")
        PeriodicTask.objects.get_or_create(
            name="transactions.refresh_views (scheduled)",
            defaults={
                "task": "jobs.start_scheduled",
                "crontab": crontab,
                "kwargs": json.dumps({"kind": "transactions.refresh_views"}),
            },
        )
        by_args = json.dumps(["transactions.refresh_views"])
        PeriodicTask.objects.create(name="noon refresh", task="jobs.start_scheduled", crontab=crontab, args=by_args)
        kept = {
            task.pk
            for task in PeriodicTask.objects.filter(task="jobs.start_scheduled")
            if "refresh_views" not in task.kwargs + task.args
        }
        assert "telematics.ensure_partitions (scheduled)" in PeriodicTask.objects.values_list("name", flat=True)
        PeriodicTasks.objects.filter(ident=1).delete()

        apps = _migrate(AFTER)
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
        assert set(PeriodicTask.objects.filter(task="jobs.start_scheduled").values_list("pk", flat=True)) == kept
        assert PeriodicTasks.objects.filter(ident=1).exists()  # beat reloads its schedule

        apps = _migrate(BEFORE)
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        restored = PeriodicTask.objects.get(name="transactions.refresh_views (scheduled)")
        assert json.loads(restored.kwargs) == {"kind": "transactions.refresh_views"}
        assert (restored.crontab.minute, restored.crontab.hour) == ("30", "1")
        assert not PeriodicTask.objects.filter(name="noon refresh").exists()
    finally:
        _migrate([("jobs", "0007_remove_refresh_views_schedule")])
