"""Demo world extension: the first night. Without it every page of a fresh `make run` is empty
(no KPIs, alerts, forecasts or payments) until the nightly jobs have run.

1. A year of card payments of the demo's own customers (small 200,000, medium 2,000,000) goes
   through the real payments pipeline: the generator writes a delivery whose clients are the
   demo customers (their `external_id`), with fraud labels and a few bad rows; the users file is
   left out so the customers keep their names and addresses.
2. Every nightly job then runs once, in dependency order, as a JobRun (so the jobs page shows
   them): KPIs over the whole year, rental and payment fraud, revenue, maintenance, the demand
   forecast, driver features, scoring and requotes.

Not one transaction (seed_demo runs it with `atomic = False`): the ingest's workers and the
jobs use connections of their own, which must see the customers' external ids committed. Every
step is idempotent, so a failed run is simply run again by the next seed_demo."""

import datetime as dt
import random
import tempfile
from decimal import Decimal
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.customers.models import Customer
from apps.demo.payments.generator import PaymentFileGenerator
from apps.fleet.models import MaintenanceForecast, MaintenanceRecord, Vehicle
from apps.jobs import registry
from apps.jobs.models import JobRun
from apps.jobs.services import job_execute, job_start
from apps.transactions.services import ingest_run_create

atomic = False

PAYMENTS = {"small": 200_000, "medium": 2_000_000}
# (kind, parameters): the order of the nightly schedule, each reading what the one before wrote.
NIGHTLY = [
    ("intelligence.kpis", {"days": 366}),
    ("intelligence.customer_segments", {}),
    ("intelligence.rental_fraud", {}),
    ("intelligence.revenue", {}),
    ("intelligence.maintenance", {}),  # after _service_catch_up
    ("intelligence.demand_forecast", {}),
    ("telematics.driver_features", {}),
    ("risk.score_drivers", {}),  # these two only with an active model (the gate may leave none)
    ("risk.drift", {}),
    ("pricing.requote", {}),
]


def _run(kind: str, parameters: dict, stdout) -> JobRun:
    run = job_start(kind=kind, parameters=parameters, trigger="cli", enqueue=False)
    return _execute(run, stdout)


def _execute(run: JobRun, stdout) -> JobRun:
    run = job_execute(run_id=run.pk) or JobRun.objects.get(pk=run.pk)
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else 0
    outcome = run.status if run.status == "succeeded" else f"{run.status}: {run.error.splitlines()[0][:200]}"
    stdout.write(f"  first night: {run.kind} #{run.pk} {outcome} ({seconds:.1f} s)")
    if run.status != JobRun.Status.SUCCEEDED:
        raise RuntimeError(f"{run.kind} #{run.pk} {outcome}")
    return run


def _payments(*, size: str, rng: random.Random, stdout) -> None:
    from apps.transactions.models import Payment

    if Payment.objects.exists():
        stdout.write("  first night: payments already loaded")
        return
    customers = list(Customer.objects.order_by("pk"))
    today = timezone.localdate()
    out = Path(tempfile.mkdtemp(prefix="fleetops-demo-payments-"))
    generator = PaymentFileGenerator(
        transactions=PAYMENTS[size],
        out=out,
        dirty_share=0.0002,
        seed=rng.randrange(1_000_000),
        start=today - dt.timedelta(days=365),
        years=365 / 365.25,
        users=len(customers),
    )
    files = generator.generate()
    # The generated clients become the demo customers: client i is the i-th customer.
    for customer, external_id in zip(customers, np.asarray(generator.user_ids).tolist(), strict=True):
        customer.external_id = int(external_id)
    Customer.objects.bulk_update(customers, ["external_id"], batch_size=2_000)
    files.paths["users"].unlink()
    paths = [str(p) for kind, p in files.paths.items() if kind != "users"]
    ingest = ingest_run_create(paths=paths, source_tz=settings.TIME_ZONE)
    run = job_start(kind="transactions.ingest", parameters={"ingest_run_id": ingest.pk}, trigger="cli", enqueue=False)
    _execute(run, stdout)
    ingest.refresh_from_db()
    stdout.write(
        f"  first night: {Payment.objects.count():,} payments loaded ({files.fraud:,} of them fraud); of all "
        f"{ingest.rows_read:,} lines of the delivery {ingest.rows_rejected:,} rejected, "
        f"{ingest.rows_duplicate:,} duplicates"
    )
    for path in out.iterdir():
        path.unlink()
    out.rmdir()


class _Preview(Exception):
    pass


class _NoProgress:
    def set_total(self, *args, **kwargs) -> None:
        pass

    advance = set_progress = check_cancelled = set_total


# A real rental company's workshop keeps up with the service plan; the core world only records a
# service when a rental comes back past its interval, so a car whose interval ran out between
# rentals (or whose harsh driving shortens it) looks unserviced for months. Of the cars the
# maintenance forecast finds overdue, the workshop serviced all but this share on the due day.
BACKLOG_SHARE = 0.1


def _service_catch_up(*, rng: random.Random, stdout) -> None:
    """Records the services a workshop would have done, so that the first maintenance run opens a
    handful of alerts instead of dozens of critical ones."""
    if MaintenanceForecast.objects.exists():
        return  # the maintenance job ran already: the service book is what it is
    today = timezone.localdate()
    try:
        with transaction.atomic():  # the forecast as the job would make it, then rolled back
            registry.get("intelligence.maintenance").func(_NoProgress(), as_of=today.isoformat())
            overdue = list(
                MaintenanceForecast.objects.filter(as_of=today, urgency="overdue").values_list(
                    "vehicle_id", "predicted_service_on"
                )
            )
            raise _Preview
    except _Preview:
        pass
    vehicles = Vehicle.objects.in_bulk([vehicle_id for vehicle_id, _ in overdue])
    last_km = {}
    for vehicle_id, km in MaintenanceRecord.objects.filter(vehicle_id__in=vehicles).values_list(
        "vehicle_id", "odometer_km"
    ):
        last_km[vehicle_id] = max(km, last_km.get(vehicle_id, 0))
    records = []
    for vehicle_id, due in overdue:
        if rng.random() < BACKLOG_SHARE:
            continue
        vehicle = vehicles[vehicle_id]
        day = min(max(due, today - dt.timedelta(days=300)), today - dt.timedelta(days=1))
        # the odometer that day: today's less ~50 km for every day since, not below the last service
        odometer = max(last_km.get(vehicle_id, 0), vehicle.odometer_km - 50 * (today - day).days)
        records.append(
            MaintenanceRecord(
                vehicle=vehicle,
                store_id=vehicle.home_store_id,
                kind=MaintenanceRecord.Kind.SERVICE,
                performed_on=day,
                odometer_km=odometer,
                cost=Decimal(rng.randrange(180, 450)),
                description="Scheduled service: oil, filters, fluids, checks.",
                next_due_on=day + dt.timedelta(days=365),
                next_due_km=odometer + 20_000,
            )
        )
    MaintenanceRecord.objects.bulk_create(records)
    stdout.write(f"  first night: {len(records)} of {len(overdue)} overdue services recorded as done by the workshop")


def seed(*, size: str, rng: random.Random, stdout) -> None:
    _payments(size=size, rng=rng, stdout=stdout)
    # The ingest queued a payment-fraud run for its new payments: run that one here (its Celery
    # message then finds it done); otherwise start one.
    queued = JobRun.objects.filter(kind="intelligence.payment_fraud", status=JobRun.Status.QUEUED).first()
    _execute(queued, stdout) if queued else _run("intelligence.payment_fraud", {}, stdout)
    _service_catch_up(rng=rng, stdout=stdout)
    from apps.risk.models import RiskModel

    has_model = RiskModel.objects.filter(is_active=True).exists()
    for kind, parameters in NIGHTLY:
        if kind.startswith("risk.") and not has_model:
            stdout.write(f"  first night: {kind} skipped: no active risk model")
            continue
        _run(kind, parameters, stdout)
