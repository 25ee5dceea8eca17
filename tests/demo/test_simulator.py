import datetime as dt

import numpy as np
import pytest
from django.core.management import call_command

from apps.demo.trips.simulator import DriverTraits, simulate, simulate_claims
from apps.risk.models import Claim
from apps.telematics.models import DriverFeatures, TelematicsSample, Trip

END = dt.date.today() - dt.timedelta(days=1)


def test_simulation_is_deterministic_for_a_seed():
    a = simulate(drivers=4, days=2, seed=7, end_day=END)
    b = simulate(drivers=4, days=2, seed=7, end_day=END)
    c = simulate(drivers=4, days=2, seed=8, end_day=END)
    assert np.array_equal(a.bounds, b.bounds)
    assert np.array_equal(a.samples.lat, b.samples.lat) and np.array_equal(a.samples.acc_lon, b.samples.acc_lon)
    assert not (len(a.samples) == len(c.samples) and np.array_equal(a.samples.lat, c.samples.lat))


def test_samples_are_physical_1hz_and_within_limits():
    sim = simulate(drivers=3, days=2, seed=3, end_day=END)
    s = sim.samples
    for k in range(len(sim.bounds) - 1):
        seg = slice(sim.bounds[k], sim.bounds[k + 1])
        assert np.all(np.diff(s.t[seg]) == 1_000_000)
        assert s.speed[seg][0] < 5.0  # trips start from standstill (first fix after 1 s)
    assert s.speed.min() >= 0 and s.speed.max() < 70
    assert np.abs(s.acc_lon).max() < 15
    assert set(np.unique(s.phone)) <= {0, 1}


def test_claims_rise_with_latent_risk_and_exposure():
    rng = np.random.default_rng(0)
    n = 4000
    traits = DriverTraits(
        aggressiveness=np.r_[np.full(n // 2, 0.1), np.full(n // 2, 0.7)],
        speeding=np.full(n, 0.2),
        night=np.full(n, 0.1),
        phone=np.full(n, 0.1),
        annual_km=np.full(n, 12_000.0),
        frailty=np.zeros(n),
    )
    claims = simulate_claims(
        rng,
        traits,
        trip_driver=np.arange(n),
        trip_km=np.full(n, 12_000.0),
        trip_start_us=np.zeros(n, dtype=np.int64),
        trip_end_us=np.full(n, 3600 * 10**6),
        window=(0, 10**12),
        frequency=0.5,
    )
    drivers = np.array([c.driver for c in claims])
    calm, risky = (drivers < n // 2).sum(), (drivers >= n // 2).sum()
    assert risky > 1.5 * calm
    amounts = np.array([c.amount for c in claims])
    assert amounts.max() > 10 * np.median(amounts)  # heavy tail


@pytest.mark.django_db
def test_simulate_trips_command_full_path_stores_samples_features_and_claims():
    call_command("simulate_trips", drivers=2, days=2, seed=5, claim_frequency=3000.0)
    trips = Trip.objects.all()
    assert trips.count() > 0
    assert not trips.exclude(feature_status=Trip.FeatureStatus.DONE).exists()
    assert TelematicsSample.objects.count() == sum(t.samples_stored for t in trips)
    assert Claim.objects.filter(driver__email__startswith="sim5.").exists()
    assert DriverFeatures.objects.filter(as_of=END).count() == 2
    # A second run adds nothing.
    before = (Trip.objects.count(), Claim.objects.count())
    call_command("simulate_trips", drivers=2, days=2, seed=5, claim_frequency=3000.0)
    assert (Trip.objects.count(), Claim.objects.count()) == before


@pytest.mark.django_db
def test_features_only_path_stores_emulated_trips_claims_and_driver_features():
    call_command("simulate_trips", drivers=30, days=20, seed=11, features_only=True, claim_frequency=30.0)
    trips = Trip.objects.filter(driver__email__startswith="sim11.")
    assert trips.count() > 300
    assert not trips.exclude(feature_status=Trip.FeatureStatus.DONE).exists()
    assert TelematicsSample.objects.count() == 0
    assert all(t.samples_dropped == {"emulated_features_only": True} for t in trips[:50])
    trip = trips.filter(harsh_brake_count__gt=0).first()
    assert {"reason": "harsh_brake", "amount": float(trip.harsh_brake_count)}.items() <= trip.score_deductions[
        0
    ].items()
    assert 0 <= trip.score <= 100 and trip.ended_at > trip.started_at
    claims = Claim.objects.filter(driver__email__startswith="sim11.")
    assert claims.exists() and claims.filter(trip__isnull=False).exists()
    assert DriverFeatures.objects.filter(as_of=END, driver__email__startswith="sim11.").count() == 30
    # A second run adds nothing.
    before = (trips.count(), claims.count())
    call_command("simulate_trips", drivers=30, days=20, seed=11, features_only=True, claim_frequency=30.0)
    assert (trips.count(), claims.count()) == before


@pytest.mark.django_db
def test_features_only_path_writes_several_chunks_in_one_transaction(monkeypatch):
    """The medium demo world writes its 5,000 drivers in chunks inside the seed's one transaction:
    each chunk's temporary table must not collide with the one before (it failed the medium seed)."""
    from django.db import transaction

    from apps.demo.trips import simulation

    monkeypatch.setattr(simulation, "FAST_CHUNK", 10)
    with transaction.atomic():
        call_command("simulate_trips", drivers=30, days=5, seed=12, features_only=True, claim_frequency=30.0)
    drivers = Trip.objects.filter(driver__email__startswith="sim12.").values("driver").distinct().count()
    assert drivers == 30
