"""The application's database role (not a superuser) against the audit log: it may read and
append, and nothing else, whatever session setting it sets; the domain tables stay its own."""

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import ProgrammingError, connection

from apps.audit.services import audit_head_problem
from tests.audit.factories import audit_entry
from tests.db_roles import app_database_url, database_owner

pytestmark = pytest.mark.django_db(transaction=True)

@pytest.fixture
def app_connection():
    """A connection logged in as the application role (the one every test runs as), after
    db_app_role granted it again (it is idempotent; only the owner may run it)."""
    with database_owner():
        call_command("db_app_role")
    with psycopg.connect(app_database_url(), autocommit=True) as app:
        yield app


def test_the_suite_runs_as_the_application_role():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, r.rolsuper FROM pg_roles r WHERE r.rolname = current_user")
        assert cursor.fetchone() == (settings.DATABASE_APP_ROLE, False)
        with pytest.raises(ProgrammingError, match="permission denied"):
            cursor.execute("TRUNCATE audit_auditentry")


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_no_update_delete",
        "DROP TRIGGER audit_entry_no_truncate ON audit_auditentry",
        "ALTER TABLE audit_auditcheckpoint DISABLE TRIGGER ALL",
        "UPDATE audit_auditentry SET action = 'rewritten'",
        "DELETE FROM audit_auditentry",
        "DELETE FROM audit_auditcheckpoint",
        "TRUNCATE audit_auditentry",
        "TRUNCATE audit_auditcheckpoint",
        "CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    ],
)
def test_the_application_role_cannot_alter_or_empty_the_audit_log(app_connection, statement):
    entry = audit_entry(action="kept")
    with app_connection.cursor() as cursor:
        cursor.execute("SET fleetops.allow_audit_truncate = on")  # any session may set it; it opens nothing
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            cursor.execute(statement)
        cursor.execute("SELECT action FROM audit_auditentry WHERE id = %s", [entry.pk])
        assert cursor.fetchone() == ("kept",)
    assert audit_head_problem() is None


def test_the_application_role_is_no_superuser_and_still_appends_and_owns_the_domain(app_connection):
    with app_connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute(
            "INSERT INTO audit_auditentry"
            " (occurred_at, actor_label, action, entity_type, entity_id, data, prev_hash, hash)"
            " VALUES (now(), 'app', 'x', '', '', '{}', %s, %s) RETURNING id",
            ["0" * 64, "f" * 64],
        )
        assert cursor.fetchone()[0] > 0
        # Run-time work of the application that needs ownership of domain tables.
        cursor.execute("CREATE UNLOGGED TABLE app_role_staging (x int)")
        cursor.execute("DROP TABLE app_role_staging")
