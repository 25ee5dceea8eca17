"""Driver-level data with a known latent effect, for the trainer tests (the telematics simulator
is not needed for them): each driver has a latent aggressiveness `a ~ N(0, 1)` that raises their
harsh-event rates, speeding and phone use, and their claim frequency is exp(log(base) + effect*a)."""

import datetime as dt

import numpy as np
from django.utils import timezone

from apps.customers.models import Customer
from apps.risk.models import Claim
from apps.telematics.models import DriverFeatures

AS_OF = dt.date(2025, 1, 31)
TODAY = dt.date(2026, 2, 1)  # 365 following days are known


def driver_frame(n: int, *, seed: int = 0, effect: float = 0.6, base_frequency: float = 0.25, interaction: float = 0.0):
    """With `interaction`, the drivers in the top 30% of both night driving and speeding have their
    frequency multiplied by exp(interaction): a risk no additive GLM can express, trees can."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    features = {
        "km": rng.lognormal(np.log(2500), 0.4, n),
        "harsh_brake_per_100km": rng.lognormal(np.log(1.5) + 0.5 * a, 0.3),
        "harsh_accel_per_100km": rng.lognormal(np.log(1.0) + 0.4 * a, 0.3),
        "harsh_corner_per_100km": rng.lognormal(np.log(0.8) + 0.3 * a, 0.3),
        "speeding_share": 1 / (1 + np.exp(-(-3.0 + 0.8 * a + rng.normal(0, 0.3, n)))),
        "night_share": rng.beta(2, 15, n),
        "rush_hour_share": rng.beta(3, 7, n),
        "highway_share": rng.beta(3, 5, n),
        "phone_use_per_hour": np.maximum(0, rng.normal(30 + 20 * a, 15)),
    }
    frequency = np.exp(np.log(base_frequency) + effect * a)
    if interaction:
        night, speeding = features["night_share"], features["speeding_share"]
        both = (night > np.quantile(night, 0.7)) & (speeding > np.quantile(speeding, 0.7))
        frequency = frequency * np.exp(interaction * both)
    return a, features, frequency, rng


def seed_drivers(
    n: int,
    *,
    seed: int = 0,
    effect: float = 0.6,
    as_of: dt.date = AS_OF,
    follow_days: int = 365,
    interaction: float = 0.0,
    base_frequency: float = 0.25,
):
    """Creates n customers, their 90-day features as of `as_of` and Poisson claims over the
    following `follow_days`. Returns (customer ids, latent aggressiveness)."""
    a, features, frequency, rng = driver_frame(
        n, seed=seed, effect=effect, interaction=interaction, base_frequency=base_frequency
    )
    customers = Customer.objects.bulk_create(
        [Customer(first_name="Sim", last_name=f"Driver {i}", email=f"sim{seed}-{i}@example.com") for i in range(n)]
    )
    ids = np.array([c.pk for c in customers])
    DriverFeatures.objects.bulk_create(
        [
            DriverFeatures(
                driver_id=int(ids[i]),
                as_of=as_of,
                window_days=90,
                trips=40,
                hours=float(features["km"][i]) / 45,
                **{name: float(values[i]) for name, values in features.items()},
            )
            for i in range(n)
        ]
    )
    counts = rng.poisson(frequency * follow_days / 365.25)
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(12), tzinfo=tz)
    claims = []
    for i in np.nonzero(counts)[0]:
        for _ in range(counts[i]):
            occurred = start + dt.timedelta(days=int(rng.integers(0, follow_days - 1)))
            claims.append(Claim(driver_id=int(ids[i]), occurred_at=occurred, reported_at=occurred))
    Claim.objects.bulk_create(claims)
    return ids, a
