"""The payments ELT run: delivery files -> COPY into UNLOGGED all-text staging -> set-based SQL
per file (one transaction per file) -> Payment / Customer / PaymentCard / MerchantCategory and
RejectedRow. (enriched_transactions is a plain view over the payments: nothing to refresh.)

Two copy workers stage files (`staging`) while the main connection transforms the ones already
staged (`transform`), so the COPY of the big transactions file overlaps the transforms of the
small files. A staged transactions file is then typed by two load workers into month tables that
the file's transaction attaches (`partition_load`). Everything a file changes becomes visible in
that one commit, so a killed run leaves nothing half-written, and a new run skips what an earlier
one committed.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from apps.common.exceptions import ApplicationError
from apps.transactions.ingest import columnar_engine, columnar_memory, readers
from apps.transactions.ingest.context import LOCK_NAMESPACE, Checkpoint, IngestContext, connect
from apps.transactions.ingest.layout import COLUMNS, collect_files
from apps.transactions.ingest.masking import mask_text
from apps.transactions.ingest.progress import ProgressCallback, Reporter
from apps.transactions.ingest.staging import Stager, drop_staging, read_mcc
from apps.transactions.ingest.transform import Transforms
from apps.transactions.models import IngestRun


class PaymentsIngest:
    def __init__(
        self,
        run: IngestRun,
        *,
        on_progress: ProgressCallback | None = None,
        should_cancel: Callable[[], bool] | None = None,
        checkpoint: Checkpoint | None = None,
    ):
        files = collect_files([s["path"] if isinstance(s, dict) else s for s in run.sources])
        if not settings.CARD_HMAC_KEY:
            raise ApplicationError("CARD_HMAC_KEY is not set: card numbers cannot be replaced by their HMAC.")
        self.ctx = IngestContext(
            run, files, hmac_key=settings.CARD_HMAC_KEY, checkpoint=checkpoint, engine=columnar_engine.engine()
        )
        self.run = run
        self.files = files
        self.on_progress = on_progress
        self.should_cancel = should_cancel

    def execute(self) -> IngestRun:
        self.preflight()
        if self.ctx.engine == "columnar":
            columnar_memory.bound_process_memory()
        ctx = self.ctx
        run = self.run
        run.status = IngestRun.Status.RUNNING
        run.started_at = timezone.now()
        run.phase = "starting"
        run.sources = [{"path": str(f.path), "name": f.name, "kind": f.kind, "bytes": f.size} for f in self.files]
        run.save(update_fields=["status", "started_at", "phase", "sources"])
        reporter = Reporter(
            run, self.files, ctx.progress, abort=ctx.abort, on_progress=self.on_progress,
            should_cancel=self.should_cancel, on_cancel=self._cancel_main,
        )  # fmt: skip
        stager = Stager(ctx)
        try:
            ctx.main = connect()
            ctx.main.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, run.pk])
            self._recover_interrupted_runs()
            from apps.transactions.services import merchant_categories_load_official

            merchant_categories_load_official()
            reporter.start()
            stager.start()
            transforms = Transforms(ctx)
            labels = next((f for f in self.files if f.kind == "labels"), None)
            for f in sorted(self.files, key=lambda f: f.index):
                stager.wait(f)
                transforms.file(f, labels)
            if labels:
                ctx.reached("before_labels")
                transforms.apply_labels(labels)
            ctx.set_phase("done")
            reporter.finish(status=IngestRun.Status.SUCCEEDED)
        except BaseException as exc:
            ctx.abort.set()
            stager.join()
            reporter.finish(status=IngestRun.Status.FAILED, error=_describe(exc))
            raise
        finally:
            ctx.abort.set()
            stager.join()
            reporter.join()
            if ctx.main is not None:
                drop_staging(ctx.main, run.pk)
                ctx.main.close()
        return run

    def preflight(self) -> None:
        """Every header is checked before anything is loaded: a bad one fails the run at once."""
        for f in self.files:
            if f.kind in COLUMNS:
                readers.check_header(readers.read_header(f.path), COLUMNS[f.kind], f.name)
            elif f.kind == "labels":
                readers.LabelsReader(f.path, marker=self.ctx.marker, on_reject=lambda r: None).check()
            elif f.kind == "mcc":
                read_mcc(f)

    def _cancel_main(self) -> None:
        if self.ctx.main is not None:
            self.ctx.main.cancel_safe()

    def _recover_interrupted_runs(self) -> None:
        ingest_runs_recover(self.ctx.main, exclude=self.run.pk)


INTERRUPTED = (
    "Interrupted: the process running it stopped. Files it had committed stay loaded; "
    "a new run loads the rest exactly once."
)


def ingest_runs_recover(conn, *, exclude: int | None = None) -> list[int]:
    """Runs left 'running' by a process that died hold no advisory lock any more: they are marked
    failed and their staging tables dropped. Called when a run starts and by the jobs' recovery
    sweep (every five minutes), so no run stays 'running' until the next ingest."""
    recovered = []
    for other in IngestRun.objects.filter(status=IngestRun.Status.RUNNING).exclude(pk=exclude):
        got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, other.pk]).fetchone()[0]
        if not got:
            continue  # alive in another process
        try:
            if IngestRun.objects.filter(pk=other.pk, status=IngestRun.Status.RUNNING).update(
                status=IngestRun.Status.FAILED, phase="interrupted", finished_at=timezone.now(), error=INTERRUPTED
            ):
                recovered.append(other.pk)
            drop_staging(conn, other.pk)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, other.pk])
    return recovered


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message
    if isinstance(exc, readers.HeaderError):
        return str(exc)
    return f"{exc.__class__.__name__}: {mask_text(str(exc))}"[:5000]
