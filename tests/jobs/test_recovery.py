"""Runs nobody will finish are freed: a run whose worker died is failed, and a queued run whose
message was lost is sent again, so that its kind (and the nightly schedule) can run again."""

import datetime as dt
import os
import signal
import time

import pytest
from django.utils import timezone

from apps.common.exceptions import ApplicationError
from apps.common.sql import own_connection
from apps.jobs.models import JobRun
from apps.jobs.services import INTERRUPTED, _run_lock_key, job_execute, job_runs_recover, job_start
from apps.jobs.tasks import run_job
from fleetops.celery import app
from tests.jobs import kinds  # registers the test kinds


def _claimed_by_a_process_that_died(**parameters) -> JobRun:
    run = job_start(kind="tests.counting", parameters=parameters, enqueue=False)
    JobRun.objects.filter(pk=run.pk).update(status=JobRun.Status.RUNNING, started_at=timezone.now())
    return run


@pytest.mark.django_db
def test_a_running_run_nobody_holds_is_failed_and_its_kind_starts_again():
    run = _claimed_by_a_process_that_died(size=2)
    with pytest.raises(ApplicationError, match="already running"):
        job_start(kind="tests.counting", parameters={"size": 2}, enqueue=False)

    assert job_runs_recover() == {"interrupted": [run.pk], "resent": [], "ingest_runs_interrupted": []}

    run.refresh_from_db()
    assert run.status == JobRun.Status.FAILED
    assert run.error == INTERRUPTED
    assert run.finished_at is not None
    assert job_start(kind="tests.counting", parameters={"size": 2}, enqueue=False).status == JobRun.Status.QUEUED
    assert job_runs_recover() == {"interrupted": [], "resent": [], "ingest_runs_interrupted": []}  # nothing twice


@pytest.mark.django_db
def test_a_running_run_whose_process_holds_its_lock_is_left_alone():
    run = _claimed_by_a_process_that_died(size=3)
    with own_connection(application_name="test-live-worker") as live:
        live.execute("SELECT pg_advisory_lock(%s)", [_run_lock_key(run.pk)])
        assert job_runs_recover()["interrupted"] == []
        run.refresh_from_db()
        assert run.status == JobRun.Status.RUNNING
    # The lock went with its connection: the run is now one nobody will finish.
    assert job_runs_recover()["interrupted"] == [run.pk]


@pytest.mark.django_db
def test_the_executing_process_holds_the_lock_until_the_outcome_is_stored():
    kinds.probed.clear()
    run = job_start(kind="tests.probing", parameters={}, enqueue=False)

    assert job_execute(run_id=run.pk).status == JobRun.Status.SUCCEEDED
    assert kinds.probed == {"free": False, "recover": {"interrupted": [], "resent": [], "ingest_runs_interrupted": []}}
    with own_connection(application_name="test-probe") as other:  # released afterwards
        assert other.execute("SELECT pg_try_advisory_lock(%s)", [_run_lock_key(run.pk)]).fetchone()[0]


@pytest.mark.django_db
def test_a_queued_run_whose_message_was_lost_is_sent_again_once_per_period():
    lost = job_start(kind="tests.counting", parameters={"size": 4}, enqueue=False)
    fresh = job_start(kind="tests.counting", parameters={"size": 5}, enqueue=False)
    waiting = job_start(kind="tests.counting", parameters={"size": 6}, enqueue=False)
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)
    JobRun.objects.filter(pk__in=[lost.pk, waiting.pk]).update(created_at=an_hour_ago)
    JobRun.objects.filter(pk=waiting.pk).update(resent_at=timezone.now() - dt.timedelta(minutes=5))

    result = job_runs_recover(resend_after_seconds=900)

    assert result == {"interrupted": [], "resent": [lost.pk], "ingest_runs_interrupted": []}
    # Celery is eager in the tests: the message sent again ran the job at once.
    lost.refresh_from_db()
    assert lost.status == JobRun.Status.SUCCEEDED
    assert lost.result["size"] == 4
    assert lost.resent_at is not None
    fresh.refresh_from_db()
    waiting.refresh_from_db()
    assert (fresh.status, fresh.resent_at) == (JobRun.Status.QUEUED, None)
    assert waiting.status == JobRun.Status.QUEUED  # sent again 5 minutes ago: not yet due


@pytest.mark.django_db
def test_a_queued_run_of_a_kind_no_longer_registered_is_failed():
    run = job_start(kind="tests.counting", parameters={"size": 7}, enqueue=False)
    JobRun.objects.filter(pk=run.pk).update(kind="tests.removed", created_at=timezone.now() - dt.timedelta(hours=1))

    assert job_runs_recover() == {"interrupted": [], "resent": [], "ingest_runs_interrupted": []}
    run.refresh_from_db()
    assert run.status == JobRun.Status.FAILED
    assert "unknown job kind 'tests.removed'" in run.error


def test_the_recovery_sweep_is_on_beats_schedule():
    from celery.schedules import schedule

    entry = app.conf.beat_schedule["jobs.recover"]
    assert entry["task"] in app.tasks
    assert schedule(entry["schedule"]).run_every.total_seconds() <= 600


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_run_whose_real_worker_is_killed_is_failed_by_the_sweep(worker):
    queue, process, log_path = worker
    run = job_start(kind="tests.sleeping", parameters={"seconds": 120}, enqueue=False)
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        run_job.apply_async(args=[run.pk], queue=queue)
    finally:
        app.conf.task_always_eager = eager
    deadline = time.monotonic() + 120
    while JobRun.objects.get(pk=run.pk).status != JobRun.Status.RUNNING:
        if time.monotonic() > deadline or process.poll() is not None:
            pytest.fail(f"the worker did not start the run:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    assert job_runs_recover()["interrupted"] == []  # its worker is alive

    os.killpg(process.pid, signal.SIGKILL)  # as the out-of-memory killer would
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    interrupted = []
    while not interrupted and time.monotonic() < deadline:
        interrupted = job_runs_recover()["interrupted"]  # its backend may take a moment to go
        time.sleep(0.2)

    assert interrupted == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.error) == (JobRun.Status.FAILED, INTERRUPTED)
    assert job_start(kind="tests.sleeping", parameters={"seconds": 120}, enqueue=False).status == JobRun.Status.QUEUED
