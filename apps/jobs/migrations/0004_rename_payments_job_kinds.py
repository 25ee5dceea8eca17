"""Job kinds are prefixed with the label of the app that registers them: the payments pipeline's
kinds, registered by `transactions` as `payments.*`, become `transactions.*`. Existing JobRun rows
and the beat PeriodicTasks that start them (by kwargs or positional args, and the default
`<kind> (scheduled)` name and description) follow, so history and schedules keep their kind.
Reversible. The mapping is frozen here: it is history, not read from the registry."""

import json

from django.db import migrations
from django.utils import timezone

RENAMED = {
    "payments.ingest": "transactions.ingest",
    "payments.refresh_views": "transactions.refresh_views",
}


def _scheduled_name(kind: str) -> str:
    return f"{kind} (scheduled)"


def _rename(apps, mapping: dict[str, str]) -> None:
    JobRun = apps.get_model("jobs", "JobRun")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")

    for old, new in mapping.items():
        JobRun.objects.filter(kind=old).update(kind=new)

    changed = False
    for task in PeriodicTask.objects.filter(task="jobs.start_scheduled").order_by("pk"):
        try:
            kwargs = json.loads(task.kwargs or "{}")
            args = json.loads(task.args or "[]")
        except ValueError:
            continue  # not ours to repair; beat reports it as it did before
        fields = []
        if isinstance(kwargs, dict) and kwargs.get("kind") in mapping:
            old = kwargs["kind"]
            kwargs["kind"] = mapping[old]
            task.kwargs = json.dumps(kwargs)
            fields.append("kwargs")
        elif isinstance(args, list) and args and args[0] in mapping:
            old = args[0]
            args[0] = mapping[old]
            task.args = json.dumps(args)
            fields.append("args")
        else:
            continue
        new = mapping[old]
        if task.name == _scheduled_name(old) and not PeriodicTask.objects.filter(name=_scheduled_name(new)).exists():
            task.name = _scheduled_name(new)
            fields.append("name")
        if old in task.description:
            task.description = task.description.replace(old, new)
            fields.append("description")
        task.save(update_fields=fields)
        changed = True

    if changed:
        # Beat reloads its schedule when this marker moves (the model's signals do not run here).
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def forward(apps, schema_editor):
    _rename(apps, RENAMED)


def backward(apps, schema_editor):
    _rename(apps, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0003_jobrun_resent_at"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forward, backward)]
