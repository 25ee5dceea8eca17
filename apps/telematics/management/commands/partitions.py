import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from apps.common.exceptions import ApplicationError
from apps.common.partitions import add_months
from apps.telematics import partitions


def year_month(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise CommandError(f"{value!r} is not YYYY-MM") from None


class Command(BaseCommand):
    help = (
        "Month partitions of a range-partitioned table (default: telematics samples). "
        "list | create --months N | detach --before YYYY-MM [--archive DIR] "
        "(detach dumps each partition with pg_dump to DIR, checks the dump, then drops it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "create", "detach"])
        parser.add_argument("--table", default=partitions.SAMPLES_TABLE)
        parser.add_argument("--months", type=int, default=None, help="create: months ahead of the current one")
        parser.add_argument("--from", dest="from_month", type=year_month, default=None, help="create: first month")
        parser.add_argument("--before", type=year_month, default=None, help="detach: months ending by this month")
        parser.add_argument("--archive", default=None, help="detach: directory for the dumps")

    def handle(self, *args, action, table, months, from_month, before, archive, **options):
        try:
            if action == "list":
                rows = partitions.partitions_list(table=table)
                if not rows:
                    self.stdout.write(f"{table}: no partitions")
                for p in rows:
                    self.stdout.write(f"{p.name}  {p.start} .. {p.end}  ~{p.rows_estimate} rows")
            elif action == "create":
                if from_month:
                    last = add_months(from_month, months or 0)
                    created = partitions.partitions_ensure(
                        table=partitions.partitioned_table_check(table), first=from_month, last=last
                    )
                else:
                    created = partitions.partitions_ensure_ahead(table=table, months=months)
                self.stdout.write(f"created {len(created)}: {', '.join(created) or '-'}")
            else:
                if before is None:
                    raise CommandError("detach needs --before YYYY-MM")
                archived = partitions.partitions_detach(table=table, before=before, archive_dir=archive)
                for a in archived:
                    self.stdout.write(f"archived {a.partition}: {a.rows} rows -> {a.path} ({a.bytes} bytes), dropped")
                if not archived:
                    self.stdout.write(f"no partition of {table} ends by {before:%Y-%m}")
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
