"""What the parts of one payments ingest run share: the run, its files, its progress, the abort
flag, the main connection and what the staging found in each file; the names of the run's
staging relations, the run's own connections and the SQL files of the transforms."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg import sql

from apps.common.sql import own_connection, statements
from apps.transactions.ingest.layout import SourceFile
from apps.transactions.ingest.progress import Progress
from apps.transactions.models import IngestRun

SQL_OWNER = "apps.transactions"  # the transforms' statements are in apps/transactions/sql/
STAGING_SCHEMA = "ingest_staging"
LOCK_NAMESPACE = 18245  # pg advisory lock class id: (NS, run id) = "run alive", (NS, 0) = transform mutex
PAYMENT_TABLE = "transactions_payment"

# Called with a point's name where a run can be interrupted between its commits ("before_labels")
# or inside one ("transactions_loaded"): the kill-and-restart tests stall the run there.
Checkpoint = Callable[[str], None]


class IngestAborted(Exception):
    pass


def load_statements(filename: str) -> dict[str, str]:
    """The named statements of one of the transforms' SQL files."""
    return statements(SQL_OWNER, filename)


def staging(name: str) -> sql.Identifier:
    return sql.Identifier(STAGING_SCHEMA, name)


def connect() -> psycopg.Connection:
    """A connection of its own, in autocommit: the pipeline opens its transactions explicitly."""
    return own_connection(application_name="fleetops-ingest")


class IngestContext:
    def __init__(
        self,
        run: IngestRun,
        files: list[SourceFile],
        *,
        hmac_key: str,
        checkpoint: Checkpoint | None,
        engine: str = "sql",
    ):
        self.run = run
        self.engine = engine  # of the transactions files: "sql" (staged as text, typed in SQL) or "columnar"
        self.files = files
        self.progress = Progress(files)
        self.marker = "#rejected-" + secrets.token_hex(8)
        self.abort = threading.Event()
        self.hmac_key = hmac_key
        self.checkpoint = checkpoint
        self.main: psycopg.Connection | None = None
        # per file index, what the staging found: rows, candidates, months, month_lines, id_range
        self.stage_results: dict[int, dict] = {}

    def table(self, f: SourceFile, role: str) -> str:
        """The name of one of this run's staging relations."""
        return f"r{self.run.pk}_f{f.index}_{role}"

    def staged(self, f: SourceFile, role: str) -> sql.Identifier:
        return staging(self.table(f, role))

    def set_phase(self, phase: str) -> None:
        self.progress.set_phase(phase)

    def reached(self, point: str) -> None:
        if self.checkpoint is not None:
            self.checkpoint(point)

    def params(self, f: SourceFile, **extra) -> dict:
        return {"run_id": self.run.pk, "file_name": f.name, "marker": self.marker} | extra

    def run_statement(self, name: str, statements: dict[str, str], key: str, tables: dict, params: dict):
        """One named statement on the main connection, its tables filled in, given the parameters
        it uses, timed under `name:key`."""
        started = time.monotonic()
        query = sql.SQL(statements[key]).format(**tables)
        used = {k: v for k, v in params.items() if f"%({k})s" in statements[key]}
        cur = self.main.execute(query, used or None)
        self.progress.add_timing(f"{name}:{key}", time.monotonic() - started)
        return cur
