"""The `transactions.refresh_views` job is gone (issue 20): enriched_transactions is a plain view,
with nothing to refresh. Its beat schedules (the default `<kind> (scheduled)` row and any made by
hand, by kwargs or positional args) are removed, so beat never starts a kind that no longer
exists; the JobRun history keeps its runs. The reverse puts the default schedule back (01:30,
as jobs 0002 made it). Frozen here: history, not read from the registry."""

import json

from django.conf import settings
from django.db import migrations
from django.utils import timezone

KIND = "transactions.refresh_views"
DEFAULT_CRON = "30 1 * * *"


def _starts_the_kind(task) -> bool:
    try:
        kwargs = json.loads(task.kwargs or "{}")
        args = json.loads(task.args or "[]")
    except ValueError:
        return False
    if isinstance(kwargs, dict) and kwargs.get("kind") == KIND:
        return True
    return isinstance(args, list) and bool(args) and args[0] == KIND


def _schedule_changed(apps) -> None:
    # Beat reloads its schedule when this marker moves (the model's signals do not run here).
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    doomed = [t.pk for t in PeriodicTask.objects.filter(task="jobs.start_scheduled") if _starts_the_kind(t)]
    if doomed:
        PeriodicTask.objects.filter(pk__in=doomed).delete()
        _schedule_changed(apps)


def restore(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    minute, hour, day_of_month, month_of_year, day_of_week = DEFAULT_CRON.split()
    when = {
        "minute": minute,
        "hour": hour,
        "day_of_month": day_of_month,
        "month_of_year": month_of_year,
        "day_of_week": day_of_week,
        "timezone": settings.TIME_ZONE,
    }
    # The crontab row stays when its task is removed; others like it may have been made since.
    schedule = CrontabSchedule.objects.filter(**when).order_by("pk").first() or CrontabSchedule.objects.create(**when)
    _, created = PeriodicTask.objects.get_or_create(
        name=f"{KIND} (scheduled)",
        defaults={
            "task": "jobs.start_scheduled",
            "crontab": schedule,
            "kwargs": json.dumps({"kind": KIND}),
            "description": f"Starts the {KIND} job (a JobRun) on schedule.",
            "enabled": True,
        },
    )
    if created:
        _schedule_changed(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0006_customer_segments_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(remove, restore)]
