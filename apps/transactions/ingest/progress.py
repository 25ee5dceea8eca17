"""A run's progress: shared counters per file, the reporter thread that publishes them to the
caller (terminal) and to the IngestRun row every second, and the run's final record."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import close_old_connections
from django.db import connection as django_connection
from django.utils import timezone

from apps.transactions.ingest.layout import SourceFile
from apps.transactions.models import IngestRun


@dataclass
class FileProgress:
    name: str
    kind: str
    size: int
    bytes_read: int = 0
    rows_read: int = 0
    loaded: int = 0
    rejected: int = 0
    duplicate: int = 0
    status: str = "waiting"
    sha256: str = ""
    seconds: dict = field(default_factory=dict)


class Progress:
    """Shared counters of a run, read by the reporter thread (terminal + IngestRun row)."""

    def __init__(self, files: list[SourceFile]):
        self.lock = threading.Lock()
        self.files = {f.index: FileProgress(name=f.name, kind=f.kind, size=f.size) for f in files}
        self.phase = "starting"
        self.timings: dict[str, float] = {}
        self.started = time.monotonic()
        self.copy_rows_per_second = 0.0

    def file(self, index: int) -> FileProgress:
        return self.files[index]

    def add_timing(self, key: str, seconds: float) -> None:
        with self.lock:
            self.timings[key] = round(self.timings.get(key, 0.0) + seconds, 3)

    def set_phase(self, phase: str) -> None:
        with self.lock:
            self.phase = phase

    def snapshot(self) -> dict:
        with self.lock:
            files = list(self.files.values())
            total_bytes = sum(f.size for f in files) or 1
            read_bytes = sum(min(f.bytes_read, f.size) for f in files)
            elapsed = time.monotonic() - self.started
            rows = sum(f.rows_read for f in files)
            return {
                "phase": self.phase,
                "elapsed": elapsed,
                "bytes_total": total_bytes,
                "bytes_read": read_bytes,
                "rows_read": rows,
                "rows_loaded": sum(f.loaded for f in files),
                "rows_rejected": sum(f.rejected for f in files),
                "rows_duplicate": sum(f.duplicate for f in files),
                "rows_per_second": rows / elapsed if elapsed > 0 else 0.0,
                "timings": dict(self.timings),
                "files": [dict(f.__dict__) for f in files],
            }


ProgressCallback = Callable[[dict], None]


class Reporter:
    """Publishes the progress four times a second to `on_progress` and once a second to the
    IngestRun row, where it also asks `should_cancel`; a cancel sets `abort` and calls `on_cancel`
    (which interrupts the statement running on the main connection)."""

    def __init__(
        self,
        run: IngestRun,
        files: list[SourceFile],
        progress: Progress,
        *,
        abort: threading.Event,
        on_progress: ProgressCallback | None,
        should_cancel: Callable[[], bool] | None,
        on_cancel: Callable[[], None],
    ):
        self.run = run
        self.files = files
        self.progress = progress
        self.abort = abort
        self.on_progress = on_progress
        self.should_cancel = should_cancel
        self.on_cancel = on_cancel
        self.thread = threading.Thread(target=self._loop, name="ingest-progress", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def join(self) -> None:
        if self.thread.is_alive():
            self.thread.join()

    def _loop(self) -> None:
        last_db = 0.0
        try:
            while not self.abort.is_set():
                self.report(db=time.monotonic() - last_db >= 1.0)
                if time.monotonic() - last_db >= 1.0:
                    last_db = time.monotonic()
                    if self.should_cancel and self.should_cancel():
                        self.abort.set()
                        self.on_cancel()
                        break
                self.abort.wait(0.25)
        finally:
            close_old_connections()
            django_connection.close()

    def report(self, *, db: bool) -> None:
        snap = self.progress.snapshot()
        if self.on_progress:
            self.on_progress(snap)
        if db:
            IngestRun.objects.filter(pk=self.run.pk, status=IngestRun.Status.RUNNING).update(
                phase=snap["phase"][:40],
                rows_read=snap["rows_read"],
                rows_loaded=snap["rows_loaded"],
                rows_rejected=snap["rows_rejected"],
                rows_duplicate=snap["rows_duplicate"],
                bytes_read=snap["bytes_read"],
                timings=snap["timings"],
            )

    def finish(self, *, status: str, error: str = "") -> None:
        """The run's final record: its status, counts and timings, and per file what it read and
        did."""
        snap = self.progress.snapshot()
        if self.on_progress:
            self.on_progress(snap)
        run = self.run
        run.status = status
        run.phase = snap["phase"][:40] if status == IngestRun.Status.SUCCEEDED else "failed"
        run.finished_at = timezone.now()
        run.rows_read = snap["rows_read"]
        run.rows_loaded = snap["rows_loaded"]
        run.rows_rejected = snap["rows_rejected"]
        run.rows_duplicate = snap["rows_duplicate"]
        run.bytes_read = snap["bytes_read"]
        run.timings = snap["timings"] | {"total": round(snap["elapsed"], 3)}
        run.sources = [
            {"path": str(f.path), "name": f.name, "kind": f.kind, "bytes": f.size}
            | {
                k: p[k]
                for k in ("rows_read", "loaded", "rejected", "duplicate", "sha256", "status", "seconds")
                if k in (p := snap["files"][i])
            }
            for i, f in enumerate(self.files)
        ]
        run.error = error
        run.save()
