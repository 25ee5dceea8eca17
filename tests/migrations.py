"""Moving the test database between migration states, for the tests of data migrations."""

from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.db_roles import database_owner


def migrate(targets):
    """Migrates to `targets` ([(app_label, migration_name)]) and returns the historical apps there.
    As the owner, as a deployment migrates; the application role then gets what the migrations
    made (db_app_role), as `make migrate` does."""
    with database_owner():
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(targets)
        call_command("db_app_role", verbosity=0)
    return executor.loader.project_state(targets).apps
