import threading
import time

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask

from apps.common.exceptions import ApplicationError
from apps.jobs.models import JobRun
from apps.jobs.services import job_cancel, job_execute, job_schedules_install, job_start
from apps.jobs.tasks import start_scheduled
from tests.jobs import kinds


def in_own_connections(funcs) -> tuple[list, list[Exception]]:
    """Runs each callable in its own thread at the same moment, each on its own committed
    connection (outside the test transaction, so the test deletes what they wrote)."""
    barrier = threading.Barrier(len(funcs))
    results, errors = [], []

    def run(func):
        try:
            barrier.wait()
            results.append(func())
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(func,)) for func in funcs]
    for thread in threads:
        thread.start()
    return threads, results, errors


def cleanup(kind):
    threads, _, _ = in_own_connections([lambda: JobRun.objects.filter(kind=kind).delete()])
    threads[0].join()


@pytest.mark.django_db
def test_two_concurrent_starts_run_the_job_once():
    """Both callers race to start the same kind; Celery is eager, so the winner executes the job
    right after its commit and blocks inside it while the loser is refused."""
    kinds.release.clear()
    kinds.calls["blocking"] = 0
    try:
        threads, _results, errors = in_own_connections(
            [lambda: job_start(kind="tests.blocking", trigger="api") for _ in range(2)]
        )
        deadline = time.monotonic() + 15
        while not errors and time.monotonic() < deadline:
            time.sleep(0.02)
        kinds.release.set()
        for thread in threads:
            thread.join()
        assert len(errors) == 1
        assert isinstance(errors[0], ApplicationError)
        assert errors[0].code == "job_already_running"
        assert kinds.calls["blocking"] == 1
        assert list(JobRun.objects.filter(kind="tests.blocking").values_list("status", flat=True)) == ["succeeded"]
    finally:
        kinds.release.set()
        cleanup("tests.blocking")


@pytest.mark.django_db
def test_a_live_run_refuses_a_second_start_and_other_parameters_are_fine():
    first = job_start(kind="tests.counting", parameters={"size": 2}, enqueue=False)
    with pytest.raises(ApplicationError, match=rf"already queued \(run #{first.pk}\)") as exc:
        job_start(kind="tests.counting", parameters={"size": 2}, enqueue=False)
    assert exc.value.extra == {"job_id": first.pk}
    other = job_start(kind="tests.counting", parameters={"size": 5}, enqueue=False)
    assert other.pk != first.pk
    job_execute(run_id=first.pk)
    again = job_start(kind="tests.counting", parameters={"size": 2}, enqueue=False)
    assert again.pk not in (first.pk, other.pk)


@pytest.mark.django_db
def test_a_failed_job_records_its_error(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = job_start(kind="tests.failing", parameters={"reason": "disk full"})
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error.startswith("ValueError: disk full")
    assert "Traceback" in run.error
    assert run.finished_at is not None and run.started_at is not None
    assert run.result == {}


@pytest.mark.django_db
def test_execute_records_result_progress_and_typed_parameters():
    run = job_start(
        kind="tests.counting", parameters={"size": "4", "label": "x", "flag": "yes", "ids": "1,2"}, enqueue=False
    )
    assert run.parameters == {"size": 4, "label": "x", "flag": True, "ids": ["1", "2"]}
    run = job_execute(run_id=run.pk)
    assert run.status == "succeeded"
    assert (run.progress_done, run.progress_total) == (4, 4)
    assert run.result == {"size": 4, "label": "x", "flag": True, "ids": ["1", "2"]}
    assert job_execute(run_id=run.pk) is None  # a redelivered message does nothing


@pytest.mark.parametrize(
    "kind, params, message",
    [
        ("nope.unknown", {}, "unknown job kind"),
        ("tests.counting", {"colour": "red"}, "unknown parameter"),
        ("tests.counting", {"size": "many"}, "invalid literal"),
    ],
)
@pytest.mark.django_db
def test_bad_start_is_refused_and_stores_nothing(kind, params, message):
    with pytest.raises(ApplicationError, match=message):
        job_start(kind=kind, parameters=params)
    assert not JobRun.objects.exists()


@pytest.mark.django_db
def test_cancel_queued_run_at_once_and_running_run_cooperatively():
    queued = job_start(kind="tests.counting", enqueue=False)
    queued = job_cancel(run=queued)
    assert (queued.status, queued.cancel_requested) == ("cancelled", True)
    assert job_execute(run_id=queued.pk) is None

    run = job_start(kind="tests.cancellable", enqueue=False)
    run = job_execute(run_id=run.pk)
    assert run.status == "cancelled"
    assert run.progress_done == 5


@pytest.mark.django_db
def test_scheduled_start_skips_while_the_same_job_is_live():
    first_id = start_scheduled(kind="tests.counting", parameters={"size": 1})
    assert JobRun.objects.get(pk=first_id).trigger == "schedule"
    assert start_scheduled(kind="tests.counting", parameters={"size": 1}) is None


@pytest.mark.django_db
def test_default_schedules_migration_installs_nightly_kinds_idempotently():
    """Runs the data migration's function itself (other tests may flush the rows it made)."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("apps.jobs.migrations.0002_default_beat_schedules")
    PeriodicTask.objects.filter(task="jobs.start_scheduled").delete()
    migration.install(apps, None)
    migration.install(apps, None)  # a second run adds nothing
    tasks = {t.name: t for t in PeriodicTask.objects.filter(task="jobs.start_scheduled")}
    assert len(tasks) == len(migration.DEFAULT_SCHEDULES)
    nightly = ("intelligence.kpis", "intelligence.rental_fraud", "intelligence.demand_forecast", "risk.score_drivers")
    for kind in nightly:
        task = tasks[f"{kind} (scheduled)"]
        assert task.kwargs == f'{{"kind": "{kind}"}}'
        assert task.crontab is not None and task.enabled
    kpis = tasks["intelligence.kpis (scheduled)"].crontab
    assert (kpis.minute, kpis.hour) == ("15", "2")
    migration.uninstall(apps, None)
    assert not PeriodicTask.objects.filter(task="jobs.start_scheduled").exists()


@pytest.mark.django_db
def test_install_job_schedules_adds_missing_ones_only():
    from apps.jobs import registry

    registry.register("tests.scheduled", title="t", schedule="5 6 * * 1")(lambda ctx: {})
    try:
        assert "tests.scheduled" in job_schedules_install()
        task = PeriodicTask.objects.get(name="tests.scheduled (scheduled)")
        assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("5", "6", "1")
        task.enabled = False
        task.save()
        assert "tests.scheduled" not in job_schedules_install()
        assert PeriodicTask.objects.get(name="tests.scheduled (scheduled)").enabled is False
    finally:
        registry._REGISTRY.pop("tests.scheduled", None)


def test_declared_schedules_are_the_ones_the_migration_installs():
    """Two places name a kind's default time: the data migrations (what a fresh install gets: 0002
    installs, 0004 renames, 0005 and 0006 add) and the registration (what `install_job_schedules` and `run_job --list`
    use). They must agree."""
    import importlib

    from apps.jobs import registry

    migration = importlib.import_module("apps.jobs.migrations.0002_default_beat_schedules")
    renamed = importlib.import_module("apps.jobs.migrations.0004_rename_payments_job_kinds").RENAMED
    installed = {renamed.get(k, k): v for k, v in migration.DEFAULT_SCHEDULES.items()}
    installed |= importlib.import_module("apps.jobs.migrations.0005_risk_drift_schedule").NEW_SCHEDULES
    installed |= importlib.import_module("apps.jobs.migrations.0006_customer_segments_schedule").NEW_SCHEDULES
    declared = {name: kind.schedule for name, kind in registry.all_kinds().items() if kind.schedule}
    assert declared == {k: v for k, v in installed.items() if k in registry.all_kinds()}
