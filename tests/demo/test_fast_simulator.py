"""The fast features-only simulator against the per-second one: the same drivers (latent traits)
give driver-level features with the same distributions, and claims follow the same process."""

import datetime as dt

import numpy as np
import pytest
from django.conf import settings
from scipy.stats import ks_2samp

from apps.demo.trips import fast
from apps.demo.trips.simulator import draw_traits, simulate_drivers
from apps.telematics.features import compute_features

RATES = {  # driver-level feature: (numerator trip column, denominator, scale)
    "harsh_brake_per_100km": ("harsh_brake_count", "km", 100),
    "harsh_accel_per_100km": ("harsh_accel_count", "km", 100),
    "harsh_corner_per_100km": ("harsh_corner_count", "km", 100),
    "speeding_share": ("speeding_s", "driving", 1),
    "night_share": ("night_s", "driving", 1),
    "rush_hour_share": ("rush_hour_s", "driving", 1),
    "highway_share": ("highway_s", "driving", 1),
    "phone_use_per_hour": ("phone_use_s", "driving", 3600),
    "km": ("distance_km", None, 1),
}


def driver_rates(driver: np.ndarray, trips: dict, n: int) -> dict:
    km = np.bincount(driver, trips["distance_km"], n)
    driving = np.bincount(driver, trips["moving_s"] + trips["idle_s"], n)
    out = {}
    for name, (column, per, scale) in RATES.items():
        total = np.bincount(driver, np.asarray(trips[column], dtype=float), n)
        base = {"km": km, "driving": driving, None: np.ones(n)}[per]
        out[name] = np.divide(total, base, out=np.full(n, np.nan), where=base > 0) * scale
    return out


@pytest.fixture(scope="module")
def both():
    traits = draw_traits(np.random.default_rng(3), 80)
    end = dt.date(2026, 6, 30)
    sim = simulate_drivers(traits=traits, days=3, rng=np.random.default_rng(4), end_day=end)
    physics_trips = compute_features(sim.samples, sim.bounds)
    columns = {c: np.array([t[c] for t in physics_trips], dtype=float) for c in
               ("distance_km", "moving_s", "idle_s", *(v[0] for v in RATES.values()))}  # fmt: skip
    physics = driver_rates(sim.plan.driver, columns, len(traits))
    rng = np.random.default_rng(5)
    plan = fast.plan_trips(rng, traits, first_day=end - dt.timedelta(days=2), days=3, zone="Europe/Berlin")
    emulated = fast.emulate_features(rng, traits, plan, fast.load_coefficients(), settings.TELEMATICS)
    return physics, driver_rates(plan.driver, emulated, len(traits)), sim, plan, emulated


@pytest.mark.parametrize("name", list(RATES))
def test_driver_features_have_the_per_second_simulators_distribution(both, name):
    physics, emulated = both[0][name], both[1][name]
    a, b = physics[np.isfinite(physics)], emulated[np.isfinite(emulated)]
    assert ks_2samp(a, b).statistic < 0.3, name
    spread = max(float(np.std(a)), 1e-9)
    assert abs(float(np.mean(a)) - float(np.mean(b))) < 0.5 * spread, name


def test_trips_are_planned_the_same_way_and_never_overlap(both):
    _, _, sim, plan, emulated = both
    assert len(plan.km) == pytest.approx(len(sim.plan.driver), rel=0.15)
    order = np.lexsort((plan.start_us, plan.driver))
    same = plan.driver[order][1:] == plan.driver[order][:-1]
    ends = plan.start_us[order][:-1] + (emulated["duration_s"][order][:-1] * 1e6).astype(np.int64)
    # a driver's next trip starts after the previous one's planned end (40 km/h plus a stop), as in the physics
    assert (plan.start_us[order][1:][same] > plan.start_us[order][:-1][same]).all()
    assert np.mean(plan.start_us[order][1:][same] >= ends[same]) > 0.95
    assert (emulated["score"] >= 0).all() and (emulated["score"] <= 100).all()
    assert (emulated["speeding_s"] <= emulated["moving_s"]).all()
