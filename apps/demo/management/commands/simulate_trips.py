import csv
import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from apps.customers.models import Customer
from apps.demo.trips.simulation import simulation_run
from apps.fleet.models import Vehicle


class Command(BaseCommand):
    help = (
        "Simulates N drivers (latent traits, physics-based 1 Hz trips, claims) over D days. By default "
        "every trip goes through the ingestion service and every sample is stored; --features-only "
        "stores the trips' features (same code, computed in memory) without the raw samples, for "
        "training data at scale."
    )

    def add_arguments(self, parser):
        parser.add_argument("--drivers", type=int, required=True)
        parser.add_argument("--days", type=int, required=True)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--features-only", action="store_true")
        parser.add_argument("--end-day", type=dt.date.fromisoformat, default=None, help="Last simulated day")
        parser.add_argument(
            "--claim-frequency",
            type=float,
            default=0.12,
            help="Claims per driver-year at 12,000 km and average latent risk (default 0.12)",
        )
        parser.add_argument("--traits-out", default="", help="Write each driver's latent traits to this CSV")

    def handle(self, *args, drivers, days, seed, features_only, end_day, claim_frequency, traits_out, **options):
        if drivers < 1 or days < 1:
            raise CommandError("--drivers and --days must be at least 1")
        customers = self._sim_customers(drivers, seed)
        vehicles = list(Vehicle.objects.order_by("pk").values_list("pk", flat=True)[:drivers])
        started = time.perf_counter()

        def progress(done, total, summary):
            self.stdout.write(
                f"  {done}/{total} drivers: {summary.trips} trips, {summary.samples} samples, "
                f"{summary.claims} claims ({time.perf_counter() - started:.0f} s)"
            )

        summary = simulation_run(
            customers=customers,
            days=days,
            seed=seed,
            end_day=end_day,
            features_only=features_only,
            claim_frequency=claim_frequency,
            vehicles=vehicles,
            progress=progress,
        )
        if traits_out:
            with open(traits_out, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(
                    ["customer_id", "aggressiveness", "speeding", "night", "phone", "annual_km", "relative_risk"]
                )
                for cid, t in sorted(summary.traits.items()):
                    writer.writerow([cid, *(round(t[k], 5) for k in list(t))])
        self.stdout.write(
            self.style.SUCCESS(
                f"{summary.drivers} drivers ({summary.skipped} skipped: already simulated or consent withdrawn), "
                f"{summary.trips} trips, {summary.km:.0f} km, {summary.samples} samples "
                f"{'simulated (features only, not stored)' if features_only else 'stored'}, "
                f"{summary.claims} claims in {time.perf_counter() - started:.1f} s"
            )
        )

    def _sim_customers(self, n: int, seed: int) -> list[Customer]:
        """The simulated drivers of this seed: created once, found again on a re-run."""
        emails = [f"sim{seed}.{i}@drivers.fleetops.test" for i in range(n)]
        existing = {c.email: c for c in Customer.objects.filter(email__in=emails)}
        missing = [
            Customer(first_name="Sim", last_name=f"Driver {seed}-{i}", email=email, city="Berlin")
            for i, email in enumerate(emails)
            if email not in existing
        ]
        for customer in Customer.objects.bulk_create(missing, batch_size=2_000):
            existing[customer.email] = customer
        return [existing[email] for email in emails]
