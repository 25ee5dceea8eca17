"""Stores simulated driving (apps.demo.trips.simulator) for real customers.

Two paths, the same simulator and the same feature code:
- full: every trip goes through `trip_ingest` (cleaning, COPY of every sample into the
  partitioned table) and its features are computed from the stored samples, as for an upload;
- features-only (fast, for training data at scale): no per-second physics at all; the same
  drivers' trips are planned for every driver-day at once and their features drawn from the
  emulator of the physics (`apps.demo.trips.fast`), and only the Trip rows are stored, by COPY
  (`apps.demo.trips.fast_store`): 5,000 drivers x 180 days in minutes instead of hours.
Claims are written in both (the same Poisson process on the kilometres driven), then the driver
features as of the last simulated day."""

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.utils import timezone

from apps.common.keys import hash_key, new_secret_key
from apps.customers.models import Customer, TelematicsConsent
from apps.demo.trips.simulator import DriverTraits, draw_traits, simulate_claims, simulate_drivers
from apps.telematics import services
from apps.telematics.ingest import US, TripUpload
from apps.telematics.models import Device, Trip

TRIP_CHUNK = 500


@dataclass
class SimulationSummary:
    drivers: int = 0
    skipped: int = 0
    trips: int = 0
    samples: int = 0
    claims: int = 0
    km: float = 0.0
    features_only: bool = False
    traits: dict[int, dict] = field(default_factory=dict)  # customer id -> latent traits


def _drivers_per_chunk(days: int) -> int:
    # About 1,500 samples per driver-day: keep a chunk near 3 million samples (well under 1 GB).
    return max(1, min(200, 3_000_000 // max(days * 1_500, 1)))


def _ensure_consent_and_devices(customers: list[Customer], vehicles: list[int], start: dt.datetime) -> dict:
    """Consent in force (given before the first trip) and one phone device per driver."""
    ids = [c.pk for c in customers]
    consents = {}
    for customer_id, withdrawn_at in TelematicsConsent.objects.filter(customer_id__in=ids).values_list(
        "customer_id", "withdrawn_at"
    ):
        consents[customer_id] = consents.get(customer_id, False) or withdrawn_at is None
    TelematicsConsent.objects.bulk_create(
        [
            TelematicsConsent(customer_id=cid, given_at=start - dt.timedelta(days=1), source="simulator")
            for cid in ids
            if cid not in consents
        ]
    )
    refused = {cid for cid, in_force in consents.items() if not in_force}
    devices = {d.customer_id: d for d in Device.objects.filter(customer_id__in=ids, serial__startswith="SIM-")}
    new = []
    for i, cid in enumerate(ids):
        if cid in devices:
            continue
        raw, prefix = new_secret_key("dev")
        new.append(
            Device(
                serial=f"SIM-{cid}",
                kind=Device.Kind.PHONE,
                customer_id=cid,
                vehicle_id=vehicles[i % len(vehicles)] if vehicles else None,
                token_prefix=prefix,
                token_hash=hash_key(raw),
            )
        )
    for device in Device.objects.bulk_create(new):
        devices[device.customer_id] = device
    return {"devices": devices, "refused": refused}


def simulation_run(
    *,
    customers: list[Customer],
    days: int,
    seed: int,
    end_day: dt.date | None = None,
    features_only: bool = False,
    claim_frequency: float = 0.12,
    vehicles: list[int] | None = None,
    progress=None,
) -> SimulationSummary:
    """Simulates `days` days of driving for these customers and stores it. Deterministic for a
    seed and customer list on a fresh database; drivers that already have simulated trips, or
    whose consent was withdrawn, are skipped, so a second run adds nothing."""
    if days < 1 or not customers:
        return SimulationSummary(features_only=features_only)
    zone = settings.TELEMATICS["LOCAL_TIME_ZONE"]
    end_day = end_day or timezone.localdate() - dt.timedelta(days=1)
    first_day = end_day - dt.timedelta(days=days - 1)
    tz = timezone.get_default_timezone()
    window = (
        int(dt.datetime.combine(first_day, dt.time(), tzinfo=tz).timestamp() * US),
        int(dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time(), tzinfo=tz).timestamp() * US),
    )
    traits = draw_traits(np.random.default_rng(seed), len(customers))
    setup = _ensure_consent_and_devices(customers, vehicles or [], dt.datetime.fromtimestamp(window[0] / US, tz=dt.UTC))
    devices, refused = setup["devices"], setup["refused"]
    already = set(
        Trip.objects.filter(device__in=[d.pk for d in devices.values()]).values_list("device_id", flat=True).distinct()
    )
    summary = SimulationSummary(features_only=features_only)
    if features_only:
        _run_fast(customers=customers, traits=traits, days=days, seed=seed, end_day=end_day, zone=zone,
                  devices=devices, skip_ids=refused, already=already, window=window, summary=summary,
                  claim_frequency=claim_frequency, progress=progress)  # fmt: skip
        services.driver_features_refresh(as_of=end_day)
        return summary
    per_chunk = _drivers_per_chunk(days)
    for chunk_no, start in enumerate(range(0, len(customers), per_chunk)):
        index = np.arange(start, min(start + per_chunk, len(customers)))
        chunk_customers = [customers[i] for i in index]
        chunk_traits = traits.subset(index)
        sim = simulate_drivers(
            traits=chunk_traits, days=days, rng=np.random.default_rng([seed, chunk_no + 1]), end_day=end_day, zone=zone
        )
        skip = np.array([c.pk in refused or devices[c.pk].pk in already for c in chunk_customers], dtype=bool)
        summary.skipped += int(skip.sum())
        keep_trips = np.flatnonzero(~skip[sim.plan.driver])
        trip_rows = _store_through_ingestion(sim, keep_trips, chunk_customers, devices, seed, start)
        claims = _store_claims(
            np.random.default_rng([seed, 10_000 + chunk_no]),
            chunk_traits,
            sim,
            trip_rows,
            skip,
            chunk_customers,
            window,
            claim_frequency,
        )
        summary.drivers += int((~skip).sum())
        summary.trips += len(trip_rows)
        summary.samples += int(sum(sim.bounds[k + 1] - sim.bounds[k] for k in keep_trips))
        summary.claims += claims
        summary.km += float(sum(t.distance_km for t in trip_rows.values()))
        for i, row in enumerate(chunk_traits.as_rows()):
            if not skip[i]:
                summary.traits[chunk_customers[i].pk] = row
        if progress:
            progress(min(start + per_chunk, len(customers)), len(customers), summary)
    services.driver_features_refresh(as_of=end_day)
    return summary


FAST_CHUNK = 1_000  # drivers per emulated chunk: about 100 MB of trip arrays for 180 days


def _run_fast(*, customers, traits, days, seed, end_day, zone, devices, skip_ids, already, window, summary,
              claim_frequency, progress) -> None:  # fmt: skip
    """The features-only path: emulated trips of whole chunks of drivers, stored by COPY."""
    from apps.demo.trips import fast, fast_store

    coefficients = fast.load_coefficients()
    config = settings.TELEMATICS
    first_day = end_day - dt.timedelta(days=days - 1)
    now = timezone.now()
    for chunk_no, start in enumerate(range(0, len(customers), FAST_CHUNK)):
        index = np.arange(start, min(start + FAST_CHUNK, len(customers)))
        chunk = [customers[i] for i in index]
        chunk_traits = traits.subset(index)
        rng = np.random.default_rng([seed, 20_000 + chunk_no])
        plan = fast.plan_trips(rng, chunk_traits, first_day=first_day, days=days, zone=zone)
        features = fast.emulate_features(rng, chunk_traits, plan, coefficients, config)
        skip = np.array([c.pk in skip_ids or devices[c.pk].pk in already for c in chunk], dtype=bool)
        keep = np.flatnonzero(~skip[plan.driver])
        ids = np.array([c.pk for c in chunk], dtype=np.int64)
        device_ids = np.array([devices[c.pk].pk for c in chunk], dtype=np.int64)
        vehicle_ids = np.array([devices[c.pk].vehicle_id or 0 for c in chunk], dtype=np.int64)
        stored = fast_store.store_fast_trips(
            plan=plan, features=features, keep=keep, device_ids=device_ids, driver_ids=ids, vehicle_ids=vehicle_ids,
            seed=seed, config=config,
        )  # fmt: skip
        claims = fast_store.store_fast_claims(
            np.random.default_rng([seed, 30_000 + chunk_no]), chunk_traits, plan=plan, features=features, keep=keep,
            customer_ids=ids, vehicle_ids=vehicle_ids, window=window, frequency=claim_frequency, seed=seed, now=now,
        )  # fmt: skip
        summary.drivers += int((~skip).sum())
        summary.skipped += int(skip.sum())
        summary.trips += stored
        summary.claims += claims
        summary.km += float(features["distance_km"][keep].sum())
        for i, row in enumerate(chunk_traits.as_rows()):
            if not skip[i]:
                summary.traits[chunk[i].pk] = row
        if progress:
            progress(min(start + FAST_CHUNK, len(customers)), len(customers), summary)


def _external_id(seed: int, customer_id: int, trip_start_us: int) -> str:
    return f"sim-{seed}-{customer_id}-{trip_start_us // US}"


def _store_through_ingestion(sim, keep_trips, customers, devices, seed, offset) -> dict[int, Trip]:
    """Every trip through the same service as the API; features from the stored samples."""
    stored: dict[int, int] = {}  # simulated trip index -> stored trip id
    for k in keep_trips.tolist():
        customer = customers[int(sim.plan.driver[k])]
        a, b = int(sim.bounds[k]), int(sim.bounds[k + 1])
        upload = TripUpload(
            external_id=_external_id(seed, customer.pk, int(sim.plan.start_us[k])),
            samples=sim.samples.take(slice(a, b)),
            driver_id=customer.pk,
        )
        result = services.trip_ingest(device=devices[customer.pk], upload=upload, enqueue_features=False)
        stored[k] = result.trip_id
    ids = list(stored.values())
    for start in range(0, len(ids), TRIP_CHUNK):
        services.trip_features_compute_many(trip_ids=ids[start : start + TRIP_CHUNK], notify_risk=False)
    fresh = Trip.objects.in_bulk(ids)
    return {k: fresh[trip_id] for k, trip_id in stored.items()}


def _store_claims(rng, traits: DriverTraits, sim, trip_rows, skip, customers, window, frequency) -> int:
    from apps.risk.models import Claim

    if not trip_rows:
        return 0
    ks = np.array(sorted(trip_rows), dtype=np.int64)
    trip_driver = np.full(len(sim.plan.driver), -1, dtype=np.int64)
    trip_driver[ks] = sim.plan.driver[ks]
    trip_km = np.zeros(len(sim.plan.driver))
    trip_km[ks] = [trip_rows[k].distance_km for k in ks.tolist()]
    starts = sim.samples.t[sim.bounds[:-1]]
    ends = sim.samples.t[np.maximum(sim.bounds[1:] - 1, 0)]
    mask = trip_driver >= 0
    claims = simulate_claims(
        rng,
        traits,
        trip_driver=np.where(mask, trip_driver, 0),
        trip_km=np.where(mask, trip_km, 0.0),
        trip_start_us=starts,
        trip_end_us=ends,
        window=window,
        frequency=frequency,
    )
    now_us = int(timezone.now().timestamp() * US)
    rows = []
    for c in claims:
        if skip[c.driver]:
            continue
        trip = trip_rows.get(c.trip) if c.trip is not None else None
        occurred = dt.datetime.fromtimestamp(c.occurred_us / US, tz=dt.UTC)
        delay_days = float(rng.exponential(3.0))
        reported = min(occurred + dt.timedelta(days=delay_days), dt.datetime.fromtimestamp(now_us / US, tz=dt.UTC))
        reported = max(reported, occurred)
        age_days = (now_us - c.occurred_us) / US / 86400
        status = Claim.Status.SETTLED if age_days > 30 and rng.random() < 0.9 else Claim.Status.OPEN
        rows.append(
            Claim(
                driver_id=customers[c.driver].pk,
                vehicle_id=trip.vehicle_id if trip else None,
                trip=trip,
                occurred_at=occurred,
                reported_at=reported,
                kind=c.kind,
                status=status,
                amount=Decimal(str(round(c.amount, 2))) if math.isfinite(c.amount) else Decimal("0"),
            )
        )
    Claim.objects.bulk_create(rows, batch_size=2_000)
    return len(rows)
