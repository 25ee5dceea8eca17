import pytest
from django.core.management import CommandError, call_command

from apps.jobs.models import JobRun
from tests.jobs import kinds  # noqa: F401  (registers the test job kinds)


@pytest.mark.django_db
def test_run_job_sync_runs_in_process_with_params(capsys):
    call_command("run_job", "tests.counting", "--param", "size=3", "--param", "label=cli", "--sync")
    run = JobRun.objects.get()
    assert (run.status, run.trigger, run.parameters) == ("succeeded", "cli", {"size": 3, "label": "cli"})
    out = capsys.readouterr().out
    assert f"run #{run.pk} tests.counting: succeeded" in out
    assert '"label": "cli"' in out


@pytest.mark.django_db
def test_run_job_without_sync_queues_for_celery(django_capture_on_commit_callbacks, capsys):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("run_job", "tests.counting")
    assert len(callbacks) == 1  # the Celery enqueue, after commit
    assert JobRun.objects.get().status == "queued"
    assert "queued tests.counting as run #" in capsys.readouterr().out


@pytest.mark.django_db
def test_run_job_sync_failure_exits_with_the_error():
    with pytest.raises(CommandError, match="ValueError: nope"):
        call_command("run_job", "tests.failing", "--param", "reason=nope", "--sync")
    assert JobRun.objects.get().status == "failed"


@pytest.mark.parametrize(
    "args, message",
    [
        (["tests.counting", "--param", "size"], "name=value"),
        (["tests.counting", "--param", "size=1", "--param", "size=2"], "given twice"),
        (["tests.counting", "--param", "colour=red"], "unknown parameter"),
        (["no.such.kind"], "unknown job kind"),
        ([], "name a job kind"),
    ],
)
@pytest.mark.django_db
def test_run_job_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("run_job", *args)
    assert not JobRun.objects.exists()


@pytest.mark.django_db
def test_run_job_lists_kinds(capsys):
    call_command("run_job", "--list")
    assert "tests.counting" in capsys.readouterr().out
