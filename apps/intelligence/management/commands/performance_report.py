"""Export the vehicle or driver performance report, graded best to worst, as CSV.

manage.py performance_report vehicles --days 90 --output var/vehicles.csv
manage.py performance_report drivers            # to stdout
"""

from django.core.management.base import BaseCommand, CommandError

from apps.intelligence.reports import driver_performance_report, rows_to_csv, vehicle_performance_report


class Command(BaseCommand):
    help = "Export the per-vehicle or per-driver performance report as CSV."

    def add_arguments(self, parser):
        parser.add_argument("report", choices=["vehicles", "drivers"])
        parser.add_argument("--days", type=int, default=90, help="window ending now (default 90)")
        parser.add_argument("--output", default="-", help="file path, or - for stdout")

    def handle(self, *args, report, days, output, **options):
        if days < 1:
            raise CommandError("--days must be at least 1")
        rows = vehicle_performance_report(days=days) if report == "vehicles" else driver_performance_report(days=days)
        if output == "-":
            rows_to_csv(rows, self.stdout)
        else:
            with open(output, "w", newline="") as stream:
                count = rows_to_csv(rows, stream)
            self.stderr.write(f"wrote {count} {report} to {output}")
