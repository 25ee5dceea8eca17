"""The core demo world: stores in several regions, salespeople, a fleet, customers with masked
cards, twelve months of rentals up to today (weekly and yearly seasonality), service books, and a
login per staff role and for a few drivers.

Deterministic for a seed and a day: every draw comes from `random.Random(seed)` or
`numpy.random.default_rng(seed)`. Rows are written with bulk_create (batched) and the two big
tables (rentals, maintenance records) with COPY."""

import datetime as dt
import random
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.utils import timezone

from apps.demo.world.customers import Customers
from apps.demo.world.demand import Demand
from apps.demo.world.fleet import Fleet
from apps.demo.world.logins import Logins
from apps.demo.world.maintenance import Maintenance
from apps.demo.world.places import Places
from apps.demo.world.rentals import Rentals


@dataclass(frozen=True)
class Size:
    stores: int
    vehicles: int
    customers: int
    rentals: int
    drivers_with_login: int


SIZES = {
    "small": Size(stores=8, vehicles=100, customers=600, rentals=5_000, drivers_with_login=5),
    "medium": Size(stores=26, vehicles=1_800, customers=5_000, rentals=100_000, drivers_with_login=10),
}


class WorldBuilder(Places, Fleet, Customers, Demand, Rentals, Maintenance, Logins):
    """Holds what the steps share (the size, the two seeded random generators, the clock, the
    counts) and runs them in order; each step lives in its own module."""

    def __init__(self, *, size: str, seed: int, stdout=None, today: dt.date | None = None):
        self.size_name = size
        self.size = SIZES[size]
        self.seed = seed
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.stdout = stdout
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.now = timezone.now()
        self.today = today or timezone.localdate()
        self.start = dt.datetime.combine(self.today - dt.timedelta(days=365), dt.time(0), self.tz)
        self.horizon = dt.datetime.combine(self.today + dt.timedelta(days=7), dt.time(0), self.tz)
        self.counts: dict[str, int] = {}

    def say(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message)

    # --- build ----------------------------------------------------------------------------------
    def build(self) -> dict[str, int]:
        self.build_stores()
        self.build_staff()
        self.build_fleet()
        self.build_customers()
        self.build_rentals()
        self.build_maintenance()
        self.build_logins()
        return self.counts
