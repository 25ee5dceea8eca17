"""Starting a job while the broker (Redis) is down or paused: a clear refusal within 3 seconds
from the admin, the CLI and the partner API, and no run left behind (the choice: no run, rather
than a run waiting for the broker). It used to answer after 19 s with a 500, or a RuntimeError in
the CLI, and leave a queued run without a message that ran 15-18 minutes later."""

import signal
import socket
import time

import pytest
from celery import current_app
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.common.exceptions import ApplicationError
from apps.jobs.models import JobRun
from apps.jobs.services import job_start
from tests.jobs import kinds  # noqa: F401  (registers the test job kinds)

pytestmark = pytest.mark.django_db


def _not_eager(monkeypatch) -> None:
    """Tests run tasks eagerly; the broker is only consulted when they are really sent."""
    monkeypatch.setitem(current_app.conf, "task_always_eager", False)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["stopped", "paused"])
def broker_down(request, settings, monkeypatch):
    """The broker as a stopped Redis (connection refused) or a paused one (no answer at all)."""
    _not_eager(monkeypatch)
    if request.param == "stopped":
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
        yield
        return
    process, url = request.getfixturevalue("private_redis")
    settings.CELERY_BROKER_URL = url
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        process.send_signal(signal.SIGCONT)


def test_job_start_refuses_at_once_and_leaves_no_run(broker_down):
    started = time.monotonic()
    with pytest.raises(ApplicationError) as caught:
        job_start(kind="tests.counting", parameters={"size": 2})
    assert time.monotonic() - started < 3
    assert caught.value.code == "broker_unavailable"
    assert "nothing was started" in caught.value.message
    assert not JobRun.objects.exists()


def test_the_admin_shows_the_refusal(broker_down, client, role_user):
    client.force_login(role_user("ops"))
    url = reverse("admin:jobs_jobrun_run_kind", kwargs={"kind": "tests.counting"})
    started = time.monotonic()
    response = client.post(url, {"size": "2"})
    assert time.monotonic() - started < 3
    assert response.status_code == 200
    assert "The job queue (Redis) does not answer" in response.content.decode()
    assert not JobRun.objects.exists()


def test_the_cli_prints_one_line(broker_down):
    started = time.monotonic()
    with pytest.raises(CommandError, match=r"^The job queue \(Redis\) does not answer .*nothing was started"):
        call_command("run_job", "tests.counting", "--param", "size=2")
    assert time.monotonic() - started < 3
    assert not JobRun.objects.exists()


def test_a_sync_run_from_the_cli_needs_no_broker(broker_down):
    call_command("run_job", "tests.counting", "--param", "size=1", "--sync")
    assert JobRun.objects.get().status == "succeeded"
