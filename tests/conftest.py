import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from tests import db_roles
from tests.accounts.factories import UserFactory

# A `serialized_rollback` test ends with a flush that skips post_migrate (Django restores the
# serialized rows only when the next such test starts). Any other test that follows would find
# no content types, permissions, role groups or default schedules, so restore them first.
_restore_pending = False


def _is_serialized(item) -> bool:
    marker = item.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("serialized_rollback"))


def pytest_runtest_setup(item):
    global _restore_pending
    if _restore_pending and not _is_serialized(item):
        from django.contrib.contenttypes.models import ContentType
        from django.db import connection
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            contents = getattr(connection, "_test_serialized_contents", None)
            if contents:
                connection.creation.deserialize_db_from_string(contents)
            ContentType.objects.clear_cache()
        _restore_pending = False


def pytest_runtest_teardown(item, nextitem):
    global _restore_pending
    if _is_serialized(item):
        _restore_pending = True


@pytest.fixture
def role_user(db):
    """Makes a staff user in a role group: role_user("analyst")."""

    def make(role: str, **kwargs):
        user = UserFactory(is_staff=True, **kwargs)
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def back_office_client(client, role_user):
    client.force_login(role_user("back_office"))
    return client


@pytest.fixture
def analyst_client(client, role_user):
    client.force_login(role_user("analyst"))
    return client


def pytest_collection_modifyitems(items):
    """Every transactional test (transaction=True, live_server, transactional_db) runs with
    serialized rollback: it restores the migrated baseline (content types, permissions, role groups,
    default schedules) from the copy taken when the test database was set up, and its flush does
    not re-run post_migrate. Mixing the two kinds breaks whichever runs next: after a serialized
    test the tables are empty (no role groups), after a plain one the restore hits duplicates."""
    # The tests on the session's one Chromium run last: once it has started, Playwright's event loop
    # stays current in this thread, and no other test should run beside it.
    items.sort(key=lambda item: "chromium" in getattr(item, "fixturenames", ()))
    for item in items:
        marker = item.get_closest_marker("django_db")
        fixtures = getattr(item, "fixturenames", ())
        transactional = "live_server" in fixtures or "transactional_db" in fixtures
        transactional = transactional or bool(marker and marker.kwargs.get("transaction"))
        if transactional and not (marker and marker.kwargs.get("serialized_rollback")) and not (marker and marker.args):
            kwargs = {**(marker.kwargs if marker else {}), "transaction": True, "serialized_rollback": True}
            item.add_marker(pytest.mark.django_db(**kwargs), append=False)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database is created and migrated by the owner role; every test then runs as the
    application role (tests/db_roles.py says how, and what still runs as the owner)."""
    with django_db_blocker.unblock():
        db_roles.run_as_app_role()
    db_roles.flush_as_owner()
    yield
    with django_db_blocker.unblock():
        db_roles.run_as_owner()


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for every browser test of the session (starting it per test cost
    seconds each); a test opens a context of its own (`chromium.new_context()`) and closes it.
    Playwright's sync API keeps an event loop current in this thread from here on, so the ORM's
    async guard is lifted for the rest of the session (these tests are ordered last)."""
    from tests.common.browser import ARGS, CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (install Debian's chromium: scripts/ensure_chromium.sh)")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # Once Playwright's loop runs, this thread gets new connection objects (Django keeps them in
    # asgiref's context-local storage): hand them the copy of the migrated baseline that the
    # serialized rollback restores from, or later tests would start from empty tables.
    baseline = {alias: getattr(connections[alias], "_test_serialized_contents", None) for alias in connections}
    playwright = sync_playwright().start()
    for alias, contents in baseline.items():
        if contents is not None:
            connections[alias]._test_serialized_contents = contents
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@contextmanager
def celery_worker(tmp_path, *, broker_url: str | None = None):
    """A real Celery worker process, consuming a queue of its own so that other workers on the
    same broker never take this test's task. It imports the jobs tests' kinds too.
    Yields (queue, process, log path)."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fleetops.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DATABASE_URL": db_roles.app_database_url(),
        "REDIS_URL": broker_url or settings.REDIS_URL,
        "CELERY_BROKER_URL": broker_url or settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": broker_url or settings.CELERY_RESULT_BACKEND,
    }
    log_path = tmp_path / "worker.log"
    process = _logged_process(
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
            "--include",
            "tests.jobs.kinds",
            "-l",
            "info",
        ],
        env,
        log_path,
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


@pytest.fixture
def worker(tmp_path):
    """A real Celery worker on the real Redis (see celery_worker)."""
    with celery_worker(tmp_path) as started:
        yield started


@pytest.fixture
def private_redis(tmp_path):
    port = _free_port()
    server = shutil.which("redis-server")
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    try:
        yield process, f"redis://127.0.0.1:{port}/0"
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def positions_receiver(tmp_path, *, env: dict | None = None):
    """The positions receiver exactly as the Procfile's `positions` line starts it (uvicorn, one
    worker), on a free port, against this test's database and Redis. Yields (base URL, log path)."""
    port = _free_port()
    procfile = (Path(settings.BASE_DIR) / "Procfile").read_text().splitlines()
    line = next(x for x in procfile if x.startswith("positions:"))
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fleetops.settings.test",
        "DATABASE_URL": db_roles.app_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "POSITIONS_PORT": str(port),
        "POSITIONS_WORKERS": "1",
        **(env or {}),
    }
    log_path = tmp_path / "positions.log"
    process = _logged_process(["bash", "-c", "exec " + line.partition(":")[2].strip()], environ, log_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"the positions receiver did not start:\n{log_path.read_text()[-3000:]}")
        yield f"http://127.0.0.1:{port}", log_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _logged_process(command: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    """A process of the project's, started in the checkout in a session of its own (so the whole
    group can be stopped), its output in `log_path`."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
