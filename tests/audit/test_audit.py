import contextlib

import pytest
from django.core.management import CommandError, call_command
from django.db import ProgrammingError, connection, transaction

from apps.audit.models import AuditEntry
from apps.audit.services import GENESIS, audit_verify
from tests.audit.factories import audit_entry
from tests.db_roles import database_owner

pytestmark = pytest.mark.django_db


def _check_deferred_constraints_now() -> None:
    # Deferred foreign-key checks of the inserts are pending until commit, and PostgreSQL will
    # not ALTER or TRUNCATE a table with pending trigger events: run them now.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditentry SET action = 'rewritten' WHERE id = %s",
        "DELETE FROM audit_auditentry WHERE id = %s",
        "TRUNCATE audit_auditentry",
    ],
    ids=["update", "delete", "truncate"],
)
@pytest.mark.parametrize(
    "as_owner, refusal",
    # The application role lacks the privilege; the table's owner still meets the trigger.
    [(False, "permission denied"), (True, "append-only")],
    ids=["application role", "owner"],
)
def test_the_database_refuses_to_change_or_remove_entries(statement, as_owner, refusal):
    entry = audit_entry(data={"amount": "10.00"})
    _check_deferred_constraints_now()
    role = database_owner() if as_owner else contextlib.nullcontext()
    with pytest.raises(ProgrammingError, match=refusal), transaction.atomic(), role, connection.cursor() as cursor:
        # Test connections may TRUNCATE (for the runner's flush); an application connection may not.
        cursor.execute("SET LOCAL fleetops.allow_audit_truncate = off")
        cursor.execute(statement, [entry.pk] if "%s" in statement else None)
    assert AuditEntry.objects.get(pk=entry.pk).action == entry.action


def test_the_truncate_switch_does_not_open_update_or_delete():
    entry = audit_entry()
    with connection.cursor() as cursor:
        cursor.execute("SHOW fleetops.allow_audit_truncate")
        assert cursor.fetchone() == ("on",)
    with (
        pytest.raises(ProgrammingError, match="UPDATE refused"),
        transaction.atomic(),
        database_owner(),  # the application role may not even try
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_auditentry SET action = 'x' WHERE id = %s", [entry.pk])


def test_the_orm_cannot_edit_or_delete_either():
    entry = audit_entry()
    entry.action = "rewritten"
    with pytest.raises(ProgrammingError), transaction.atomic():
        entry.save()
    with pytest.raises(ProgrammingError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.filter(pk=entry.pk, action="test.action").exists()


def test_entries_chain_from_genesis_and_verify():
    first = audit_entry(action="a")
    second = audit_entry(action="b", data={"x": 1})
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    assert audit_verify() == (True, 2, None)
    call_command("verify_audit_chain")


def _tamper(sql: str, params: list) -> None:
    """What an attacker with the table owner's rights could do: switch the guard off, edit, switch it
    back on. It runs as the owner (the application role may not), inside the test's transaction."""
    _check_deferred_constraints_now()
    with database_owner(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_no_update_delete")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_entry_no_update_delete")


@pytest.mark.parametrize(
    ("sql", "broken_index"),
    [
        ('UPDATE audit_auditentry SET data = \'{"amount": "1.00"}\' WHERE id = %s', 1),
        ("DELETE FROM audit_auditentry WHERE id = %s", 2),
        ("UPDATE audit_auditentry SET actor_label = 'someone else' WHERE id = %s", 1),
    ],
    ids=["edited-data", "deleted-entry", "edited-actor"],
)
def test_verify_detects_a_tampered_chain(sql, broken_index):
    entries = [audit_entry(action=f"step.{i}", data={"amount": "10.00"}) for i in range(4)]
    _tamper(sql, [entries[1].pk])

    ok, checked, broken = audit_verify()

    assert (ok, checked, broken) == (False, 1, entries[broken_index].pk)
    with pytest.raises(CommandError, match=f"broken at entry #{entries[broken_index].pk} after 1 good"):
        call_command("verify_audit_chain")
