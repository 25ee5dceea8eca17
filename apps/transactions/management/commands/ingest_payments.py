import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from apps.common.exceptions import ApplicationError
from apps.transactions.models import IngestRun
from apps.transactions.services import ingest_run_create, ingest_run_execute


class TerminalProgress:
    """One self-rewriting line on stderr: bar, rows, rows/s, ETA and the phase."""

    def __init__(self, stream, *, interactive: bool):
        self.stream = stream
        self.interactive = interactive
        self.last = 0.0

    def __call__(self, snap: dict) -> None:
        now = time.monotonic()
        if not self.interactive and now - self.last < 5 and snap["phase"] != "done":
            return
        self.last = now
        fraction = min(1.0, snap["bytes_read"] / snap["bytes_total"])
        elapsed = snap["elapsed"]
        bar = "#" * int(fraction * 24) + "." * (24 - int(fraction * 24))
        if 0 < fraction < 1 and elapsed > 1:
            remaining = elapsed / fraction - elapsed
            eta = f"ETA {int(remaining // 60)}:{int(remaining % 60):02d}"
        elif fraction >= 1:
            eta = "read"
        else:
            eta = "ETA --:--"
        line = (
            f"[{bar}] {fraction:4.0%} {snap['rows_read']:>12,} rows {snap['rows_per_second']:>10,.0f} rows/s "
            f"{eta}  loaded {snap['rows_loaded']:,} rejected {snap['rows_rejected']:,} "
            f"dup {snap['rows_duplicate']:,}  {snap['phase'][:40]}"
        )
        if self.interactive:
            self.stream.write("\r" + line[:160].ljust(160))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


RESUME = (
    "Run the same command again to resume: files already committed are skipped and the interrupted run "
    "is marked failed."
)


def _failure_line(run: IngestRun, exc: Exception) -> str:
    """One line, never a traceback: the run's recorded error, or what stopped it when the database
    itself went away (a restart), and how to resume."""
    try:
        run.refresh_from_db()
        reason = run.error
    except Exception:
        reason = ""
    if not reason:
        reason = f"{exc.__class__.__name__}: {str(exc).strip()}"
    first_line = reason.strip().splitlines()[0][:300] if reason.strip() else exc.__class__.__name__
    return f"Ingest run {run.pk} failed: {first_line}. {RESUME}"


class Command(BaseCommand):
    help = (
        "Loads a card-payment delivery (users_data.csv, cards_data.csv, transactions_data.csv, mcc_codes.json, "
        "train_fraud_labels.json; gzip allowed): typed and checked in columns and written with binary COPY (or "
        "through SQL staging with PAYMENTS_INGEST_ENGINE=sql), card numbers masked, every bad row kept with its "
        "reason; the ops dashboards are computed again after it. Safe to re-run: nothing is loaded twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="A delivery directory and/or individual files.")
        parser.add_argument("--source-tz", default="UTC", help="Time zone of the times in the files (default UTC).")
        parser.add_argument("--quiet", action="store_true", help="No progress bar.")

    def handle(self, *args, **options):
        try:
            run = ingest_run_create(paths=options["paths"], source_tz=options["source_tz"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        except DatabaseError as exc:
            first_line = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
            raise CommandError(
                f"The database is unreachable ({first_line}); run the command again once it is up."
            ) from None
        self.stdout.write(f"Ingest run {run.pk}: {len(run.sources)} file(s).")
        progress = None
        if not options["quiet"]:
            progress = TerminalProgress(sys.stderr, interactive=sys.stderr.isatty())
        try:
            run = ingest_run_execute(run=run, on_progress=progress)
        except ApplicationError as exc:
            if progress and progress.interactive:
                sys.stderr.write("\n")
            raise CommandError(exc.message) from None
        except Exception as exc:
            if progress and progress.interactive:
                sys.stderr.write("\n")
            raise CommandError(_failure_line(run, exc)) from None
        if progress and progress.interactive:
            sys.stderr.write("\n")
        total = run.timings.get("total", 0) or 1
        self.stdout.write(
            self.style.SUCCESS(
                f"Ingest run {run.pk} {run.status}: read {run.rows_read:,} = loaded {run.rows_loaded:,} "
                f"+ rejected {run.rows_rejected:,} + already loaded {run.rows_duplicate:,} "
                f"in {total:.1f} s ({run.rows_read / total:,.0f} rows/s)."
            )
        )
        if run.status != IngestRun.Status.SUCCEEDED:
            raise CommandError(run.error)
