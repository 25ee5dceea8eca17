"""Batch job kinds of the payments pipeline (see apps.jobs.registry)."""

from apps.jobs.registry import JobCancelled, JobContext, register


@register(
    "transactions.ingest",
    title="Ingest a card-payment delivery",
    params={"ingest_run_id": int, "paths": list, "source_tz": str},
    queue="ingest",
)
def ingest(ctx: JobContext, *, ingest_run_id: int | None = None, paths: list | None = None, source_tz: str = "UTC"):
    """Executes a queued IngestRun (admin action) or queues and executes one for `paths`.
    Idempotent: a run of files already loaded loads nothing twice."""
    from apps.jobs.models import JobRun
    from apps.transactions.models import IngestRun
    from apps.transactions.services import ingest_run_create, ingest_run_execute

    if ingest_run_id is not None:
        run = IngestRun.objects.get(pk=ingest_run_id)
    else:
        # Started through the jobs API or a schedule: only files under PAYMENTS_INGEST_ROOT.
        run = ingest_run_create(paths=paths or [], source_tz=source_tz, user=ctx.run.started_by, restrict_to_root=True)
    total = sum(int(s.get("bytes", 0)) for s in run.sources) or 1
    ctx.set_total(total, note="bytes to read")
    cancelled = []

    def on_progress(snap: dict) -> None:
        ctx.set_progress(
            min(snap["bytes_read"], total),
            note=f"{snap['phase']}: {snap['rows_read']:,} rows read, {snap['rows_loaded']:,} loaded",
        )

    def should_cancel() -> bool:
        if JobRun.objects.filter(pk=ctx.run.pk, cancel_requested=True).exists():
            cancelled.append(True)
            return True
        return False

    try:
        run = ingest_run_execute(run=run, on_progress=on_progress, should_cancel=should_cancel)
    except Exception:
        if cancelled:
            raise JobCancelled() from None
        raise
    return {
        "ingest_run_id": run.pk,
        "rows_read": run.rows_read,
        "rows_loaded": run.rows_loaded,
        "rows_rejected": run.rows_rejected,
        "rows_duplicate": run.rows_duplicate,
        "seconds": run.timings.get("total"),
    }
