import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.demo.payments.generator import payment_files_generate


class Command(BaseCommand):
    help = (
        "Writes a synthetic card-payment delivery in the layout of the public Financial Transactions Dataset: "
        "users_data.csv, cards_data.csv, transactions_data.csv, mcc_codes.json, train_fraud_labels.json."
    )

    def add_arguments(self, parser):
        parser.add_argument("--transactions", type=int, required=True, help="Number of transaction rows.")
        parser.add_argument("--out", required=True, help="Directory to write the files into.")
        parser.add_argument(
            "--dirty-share",
            type=float,
            default=0.001,
            help="Share of rows written wrong for EACH kind of bad row (bad amount, bad date, unknown client, ...).",
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--gzip", action="store_true", help="Write .gz files.")
        parser.add_argument("--users", type=int, default=None, help="Number of clients (default: rows / 2000).")
        parser.add_argument("--years", type=float, default=10.0, help="Period covered, from 2010-01-01.")

    def handle(self, *args, **options):
        started = time.perf_counter()
        try:
            result = payment_files_generate(
                transactions=options["transactions"],
                out=Path(options["out"]),
                dirty_share=options["dirty_share"],
                seed=options["seed"],
                gzip_output=options["gzip"],
                users=options["users"],
                years=options["years"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        seconds = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.transactions:,} transactions, {result.users:,} users, {result.cards:,} cards, "
                f"{result.labels:,} labels ({result.fraud:,} fraud) written to {result.directory} in {seconds:.1f} s."
            )
        )
        for kind, count in result.dirty.items():
            self.stdout.write(f"  dirty {kind}: {count}")
