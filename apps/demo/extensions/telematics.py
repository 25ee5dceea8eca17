"""Demo world extension: consent, devices and simulated driving for the demo drivers.

The drivers with portal logins get 30 days of trips through the full ingestion path (every
sample stored, features from the stored samples); every other customer gets features-only
driving (trip features without raw samples, the vectorised simulator), so every driver has a
score.

Every demo driver's claims come at a realistic frequency: DEMO_CLAIM_FREQUENCY claims a year at
12,000 km and average latent risk, about 0.12 a driver-year observed (the simulator's drivers
average 1.24 times the reference risk and distance), against freMTPL2's 0.10 and the 0.05-0.2 of
European motor books; so the portal says "about 1 in 9 drivers like you has a claim in a year",
not 9 in 10. The others drive FEATURE_DAYS, the 90-day feature window scoring reads. The risk
model does not learn from them (at this frequency they hold a few dozen claims): it learns from a
larger simulated portfolio in memory (the risk extension) and scores them."""

import random

from apps.customers.models import Customer
from apps.demo.trips.simulation import simulation_run
from apps.fleet.models import Vehicle

DEMO_CLAIM_FREQUENCY = 0.1
FEATURE_DAYS = 90
DEMO_SIZES = {
    "small": {"others": None, "days": FEATURE_DAYS, "claim_frequency": DEMO_CLAIM_FREQUENCY},
    "medium": {"others": None, "days": FEATURE_DAYS, "claim_frequency": DEMO_CLAIM_FREQUENCY},
}  # others: None = every customer without a portal login
PORTAL_DAYS = 30


def seed(*, size: str, rng: random.Random, stdout) -> None:
    spec = DEMO_SIZES.get(size, DEMO_SIZES["small"])
    vehicles = list(Vehicle.objects.order_by("pk").values_list("pk", flat=True))
    portal = list(Customer.objects.filter(user__isnull=False).order_by("pk"))
    others = list(Customer.objects.filter(user__isnull=True).order_by("pk")[: spec["others"]])
    full = simulation_run(
        customers=portal,
        days=PORTAL_DAYS,
        seed=rng.randrange(2**31),
        claim_frequency=DEMO_CLAIM_FREQUENCY,
        vehicles=vehicles,
    )
    stdout.write(
        f"  telematics: {full.drivers} portal drivers, {full.trips} trips, {full.samples:,} samples stored, "
        f"{full.claims} claims"
    )
    fast = simulation_run(
        customers=others,
        days=spec["days"],
        seed=rng.randrange(2**31),
        features_only=True,
        claim_frequency=spec["claim_frequency"],
        vehicles=vehicles[len(portal) :] or vehicles,
    )
    stdout.write(
        f"  telematics: {fast.drivers:,} more drivers (features only), {fast.trips:,} trips, {fast.claims:,} claims"
    )
