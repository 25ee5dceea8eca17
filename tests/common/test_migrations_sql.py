"""SQL that a migration runs is frozen into the migration: editing an app's `.sql` file must never
change what an old migration does to a new database."""

import hashlib
import importlib
import re
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parents[2] / "apps"

# The sha256 of the SQL files transactions 0003 and 0004 read when they were written (commits
# 20bd80d and ef90012): what they ran is what they hold now.
FROZEN = [
    (
        "apps.transactions.migrations.0003_enriched_transactions",
        "MASK_FUNCTION_SQL",
        "4d5c050694ca2800dd3a5a84eedb11ca8f28f869bf9fffceeccd5a59a3e1bc8f",
    ),
    (
        "apps.transactions.migrations.0003_enriched_transactions",
        "ENRICHED_TRANSACTIONS_SQL",
        "62fd4704cdfcf5633a7f2454245add1927a4b5fb11b5b70f6c1b6b5d30bf6092",
    ),
    (
        "apps.transactions.migrations.0004_enriched_transactions_date_part",
        "ENRICHED_TRANSACTIONS_SQL",
        "a8a5c20e2db2df4cb865ea72b9da8e298a6856a41fa40b0369d4e3315566de8f",
    ),
]


@pytest.mark.parametrize(("module", "name", "sha256"), FROZEN)
def test_a_migration_runs_the_sql_it_ran_when_it_was_written(module, name, sha256):
    migration = importlib.import_module(module)
    frozen = getattr(migration, name)

    assert hashlib.sha256(frozen.encode()).hexdigest() == sha256
    assert any(frozen in str(getattr(op, "sql", "")) for op in migration.Migration.operations)


def test_no_migration_reads_a_file():
    reads = re.compile(r"read_text|read_bytes|\bopen\(|SQL_DIR|apps\.common\.sql|from apps\.common import sql")
    migrations = sorted(APPS.glob("*/migrations/*.py"))

    assert len(migrations) > 20
    assert [str(p.relative_to(APPS)) for p in migrations if reads.search(p.read_text())] == []
