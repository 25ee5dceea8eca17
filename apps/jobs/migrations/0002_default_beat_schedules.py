"""Default schedules for the nightly job kinds (interface 1 in the owners' agreement).

Each is a django-celery-beat PeriodicTask calling `jobs.start_scheduled` with the kind, so a
scheduled run is an ordinary JobRun (visible, cancellable, never started twice). Ops edit or
disable them in the admin; this migration only creates the rows that do not exist yet and its
reverse removes only rows it would have created. Times are the server's TIME_ZONE, ordered so
that each job finds its inputs fresh (features before scores, KPIs before forecasts)."""

import json

from django.conf import settings
from django.db import migrations

# kind -> "minute hour day_of_month month_of_year day_of_week"
DEFAULT_SCHEDULES = {
    "telematics.ensure_partitions": "0 1 * * *",
    "payments.refresh_views": "30 1 * * *",
    "telematics.trip_features": "45 1 * * *",
    "telematics.driver_features": "0 2 * * *",
    "intelligence.kpis": "15 2 * * *",
    "intelligence.rental_fraud": "30 2 * * *",
    "intelligence.payment_fraud": "45 2 * * *",
    "risk.score_drivers": "0 3 * * *",
    "pricing.requote": "45 3 * * *",
    "risk.train": "0 4 * * 0",
    "intelligence.revenue": "0 5 * * *",
    "intelligence.maintenance": "15 5 * * *",
    "intelligence.demand_forecast": "30 5 * * *",
}


def task_name(kind: str) -> str:
    return f"{kind} (scheduled)"


def install(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for kind, cron in DEFAULT_SCHEDULES.items():
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
    PeriodicTask.objects.filter(
        name__in=[task_name(k) for k in DEFAULT_SCHEDULES], task="jobs.start_scheduled"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
