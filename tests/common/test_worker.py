import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.common.tasks import ping
from fleetops.celery import app


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(tmp_path):
    """A real Celery worker process on the real Redis, consuming a queue of its own so that other
    workers on the same broker never take this test's task."""
    queue = f"test-ping-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fleetops.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "fleetops",
                "worker",
                "-Q",
                queue,
                "--pool",
                "solo",
                "-n",
                f"{queue}@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "info",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield queue, process, log_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


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
