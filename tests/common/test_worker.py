import time

import pytest
from django.db import connection

from apps.common.tasks import ping
from fleetops.celery import app


@pytest.mark.worker
@pytest.mark.django_db
def test_ping_round_trips_through_a_real_worker(worker):
    queue, process, log_path = worker
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        result = ping.apply_async(args=["hello"], queue=queue)
        try:
            answer = result.get(timeout=120)
        except Exception:
            pytest.fail(f"no answer from the worker (exit code {process.poll()}):\n{log_path.read_text()[-3000:]}")
    finally:
        app.conf.task_always_eager = eager

    # The worker ran it against this test's database, so it really went through Redis and back.
    assert answer == {"pong": "hello", "database": connection.settings_dict["NAME"]}
    assert process.poll() is None
    # The worker's own log names the task run (it may flush a moment after the result is stored).
    deadline = time.monotonic() + 15
    while f"Task common.ping[{result.id}] succeeded" not in log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert f"Task common.ping[{result.id}] succeeded" in log_path.read_text()
