"""Demo world extension: consent, devices and simulated driving for the demo drivers.

The drivers with portal logins get 30 days of trips through the full ingestion path (every
sample stored, features from the stored samples); every other customer gets features-only
driving (trip features without raw samples, the vectorised simulator) so the risk model has
drivers and claims to learn from.

The risk extension learns from features over FEATURE_DAYS and the claims of the FOLLOW_DAYS after
them, so the others drive FEATURE_DAYS + FOLLOW_DAYS: a full 90-day feature window (the same
window scoring reads later, so `km in the window` means the same in training and scoring) and 90
days of claims. Training needs 200 claims in its training part (about half the drivers): the
small world's 595 other drivers carry 2.5 claims per driver-year (twenty times a realistic 0.12;
measured about 500 claims in the 90 days, 250 in the training part), the medium world's ~5,000
0.6 (five times)."""

import random

from apps.customers.models import Customer
from apps.demo.trips.simulation import simulation_run
from apps.fleet.models import Vehicle

DEMO_CLAIM_FREQUENCY = 0.6
FEATURE_DAYS = 90
FOLLOW_DAYS = 90
DEMO_SIZES = {
    "small": {"others": None, "days": FEATURE_DAYS + FOLLOW_DAYS, "claim_frequency": 2.5},
    "medium": {"others": None, "days": FEATURE_DAYS + FOLLOW_DAYS, "claim_frequency": DEMO_CLAIM_FREQUENCY},
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
