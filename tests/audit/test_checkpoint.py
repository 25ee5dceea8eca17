"""The chain's signed head: deleting the newest entries or emptying the table (possible only to a
database superuser or the table's owner) no longer verifies as intact."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from apps.audit.models import AuditCheckpoint
from apps.audit.services import audit_head_problem, audit_verify
from tests.audit.factories import audit_entry
from tests.db_roles import database_owner

pytestmark = pytest.mark.django_db


def _as_superuser_without_triggers(statement: str, params=None) -> None:
    """What an attacker holding the owner's (here a superuser's) rights could do."""
    with database_owner(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL session_replication_role = replica")  # superuser only: skips triggers
        cursor.execute(statement, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def test_every_append_checkpoints_the_signed_head():
    entries = [audit_entry(action=f"a{i}") for i in range(3)]
    head = AuditCheckpoint.objects.order_by("-id").first()
    assert (head.entries, head.last_entry_id, head.last_hash) == (3, entries[-1].pk, entries[-1].hash)
    assert AuditCheckpoint.objects.count() == 3
    assert audit_head_problem() is None
    call_command("verify_audit_chain")


def test_deleting_the_newest_entries_is_detected():
    entries = [audit_entry(action=f"a{i}") for i in range(4)]
    _as_superuser_without_triggers("DELETE FROM audit_auditentry WHERE id >= %s", [entries[2].pk])
    assert audit_verify() == (True, 2, None)  # what is left still chains
    assert "2 of 4 checkpointed entries are missing" in audit_head_problem()
    with pytest.raises(CommandError, match="incomplete"):
        call_command("verify_audit_chain")


def test_an_emptied_table_is_detected():
    audit_entry(action="a")
    audit_entry(action="b")
    _as_superuser_without_triggers("DELETE FROM audit_auditentry")
    assert audit_verify() == (True, 0, None)
    assert "2 of 2 checkpointed entries are missing" in audit_head_problem()
    with pytest.raises(CommandError, match="incomplete"):
        call_command("verify_audit_chain")


def test_a_forged_checkpoint_is_detected(settings):
    audit_entry(action="a")
    settings.AUDIT_CHECKPOINT_KEY = "another key"
    assert "invalid signature" in audit_head_problem()


def test_the_checkpoint_is_written_to_the_log_too(caplog):
    with caplog.at_level("INFO", logger="fleetops.audit"):
        entry = audit_entry(action="logged")
    record = next(r for r in caplog.records if r.getMessage() == "audit checkpoint")
    assert record.last_entry_id == entry.pk and record.last_hash == entry.hash and len(record.signature) == 64
