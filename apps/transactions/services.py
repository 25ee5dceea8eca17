"""Writes for the transactions app. The payments ELT pipeline itself lives in
`apps.transactions.ingest` (run, staging, transform, partition_load, ...) and `apps/transactions/sql/`."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction

from apps.common.exceptions import ApplicationError
from apps.transactions.hooks import payments_ingested
from apps.transactions.models import IngestRun, MerchantCategory


def _mcc_description(mcc) -> str:
    # The ISO text is empty for the reserved ranges (airlines, hotels, car rental chains);
    # the card schemes' own names are the next best official wording.
    for text in (
        mcc.iso_description,
        mcc.visa_description,
        mcc.mastercard_description,
        mcc.usda_description,
        mcc.amex_description,
        mcc.alipay_description,
        mcc.stripe_description,
        mcc.range.description,
    ):
        if text and text.strip():
            return text.strip()[:255]
    return f"MCC {mcc.mcc}"


@transaction.atomic
def merchant_categories_load_official() -> int:
    """Upserts the `iso18245` official list into MerchantCategory in one statement; idempotent.
    Returns how many codes the list holds."""
    import iso18245

    rows = [
        MerchantCategory(code=mcc.mcc, description=_mcc_description(mcc), source="iso18245")
        for mcc in iso18245.get_all_mccs()
    ]
    MerchantCategory.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["code"], update_fields=["description", "source"]
    )
    return len(rows)


def _check_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ApplicationError(
            f"Unknown time zone {name!r} (use an IANA name such as UTC or America/Chicago)."
        ) from None
    return name


@transaction.atomic
def ingest_run_create(
    *, paths: list[str], source_tz: str = "UTC", user=None, restrict_to_root: bool = False
) -> IngestRun:
    """Queues an ingest run of the named files or delivery directories. The files are found and
    their headers checked now, so a wrong delivery is refused before any job starts.
    `restrict_to_root` (admin and API) only accepts paths under settings.PAYMENTS_INGEST_ROOT."""
    from apps.transactions.ingest import readers
    from apps.transactions.ingest.layout import COLUMNS, collect_files

    if restrict_to_root:
        root = Path(settings.PAYMENTS_INGEST_ROOT).resolve()
        for raw in paths:
            resolved = Path(raw).expanduser().resolve()
            if resolved != root and root not in resolved.parents:
                raise ApplicationError(f"{raw}: ingest paths must lie under {root}.", code="path_not_allowed")
    files = collect_files(paths)
    for f in files:
        if f.kind in COLUMNS:
            try:
                readers.check_header(readers.read_header(f.path), COLUMNS[f.kind], f.name)
            except readers.HeaderError as exc:
                raise ApplicationError(str(exc), code="bad_header") from None
    return IngestRun.objects.create(
        sources=[{"path": str(f.path), "name": f.name, "kind": f.kind, "bytes": f.size} for f in files],
        source_tz=_check_zone(source_tz),
        started_by=user,
    )


def ingest_run_execute(
    *,
    run: IngestRun,
    on_progress: Callable[[dict], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    checkpoint: Callable[[str], None] | None = None,
) -> IngestRun:
    """Runs a queued ingest run in this process. Not one transaction: the pipeline commits each
    file on its own (see apps.transactions.ingest.run); a header problem fails the run before
    anything is loaded. Raises ApplicationError for bad input, after recording it. `checkpoint`
    is called with the name of each point where the kill-and-restart tests interrupt a run."""
    from apps.transactions.ingest import readers
    from apps.transactions.ingest.run import PaymentsIngest

    if run.status != IngestRun.Status.QUEUED:
        raise ApplicationError(f"Ingest run {run.pk} is {run.status}, not queued.", code="not_queued")
    try:
        pipeline = PaymentsIngest(run, on_progress=on_progress, should_cancel=should_cancel, checkpoint=checkpoint)
        pipeline.execute()
    except readers.HeaderError as exc:
        IngestRun.objects.filter(pk=run.pk).update(status=IngestRun.Status.FAILED, phase="failed", error=str(exc))
        raise ApplicationError(str(exc), code="bad_header") from None
    except ApplicationError as exc:
        IngestRun.objects.filter(pk=run.pk, status=IngestRun.Status.QUEUED).update(
            status=IngestRun.Status.FAILED, phase="failed", error=exc.message
        )
        raise
    run.refresh_from_db()
    if run.status == IngestRun.Status.SUCCEEDED and run.rows_loaded:
        # The follow-up is explicit: the intelligence app connects to score the new payments.
        payments_ingested.send(ingest_run=run)
    return run


def ingest_runs_recover_interrupted() -> dict:
    """Fails the ingest runs whose process died (receiver of the jobs' recovery sweep)."""
    from apps.transactions.ingest.context import connect
    from apps.transactions.ingest.run import ingest_runs_recover

    with connect() as conn:
        return {"ingest_runs_interrupted": ingest_runs_recover(conn)}


def ingest_run_start(*, paths: list[str], source_tz: str = "UTC", user=None, restrict_to_root: bool = True):
    """Queues a run and the `transactions.ingest` job that executes it (admin action, ops)."""
    from apps.jobs.services import job_start

    with transaction.atomic():
        run = ingest_run_create(paths=paths, source_tz=source_tz, user=user, restrict_to_root=restrict_to_root)
        job = job_start(kind="transactions.ingest", parameters={"ingest_run_id": run.pk}, user=user)
    return run, job
