"""Default schedule of the nightly customer segments (intelligence.customer_segments, issue 15:
the command center reads them instead of ranking every customer on a page view): after the KPIs
(02:15), before the rental fraud (02:30). Creates the row only if it does
not exist; the reverse removes only that row. Frozen here: history, not read from the registry."""

import json

from django.conf import settings
from django.db import migrations

NEW_SCHEDULES = {"intelligence.customer_segments": "20 2 * * *"}


def task_name(kind: str) -> str:
    return f"{kind} (scheduled)"


def install(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for kind, cron in NEW_SCHEDULES.items():
        minute, hour, day_of_month, month_of_year, day_of_week = cron.split()
        schedule, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
            timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.get_or_create(
            name=task_name(kind),
            defaults={
                "task": "jobs.start_scheduled",
                "crontab": schedule,
                "kwargs": json.dumps({"kind": kind}),
                "description": f"Starts the {kind} job (a JobRun) on schedule.",
                "enabled": True,
            },
        )


def uninstall(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[task_name(k) for k in NEW_SCHEDULES], task="jobs.start_scheduled").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0005_risk_drift_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
