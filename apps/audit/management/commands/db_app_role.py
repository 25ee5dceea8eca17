"""Grants the application's database role what it needs and nothing over the audit log.

Run as the owner (migration) role after every `migrate`:
    DATABASE_URL=<owner url> manage.py db_app_role [--role fleetops_app] [--create]
The application role then owns the domain tables, in public and in the schemas migrations made
(it creates partitions and staging tables and refreshes the materialized view at run time) but
may only SELECT and INSERT the audit tables, which stay the owner's: it cannot ALTER them,
disable their triggers, TRUNCATE, UPDATE or DELETE."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from psycopg import sql

from apps.audit.models import AuditCheckpoint, AuditEntry

PROTECTED = (AuditEntry._meta.db_table, AuditCheckpoint._meta.db_table)
KINDS = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}


class Command(BaseCommand):
    help = "Hands the domain tables to the application role and leaves it SELECT/INSERT only on the audit log."

    def add_arguments(self, parser):
        from django.conf import settings

        parser.add_argument("--role", default=settings.DATABASE_APP_ROLE)
        parser.add_argument("--create", action="store_true", help="create the role (LOGIN, no password) if missing")

    @transaction.atomic
    def handle(self, *args, role, create, **options):
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
            found = cursor.fetchone()
            if found is None and not create:
                raise CommandError(f"database role {role!r} does not exist (pass --create)")
            if found is None:
                cursor.execute(
                    sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(sql.Identifier(role))
                )
            elif found[0]:
                raise CommandError(f"database role {role!r} is a superuser: the application must not be one")
            cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
            owner, owner_is_super = cursor.fetchone()
            ident = sql.Identifier(role)
            if not owner_is_super:
                # The owner must keep altering the tables it hands over in later migrations.
                cursor.execute(sql.SQL("GRANT {} TO {}").format(ident, sql.Identifier(owner)))
            cursor.execute(
                sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                    sql.Identifier(connection.settings_dict["NAME"]), ident
                )
            )
            # public and the schemas migrations made (ingest_staging: the ingest's staging tables).
            cursor.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'"
                " ORDER BY nspname"
            )
            schemas = [name for (name,) in cursor.fetchall()]
            for schema in schemas:
                cursor.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(sql.Identifier(schema), ident))
            cursor.execute(
                """
                SELECT n.nspname, c.relname, c.relkind
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                  AND pg_get_userbyid(c.relowner) <> %s
                """,
                [schemas, role],
            )
            relations = cursor.fetchall()
            protected_sequences = set()
            for table in PROTECTED:
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
                protected_sequences.add(cursor.fetchone()[0].split(".")[-1].strip('"'))
            handed = 0
            for schema, name, kind in relations:
                if schema == "public" and (name in PROTECTED or name in protected_sequences):
                    continue
                if kind == "S":
                    cursor.execute(
                        "SELECT 1 FROM pg_depend d JOIN pg_class s ON s.oid = d.objid"
                        " WHERE s.relname = %s AND d.deptype IN ('a', 'i')",
                        [name],
                    )
                    if cursor.fetchone():
                        continue  # owned by a column: follows its table
                statement = sql.SQL("ALTER {} {} OWNER TO {}").format(
                    sql.SQL(KINDS[kind]), sql.Identifier(schema, name), ident
                )
                cursor.execute(statement)
                handed += 1
            for table in PROTECTED:
                cursor.execute(
                    sql.SQL("ALTER TABLE {} OWNER TO {}").format(sql.Identifier(table), sql.Identifier(owner))
                )
                cursor.execute(sql.SQL("REVOKE ALL ON {} FROM PUBLIC, {}").format(sql.Identifier(table), ident))
                cursor.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(sql.Identifier(table), ident))
            for sequence in protected_sequences:
                cursor.execute(
                    sql.SQL("REVOKE ALL ON SEQUENCE {} FROM PUBLIC, {}").format(sql.Identifier(sequence), ident)
                )
                cursor.execute(
                    sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(sql.Identifier(sequence), ident)
                )
        self.stdout.write(
            self.style.SUCCESS(
                f"{role}: owns {handed} more relations; {', '.join(PROTECTED)} stay {owner}'s (SELECT, INSERT only)"
            )
        )
