"""Backup and restore of a FleetOps deployment: the database (pg_dump custom format: tables,
partitions, triggers, functions, the materialized view), the model artifacts under ARTIFACT_ROOT,
and a manifest naming the secrets to keep beside it (never their values: without the same
FLEETOPS_CARD_HMAC_KEY stored cards no longer match, without FLEETOPS_AUDIT_KEY the audit
checkpoints no longer verify, without FLEETOPS_ENCRYPTION_KEY no webhook can be signed)."""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

SECRETS_TO_KEEP = {
    "DJANGO_SECRET_KEY": "sessions, password reset links and signed values",
    "FLEETOPS_CARD_HMAC_KEY": "matching stored payment cards (a new key matches none of them)",
    "FLEETOPS_AUDIT_KEY": "verifying the audit chain's signed checkpoints",
    "FLEETOPS_ENCRYPTION_KEY": "decrypting the webhook signing secrets stored encrypted (and any fallback keys"
    " in FLEETOPS_ENCRYPTION_KEY_FALLBACKS not yet re-encrypted away): without it no webhook can be signed",
    "METRICS_TOKEN": "the Prometheus scraper's access to /metrics",
    "DATABASE_URL": "where the application connects (its role, not the owner's)",
    "SENTRY_DSN": "error reports, when used",
}
DUMP = "database.dump"
ARTIFACTS = "artifacts.tar.gz"
MANIFEST = "manifest.json"


class BackupError(Exception):
    pass


def pg_tool(name: str) -> str:
    """The PostgreSQL client program `name`, on PATH or in the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise BackupError(f"{name} not found: install the PostgreSQL client programs")
    return candidates[-1]


def database_url(name: str | None = None) -> str:
    """A libpq URI for Django's database (or another database `name` on the same server)."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name or s['NAME']}"


def _run(args: list[str]) -> str:
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["no output"])[0]
        raise BackupError(f"{Path(args[0]).name} failed: {first}")
    return result.stdout


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup_create(target: Path) -> dict:
    """Writes the dump, the artifacts and the manifest into the empty directory `target`."""
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise BackupError(f"{target} is not empty")
    _run(
        [
            pg_tool("pg_dump"),
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            "--file",
            str(target / DUMP),
            database_url(),
        ]
    )
    root = Path(settings.ARTIFACT_ROOT)
    artifacts = []
    with tarfile.open(target / ARTIFACTS, "w:gz") as tar:
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                tar.add(path, arcname=str(path.relative_to(root)))
                artifacts.append({"path": str(path.relative_to(root)), "sha256": _sha256(path)})
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app")
        migrations = dict(cursor.fetchall())
    manifest = {
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "database": connection.settings_dict["NAME"],
        "dump": {
            "file": DUMP,
            "sha256": _sha256(target / DUMP),
            "tool": _run([pg_tool("pg_dump"), "--version"]).strip(),
        },
        "artifacts": {"file": ARTIFACTS, "files": artifacts},
        "migrations": migrations,
        "secrets_to_keep": [
            {"name": name, "needed_for": why, "set_in_this_environment": bool(os.environ.get(name))}
            for name, why in SECRETS_TO_KEEP.items()
        ],
        "not_included": "secret values (keep them in your secret store), Redis (queue and cache: rebuilt), var/log",
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def backup_restore(source: Path, *, url: str, artifact_root: Path, create: bool = True) -> dict:
    """Restores a backup into the database at `url` (created when `create`; it must be new or
    empty) and its artifacts under `artifact_root`. Then run `migrate` (a no-op when the code
    matches) and `db_app_role` against it."""
    manifest = json.loads((source / MANIFEST).read_text())
    if _sha256(source / DUMP) != manifest["dump"]["sha256"]:
        raise BackupError(f"{source / DUMP} does not match its checksum in the manifest")
    if create:
        parts = urlsplit(url)
        name = parts.path.lstrip("/")
        admin = urlunsplit(parts._replace(path="/postgres"))
        _run([pg_tool("psql"), admin, "-v", "ON_ERROR_STOP=1", "-qAtc", f'CREATE DATABASE "{name}"'])
    _run(
        [pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", url, str(source / DUMP)]
    )
    artifact_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source / ARTIFACTS, "r:gz") as tar:
        tar.extractall(artifact_root, filter="data")
    for item in manifest["artifacts"]["files"]:
        if _sha256(artifact_root / item["path"]) != item["sha256"]:
            raise BackupError(f"artifact {item['path']} does not match its checksum")
    return manifest
