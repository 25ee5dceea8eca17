"""manage.py backup / restore: a backup restored into a new database, with its model artifacts on
a fresh artifact root, scores drivers (a database-only restore could not: the artifacts and keys
live outside it)."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from apps.common.backup import database_url
from tests.risk.simulation import AS_OF

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def restored_database():
    name = f"{connection.settings_dict['NAME']}_restored_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_backup_restores_into_a_new_database_that_scores_drivers(active_model, tmp_path, restored_database):
    backup = tmp_path / "backup"
    call_command("backup", str(backup))
    manifest = json.loads((backup / "manifest.json").read_text())
    secrets = {item["name"] for item in manifest["secrets_to_keep"]}
    assert {"DJANGO_SECRET_KEY", "FLEETOPS_CARD_HMAC_KEY", "FLEETOPS_AUDIT_KEY", "FLEETOPS_ENCRYPTION_KEY"} <= secrets
    assert [f["path"] for f in manifest["artifacts"]["files"]] == [active_model.artifact_path]
    assert "test-only" not in (backup / "manifest.json").read_text()  # no secret value in it

    url = database_url(restored_database)
    new_root = tmp_path / "restored-artifacts"
    call_command("restore", str(backup), "--database-url", url, "--artifact-root", str(new_root))
    assert (new_root / active_model.artifact_path).is_file()

    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "fleetops.settings.test",
        "DATABASE_URL": url.replace("postgresql://", "postgres://"),
        "ARTIFACT_ROOT": str(new_root),
    }
    run = subprocess.run(
        [sys.executable, "manage.py", "run_job", "risk.score_drivers", "--sync", "--param", f"as_of={AS_OF}"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    with psycopg.connect(url) as restored:
        scored = restored.execute(
            "SELECT count(*) FROM risk_riskscore WHERE model_id = %s", [active_model.pk]
        ).fetchone()
        triggers = restored.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'audit_%%' AND NOT tgisinternal"
        ).fetchone()
        view = restored.execute(
            "SELECT count(*) FROM pg_views WHERE viewname = 'enriched_transactions'"
        ).fetchone()
    assert scored[0] == 600
    assert triggers[0] >= 4 and view[0] == 1


def test_a_backup_refuses_a_directory_that_is_not_empty(tmp_path):
    (tmp_path / "old").write_text("x")
    with pytest.raises(CommandError, match="not empty"):
        call_command("backup", str(tmp_path))
