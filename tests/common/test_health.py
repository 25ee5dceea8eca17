import socket

import pytest


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_answers_without_touching_services(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_ok_when_database_redis_and_migrations_are(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "down": [],
        "checks": {"database": "ok", "redis": "ok", "migrations": "ok"},
    }


@pytest.mark.django_db
def test_readyz_names_redis_when_it_is_unreachable(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["down"] == ["redis"]
    assert body["checks"]["redis"] == "error: ConnectionError"
    assert body["checks"]["database"] == "ok"


def test_health_endpoints_only_answer_get(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_migration_check_reports_pending_then_remembers_a_current_schema(monkeypatch):
    from apps.common import health

    class Pending:
        def __init__(self, connection):
            self.loader = type("L", (), {"graph": type("G", (), {"leaf_nodes": lambda self: []})()})()

        def migration_plan(self, targets):
            return [("app", "0002")]

    monkeypatch.setattr(health, "_migrations_current", False)
    monkeypatch.setattr(health, "MigrationExecutor", Pending)
    assert health.check_migrations() == "error: 1 unapplied migrations"

    monkeypatch.undo()
    monkeypatch.setattr(health, "_migrations_current", False)
    assert health.check_migrations() == "ok"
    # Once current, the graph is not loaded again.
    monkeypatch.setattr(health, "MigrationExecutor", lambda connection: pytest.fail("graph rebuilt"))
    assert health.check_migrations() == "ok"


def test_favicon_ico_leads_to_the_products_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith(".svg") and "common/favicon" in response["Location"]
