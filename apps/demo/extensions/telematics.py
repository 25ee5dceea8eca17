"""Demo world extension: consent, devices and simulated driving for the demo drivers.

The drivers with portal logins get 30 days of trips through the full ingestion path (every
sample stored, features from the stored samples); a larger group of other customers gets
features-only driving (trip features without raw samples) so the risk model has drivers and
claims to learn from. The demo claim frequency is five times a realistic one (0.6 instead of
0.12 claims per driver-year) so a demo-sized portfolio carries enough claims to fit a model; the
small world (`make run`) has only 120 such drivers, since the simulator runs about 240 driver-days
a second, and gives them 2.5 claims per driver-year so that the 30 days after the model's feature
day still hold the 20 claims the risk extension trains on (it had 12 at 0.6, and no scores)."""

import random

from apps.customers.models import Customer
from apps.demo.trips.simulation import simulation_run
from apps.fleet.models import Vehicle

DEMO_CLAIM_FREQUENCY = 0.6
DEMO_SIZES = {
    "small": {"others": 120, "days": 45, "claim_frequency": 2.5},
    "medium": {"others": 600, "days": 60, "claim_frequency": DEMO_CLAIM_FREQUENCY},
}
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
    stdout.write(f"  telematics: {fast.drivers} more drivers (features only), {fast.trips} trips, {fast.claims} claims")
