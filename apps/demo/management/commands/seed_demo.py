"""Builds the demo world once: `manage.py seed_demo --size small|medium [--seed N]`.

The core world (apps.demo.world) is written in one transaction and recorded in the audit
log as `demo.seeded`; each extension listed in apps.demo.extensions.EXTENSIONS then runs in its own
transaction and is recorded as `demo.extension`. A second run finds those entries and does only
what is missing (an extension that failed before), so it is safe to call on every `make run`."""

import contextlib
import random
import time
from importlib import import_module

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.module_loading import import_string

from apps.audit.models import AuditEntry
from apps.audit.services import audit_record
from apps.demo import extensions
from apps.demo.world import SIZES, WorldBuilder
from apps.fleet.models import Vehicle
from apps.transactions.models import Rental

ACTOR = "seed_demo"


class Command(BaseCommand):
    help = "Builds the deterministic demo world (stores, staff, fleet, customers, rentals, logins) once."

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=sorted(SIZES), default="small")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--strict", action="store_true", help="Exit non-zero when a demo extension fails (default: report it)."
        )

    def handle(self, *args, size: str, seed: int, strict: bool = False, **options):
        call_command("load_reference_data", stdout=_Quiet(), stderr=self.stderr)
        seeded = AuditEntry.objects.filter(action="demo.seeded").order_by("id").first()
        if seeded is not None:
            self.stdout.write(
                f"The demo world exists already (size {seeded.data.get('size')}, seed {seeded.data.get('seed')}, "
                f"built {seeded.occurred_at:%Y-%m-%d %H:%M}); not building it again."
            )
            if (seeded.data.get("size"), seeded.data.get("seed")) != (size, seed):
                self.stdout.write(f"(Asked for size {size}, seed {seed}: use an empty database for another world.)")
            size, seed = seeded.data.get("size", size), seeded.data.get("seed", seed)
        elif Vehicle.objects.exists() or Rental.objects.exists():
            self.stdout.write(
                self.style.WARNING(
                    "This database holds vehicles or rentals that seed_demo did not build: refusing to add a demo "
                    "world on top of them. Point DATABASE_URL at an empty database to get one."
                )
            )
            return
        else:
            self.build_core(size=size, seed=seed)
        failed = self.run_extensions(size=size, seed=seed)
        if failed:
            message = (
                f"{len(failed)} demo extension(s) failed and were rolled back: {', '.join(failed)}. "
                "The core world is complete; fix them and run seed_demo again: only those run."
            )
            if strict:
                raise CommandError(message)
            self.stderr.write(self.style.ERROR(message))

    def build_core(self, *, size: str, seed: int) -> None:
        started = time.perf_counter()
        self.stdout.write(f"Building the demo world: size {size}, seed {seed} …")
        with transaction.atomic():
            counts = WorldBuilder(size=size, seed=seed, stdout=self.stdout).build()
            seconds = round(time.perf_counter() - started, 1)
            audit_record(
                action="demo.seeded",
                actor=ACTOR,
                data={"size": size, "seed": seed, "counts": counts, "seconds": seconds},
            )
        summary = ", ".join(f"{value:,} {name.replace('_', ' ')}" for name, value in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Core demo world built in {seconds} s: {summary}."))

    def run_extensions(self, *, size: str, seed: int) -> list[str]:
        done = set(AuditEntry.objects.filter(action="demo.extension").values_list("entity_id", flat=True))
        failed = []
        for path in extensions.EXTENSIONS:
            if path in done or extensions.FORMER_PATHS.get(path) in done:
                continue
            started = time.perf_counter()
            self.stdout.write(f"Demo extension {path} …")
            try:
                seed_extension = import_string(path)
                # An extension whose work runs on connections of its own (the payments ingest, the
                # jobs) says `atomic = False` and is idempotent instead.
                atomic = getattr(import_module(seed_extension.__module__), "atomic", True)
                with transaction.atomic() if atomic else contextlib.nullcontext():
                    # Keyed on the path an extension had when it was written, so a seed builds the
                    # same world as before the extensions moved to apps.demo.
                    rng = random.Random(f"{seed}:{extensions.FORMER_PATHS.get(path, path)}")
                    seed_extension(size=size, rng=rng, stdout=self.stdout)
                    seconds = round(time.perf_counter() - started, 1)
                    audit_record(
                        action="demo.extension",
                        actor=ACTOR,
                        entity_type="demo.extension",
                        entity_id=path,
                        data={"size": size, "seed": seed, "seconds": seconds},
                    )
            except Exception as exc:  # one broken extension must not hide the others' results
                failed.append(path)
                self.stderr.write(self.style.ERROR(f"Demo extension {path} failed: {exc.__class__.__name__}: {exc}"))
                continue
            self.stdout.write(self.style.SUCCESS(f"Demo extension {path} done in {seconds} s."))
        return failed


class _Quiet:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass
