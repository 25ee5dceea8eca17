"""The replica router against a real streaming replica: a hot standby made by pg_basebackup -R
of the private cluster (`scripts/services.sh replica-start`, port PG_PORT + 10) and removed after.

The replica's replay is paused (pg_wal_replay_pause) while rows are written on the primary, so it
is visibly behind: what a request shows then tells which server answered it. Partner API and ops
page reads come from the replica, writes go to the primary, and a client that has just written
reads from the primary until the replica has replayed its write."""

import contextlib
import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.alerts.models import OperationalEvent
from apps.partners.models import WebhookEndpoint
from tests.alerts.factories import OperationalEventFactory
from tests.partners.conftest import client_for
from tests.partners.factories import ApiTokenFactory, PartnerFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db(transaction=True)

SERVICES = Path(settings.BASE_DIR) / "scripts" / "services.sh"


def _server_programs_present() -> bool:
    bins = [Path(b) for b in glob.glob("/usr/lib/postgresql/*/bin")]
    return any((b / "pg_basebackup").exists() and (b / "pg_ctl").exists() for b in bins) or bool(
        shutil.which("pg_basebackup") and shutil.which("pg_ctl")
    )


@pytest.fixture(scope="module")
def streaming_replica(django_db_setup, django_db_blocker):
    """The replica's port, while it streams from the private cluster."""
    if not _server_programs_present():
        pytest.skip("the PostgreSQL server programs (pg_basebackup, pg_ctl) are not installed")
    if os.environ.get("PRIVATE_PG", "1") != "1":
        pytest.skip("DATABASE_URL points at a server of your own: this test copies the private cluster")
    primary_port = int(connection.settings_dict["PORT"] or 5432)
    port = int(os.environ.get("FLEETOPS_PG_REPLICA_PORT") or primary_port + 10)
    env = {**os.environ, "FLEETOPS_PG_PORT": str(primary_port), "FLEETOPS_PG_REPLICA_PORT": str(port)}
    started = subprocess.run(
        ["bash", str(SERVICES), "replica-start"], env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if started.returncode != 0:
        subprocess.run(["bash", str(SERVICES), "replica-stop"], env=env, capture_output=True, timeout=120, check=False)
        pytest.fail(f"the replica did not start: {started.stdout[-2000:]}{started.stderr[-2000:]}")
    try:
        yield port
    finally:
        subprocess.run(["bash", str(SERVICES), "replica-stop"], env=env, capture_output=True, timeout=120, check=False)


@pytest.fixture
def replica(streaming_replica):
    """The `replica` alias (DATABASE_REPLICA_URL's) on the real replica, as the application role
    like every test connection, and an owner's connection to the replica to pause its replay."""
    primary = connection.settings_dict
    # MIRROR keeps Django's flush after the test off the (read-only) replica.
    settings.DATABASES["replica"] = {**primary, "PORT": streaming_replica, "TEST": {"MIRROR": "default"}}
    # Opened now: the test case set up before this alias existed and refuses to open new ones.
    connections["replica"].connect()
    control = psycopg.connect(
        host=primary["HOST"] or "127.0.0.1",
        port=streaming_replica,
        user=primary["USER"],
        password=primary["PASSWORD"] or None,
        dbname=primary["NAME"],
        autocommit=True,
    )
    try:
        _caught_up(control)
        yield control
    finally:
        with contextlib.suppress(psycopg.Error):
            control.execute("SELECT pg_wal_replay_resume()")
        control.close()
        connections["replica"].close()
        del connections["replica"]
        del settings.DATABASES["replica"]


def _caught_up(control, timeout: float = 60) -> None:
    """Waits until the replica has replayed everything the primary has written so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
        position = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    while not control.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [position]).fetchone()[0]:
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.05)


@contextlib.contextmanager
def _replay_paused(control, attempts: int = 200):
    """Replay paused where the replica holds no lock replayed from the primary. An access-exclusive
    lock the primary took briefly (autovacuum truncating a table's empty end, a catalog's too) is
    replayed as held until its release is replayed: paused in between, every read of that table
    on the replica waits for good (a session read waited on pg_attrdef until the test timed out)."""
    for _ in range(attempts):
        control.execute("SELECT pg_wal_replay_pause()")
        while control.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] != "paused":
            time.sleep(0.01)
        held = control.execute(
            "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' "
            "AND pid = (SELECT pid FROM pg_stat_activity WHERE backend_type = 'startup')"
        ).fetchone()[0]
        if not held:
            break
        control.execute("SELECT pg_wal_replay_resume()")
        time.sleep(0.05)
    else:
        raise AssertionError("the replica kept holding a replayed lock")
    try:
        yield
    finally:
        control.execute("SELECT pg_wal_replay_resume()")


def _tables_read(context: CaptureQueriesContext) -> str:
    return " ".join(q["sql"] for q in context.captured_queries if q["sql"].lstrip().upper().startswith("SELECT"))


def test_the_replica_is_a_hot_standby_of_the_test_database(replica):
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_user")
        assert cursor.fetchone() == (True, settings.DATABASE_APP_ROLE)


def test_partner_reads_come_from_the_replica_writes_go_to_the_primary_and_a_partner_reads_its_own(replica):
    partners = {}
    for name in ("writer", "reader"):
        partner = PartnerFactory()
        partners[name] = (
            partner,
            client_for(ApiTokenFactory(partner=partner)),
            WebhookEndpointFactory(partner=partner),
        )
    writer, writer_client, _ = partners["writer"]
    reader, reader_client, reader_first = partners["reader"]
    _caught_up(replica)

    with _replay_paused(replica):
        late = WebhookEndpointFactory(partner=reader)  # written on the primary, not replayed yet
        with CaptureQueriesContext(connections["replica"]) as on_replica:
            listed = reader_client.get("/api/v1/webhooks/")
        assert [e["id"] for e in listed.json()["results"]] == [reader_first.pk]  # the replica's rows
        assert "accounts_webhookendpoint" in _tables_read(on_replica)
        assert reader_client.get(f"/api/v1/webhooks/{late.pk}/").status_code == 404

        created = writer_client.post(
            "/api/v1/webhooks/",
            {"url": "https://hooks.insurer.example/ryw", "events": ["score.changed"]},
            format="json",
        )
        assert created.status_code == 201
        assert WebhookEndpoint.objects.filter(pk=created.json()["id"], partner=writer).exists()  # on the primary
        assert not replica.execute(
            "SELECT 1 FROM accounts_webhookendpoint WHERE id = %s", [created.json()["id"]]
        ).fetchone()
        # The writer's next reads, though the replica lags: from the primary.
        with CaptureQueriesContext(connections["replica"]) as on_replica:
            again = writer_client.get(f"/api/v1/webhooks/{created.json()['id']}/")
        assert again.status_code == 200 and again.json()["url"] == "https://hooks.insurer.example/ryw"
        assert on_replica.captured_queries == [] or "accounts_webhookendpoint" not in _tables_read(on_replica)
        # Any other client still reads the replica.
        assert reader_client.get(f"/api/v1/webhooks/{late.pk}/").status_code == 404

    _caught_up(replica)
    # Replayed: the writer is back on the replica, and the reader sees the late row there.
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert writer_client.get(f"/api/v1/webhooks/{created.json()['id']}/").status_code == 200
    assert "accounts_webhookendpoint" in _tables_read(on_replica)
    assert reader_client.get(f"/api/v1/webhooks/{late.pk}/").status_code == 200


def test_ops_pages_read_the_replica_and_an_analyst_sees_the_alert_they_just_acknowledged(replica, client, role_user):
    from django.test import Client

    worker, onlooker = client, Client()
    worker.force_login(role_user("ops"))
    onlooker.force_login(role_user("ops"))  # sessions written before the pause: on the replica too
    seen = OperationalEventFactory(title="Brake pads worn")
    _caught_up(replica)

    with _replay_paused(replica):
        late = OperationalEventFactory(title="Tyre pressure low")
        with CaptureQueriesContext(connections["replica"]) as on_replica:
            assert onlooker.get(reverse("ops:alert", args=[seen.pk])).status_code == 200
        assert "alerts_operationalevent" in _tables_read(on_replica)
        assert worker.get(reverse("ops:alert", args=[late.pk])).status_code == 404  # not replayed yet

        acted = worker.post(reverse("ops:alert-act", args=[seen.pk]), {"action": "acknowledge", "note": "on it"})
        assert acted.status_code == 302
        assert OperationalEvent.objects.get(pk=seen.pk).status == "acknowledged"  # on the primary
        page = worker.get(acted["Location"]).content.decode()  # where the action sends the analyst
        assert "Acknowledged" in page or "acknowledged" in page
        assert worker.get(reverse("ops:alert", args=[late.pk])).status_code == 200  # the primary answers them now
        assert onlooker.get(reverse("ops:alert", args=[late.pk])).status_code == 404  # still the replica

    _caught_up(replica)
    assert onlooker.get(reverse("ops:alert", args=[late.pk])).status_code == 200


def test_replay_is_paused_only_where_the_replica_holds_no_lock_replayed_from_the_primary(replica):
    """A primary's transaction holding an access-exclusive lock: the replica replays the lock as
    held, and a pause there would leave every read of the table waiting; so no pause is taken
    until the lock's release is replayed."""
    primary = connection.settings_dict
    locker = psycopg.connect(
        host=primary["HOST"] or "127.0.0.1",
        port=primary["PORT"],
        user=primary["USER"],
        password=primary["PASSWORD"] or None,
        dbname=primary["NAME"],
    )
    try:
        locker.execute("LOCK TABLE alerts_operationalevent IN ACCESS EXCLUSIVE MODE")  # held: no commit yet
        _caught_up(replica)
        with pytest.raises(AssertionError, match="kept holding"), _replay_paused(replica, attempts=3):
            pass
        locker.commit()
        _caught_up(replica)
        with _replay_paused(replica):
            assert replica.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] == "paused"
    finally:
        locker.close()
