"""The suite's two database roles, as in production (docs/operations.md "Database roles").

The test runner logs in as the owner (DATABASE_OWNER_URL, else DATABASE_URL): it creates the test
database, migrates it and hands the application role its tables with `db_app_role`, as
`make migrate` does. Then every test runs as the application role: Django's
OPTIONS["assume_role"] makes each connection SET ROLE to it at connect (the test's own, other
threads', the live server's), so a test has exactly the privileges of web, workers and beat, and
what it creates at run time (month partitions, staging tables) is the application role's. Worker
processes started by tests log in as the application role itself.

What only the owner may do runs inside `database_owner()` (SET ROLE NONE, back after): the
migration tests, `db_app_role`, the audit tests that play an attacker holding the owner's rights,
and Django's flush between transactional tests (it TRUNCATEs the audit log, which the application
role may never do)."""

from __future__ import annotations

from contextlib import contextmanager

from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from psycopg import pq, sql


def app_role() -> str:
    return settings.DATABASE_APP_ROLE


def run_as_app_role() -> None:
    """Once the test database is migrated: the application role gets its tables, and every
    connection from now on runs as it."""
    call_command("db_app_role", "--create", verbosity=0)
    connection.settings_dict["OPTIONS"]["assume_role"] = app_role()
    connections.close_all()


def run_as_owner() -> None:
    """Before the test database is dropped (only its owner may)."""
    connection.settings_dict["OPTIONS"].pop("assume_role", None)
    connections.close_all()


@contextmanager
def database_owner(using=None):
    """Runs the block as the owner role on `using` (Django's default connection)."""
    db = using or connection
    with db.cursor() as cursor:
        cursor.execute("SET ROLE NONE")
    try:
        yield
    finally:
        role = db.settings_dict["OPTIONS"].get("assume_role")
        # Inside a transaction that failed, its rollback takes the SET ROLE NONE back with it.
        live = db.connection is not None and not db.connection.closed
        if role and live and db.connection.info.transaction_status != pq.TransactionStatus.INERROR:
            with db.cursor() as cursor:
                cursor.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))


def app_database_url() -> str:
    """The test database for a process a test starts (a worker, an ingest), logged in as the
    application role itself when the suite was given its URL apart (DATABASE_URL beside
    DATABASE_OWNER_URL, as `make test` does), else with the suite's login."""
    s = connection.settings_dict
    login = settings.TEST_APP_DATABASE_LOGIN or s
    auth = login["USER"] + (f":{login['PASSWORD']}" if login.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def flush_as_owner() -> None:
    """Django's flush after a transactional test TRUNCATEs every table, the audit log's included:
    it runs as the owner, and the role is the application's again after it."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    if getattr(DatabaseOperations.execute_sql_flush, "as_owner", False):
        return
    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with database_owner(self.connection):
            original(self, sql_list)

    execute_sql_flush.as_owner = True
    DatabaseOperations.execute_sql_flush = execute_sql_flush
