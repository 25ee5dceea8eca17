"""Stores simulated driving (apps.demo.trips.simulator) for real customers.

Two paths, the same simulator and the same feature code:
- full: every trip goes through `trip_ingest` (cleaning, COPY of every sample into the
  partitioned table) and its features are computed from the stored samples, as for an upload;
- features-only (fast, for training data at scale): the features are computed from the
  simulated samples in memory with `compute_features` and only the Trip rows are stored.
Claims are written in both, then the driver features as of the last simulated day."""

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.common.keys import hash_key, new_secret_key
from apps.customers.models import Customer, TelematicsConsent
from apps.demo.trips.simulator import DriverTraits, draw_traits, simulate_claims, simulate_drivers
from apps.telematics import services
from apps.telematics.features import compute_features
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
        if features_only:
            trip_rows = _store_features_only(sim, keep_trips, chunk_customers, devices, seed, start)
        else:
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


@transaction.atomic
def _store_features_only(sim, keep_trips, customers, devices, seed, offset) -> dict[int, Trip]:
    """The trip features from the in-memory samples, with the same feature code; no samples."""
    features = compute_features(sim.samples, sim.bounds)
    now = timezone.now()
    rows = []
    for k in keep_trips.tolist():
        customer = customers[int(sim.plan.driver[k])]
        device = devices[customer.pk]
        a, b = int(sim.bounds[k]), int(sim.bounds[k + 1])
        f = features[k]
        trip = Trip(
            device=device,
            external_id=_external_id(seed, customer.pk, int(sim.plan.start_us[k])),
            driver_id=customer.pk,
            vehicle_id=device.vehicle_id,
            started_at=dt.datetime.fromtimestamp(int(sim.samples.t[a]) / US, tz=dt.UTC),
            ended_at=dt.datetime.fromtimestamp(int(sim.samples.t[b - 1]) / US, tz=dt.UTC),
            samples_received=b - a,
            samples_stored=0,
            samples_dropped={"not_stored_features_only": b - a},
            feature_status=Trip.FeatureStatus.DONE,
            features_computed_at=now,
        )
        for name in services.TRIP_FEATURE_FIELDS:
            setattr(trip, name, f[name])
        rows.append((k, trip))
    created = Trip.objects.bulk_create([t for _, t in rows], batch_size=2_000)
    return {k: t for (k, _), t in zip(rows, created, strict=True)}


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
