"""Twelve months of rental demand played out against the fleet: requests by season, weekday and
hour at each store, served by a free car there or lost; durations, returns elsewhere, kilometres;
then customers assigned so nobody holds two cars at once."""

import datetime as dt
import math
import random
from dataclasses import dataclass

import numpy as np

from apps.regions.models import Store

WEEKDAY_DEMAND = [0.85, 0.80, 0.85, 1.00, 1.35, 1.15, 0.90]  # Monday .. Sunday pickups
PICKUP_HOURS = [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
PICKUP_HOUR_WEIGHTS = [3, 7, 10, 9, 7, 5, 5, 6, 8, 10, 9, 6, 3]
DURATION_DAYS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 21, 28]
DURATION_WEIGHTS = [28, 20, 17, 10, 7, 4, 7, 1.2, 0.8, 0.7, 0.5, 0.4, 0.4, 1.5, 0.5, 0.3]


def yearly_demand(day: dt.date) -> float:
    """Summer peak (late July), a winter trough, and a bump over Christmas and New Year."""
    doy = day.timetuple().tm_yday
    value = 1.0 + 0.30 * math.cos(2 * math.pi * (doy - 205) / 365.25)
    if (day.month == 12 and day.day >= 18) or (day.month == 1 and day.day <= 4):
        value += 0.25
    return value


@dataclass
class Planned:
    """A rental as simulated, before customers are assigned."""

    vehicle: int
    pickup_store: int
    return_store: int
    rented_at: dt.datetime
    due_at: dt.datetime
    returned_at: dt.datetime
    days: int
    km: int
    status: str = "completed"
    odometer_out: int | None = None
    customer: int = -1


class Demand:
    """The rental planning steps of the WorldBuilder."""

    def simulate(self, requests_per_day: float, rng: random.Random) -> tuple[list[Planned], int]:
        """Customers ask for cars at each store (yearly and weekly seasonality, busier airports); a
        request is served by a car that is at that store and free, or lost when none is. Returns the
        rentals and the number of lost requests."""
        homed = np.bincount([self.stores.index(v.home_store) for v in self.vehicles], minlength=len(self.stores))
        store_share = homed / homed.sum()
        store_at = {s.pk: s for s in self.stores}
        # Per store: vehicles located there as [free from, vehicle index].
        pools: dict[int, list[list]] = {s.pk: [] for s in self.stores}
        for index, vehicle in enumerate(self.vehicles):
            acquired = dt.datetime.combine(vehicle.acquired_on, dt.time(8), self.tz)
            pools[vehicle.home_store_id].append([max(self.start, acquired), index])
        np_rng = np.random.default_rng(rng.randrange(2**32))
        planned, lost = [], 0
        day = self.start.date()
        while day < self.horizon.date():
            expected = requests_per_day * yearly_demand(day) * WEEKDAY_DEMAND[day.weekday()] * store_share
            counts = np_rng.poisson(expected)
            requests = []
            for store_index, count in enumerate(counts):
                for _ in range(count):
                    hour = rng.choices(PICKUP_HOURS, weights=PICKUP_HOUR_WEIGHTS)[0]
                    at = dt.datetime.combine(day, dt.time(hour, rng.randrange(0, 60, 5)), self.tz)
                    requests.append((at, store_index))
            requests.sort()
            for rented_at, store_index in requests:
                store = self.stores[store_index]
                pool = pools[store.pk]
                free = [slot for slot in pool if slot[0] <= rented_at]
                if not free:
                    lost += 1
                    continue
                slot = rng.choice(free)
                pool.remove(slot)
                index = slot[1]
                p = self.plan_one(index, store, rented_at, rng)
                planned.append(p)
                back = store_at[p.return_store]
                if p.status == "completed":
                    busy_until = p.returned_at
                elif p.status == "cancelled":
                    busy_until = rented_at
                else:
                    busy_until = max(p.returned_at, p.due_at)  # not back yet: booked until due
                free_from = busy_until + dt.timedelta(hours=rng.uniform(2, 8))
                home = self.vehicles[index].home_store
                if back.pk != home.pk and rng.random() < 0.5:
                    back, free_from = home, free_from + dt.timedelta(hours=rng.uniform(4, 24))  # brought home
                pools[back.pk].append([free_from, index])
            day += dt.timedelta(days=1)
        return planned, lost

    def plan_one(self, index: int, store: Store, rented_at: dt.datetime, rng: random.Random) -> Planned:
        vehicle = self.vehicles[index]
        days = rng.choices(DURATION_DAYS, weights=DURATION_WEIGHTS)[0]
        if rented_at.weekday() == 4 and days == 1 and rng.random() < 0.6:
            days = 3  # Friday to Monday
        if rented_at.month in (6, 7, 8) and rng.random() < 0.08:
            days = rng.randint(7, 14)  # summer holidays
        due_at = rented_at + dt.timedelta(days=days, minutes=rng.choice([0, 0, 30, 60, -60]))
        roll = rng.random()
        if roll < 0.10:
            returned_at = due_at + dt.timedelta(hours=rng.uniform(1, 30))
        elif roll < 0.15 and days > 1:
            returned_at = due_at - dt.timedelta(hours=rng.uniform(4, 24))
        else:
            returned_at = due_at + dt.timedelta(minutes=rng.uniform(-90, 90))
        returned_at = max(returned_at, rented_at + dt.timedelta(hours=2))
        if rented_at > self.now:
            status = "reserved"
        elif returned_at > self.now:
            status = "active"
        elif rng.random() < 0.03:
            status = "cancelled"
        else:
            status = "completed"
        if status == "cancelled":
            # Called off at the counter: the car stays where it is and is free again.
            back, km = store, 0
        else:
            roll = rng.random()
            if roll < 0.88:
                back = store
            elif roll < 0.97:
                back = rng.choice(self.stores_by_region[store.region_id])
            else:
                back = rng.choice(self.stores)
            km_per_day = 70 if vehicle.fuel == "electric" else 110
            km = max(5, int(days * km_per_day * rng.lognormvariate(0, 0.5)))
        return Planned(index, store.pk, back.pk, rented_at, due_at, returned_at, days, km, status=status)

    def plan_rentals(self) -> list[Planned]:
        target = self.size.rentals
        # Requests per day at average demand; raised when too many are lost to a full fleet.
        requests_per_day = 1.06 * target / 365
        for attempt in range(8):
            rng = random.Random(f"{self.seed}:rentals:{attempt}")
            planned, lost = self.simulate(requests_per_day, rng)
            if len(planned) >= target:
                break
            requests_per_day *= 1.05 * target / len(planned)
        self.counts["lost_requests"] = lost
        # Drop the surplus at random (a gap in a vehicle's calendar) to hit the target exactly.
        if len(planned) > target:
            keep = sorted(self.rng.sample(range(len(planned)), target))
            planned = [planned[i] for i in keep]
        # Odometers run on from rental to rental of each vehicle.
        planned.sort(key=lambda p: (p.vehicle, p.rented_at))
        odometer = {}
        for p in planned:
            current = odometer.get(p.vehicle, self.vehicles[p.vehicle].odometer_km)
            if p.status in ("completed", "active"):
                p.odometer_out = current
                odometer[p.vehicle] = current + p.km
        return planned

    def assign_customers(self, planned: list[Planned]) -> None:
        """Customers come back at different rates and never hold two cars at once."""
        n = len(self.customers)
        weights = self.np.lognormal(0, 1.0, size=n)
        by_region: dict[int, list[int]] = {}
        for i, customer in enumerate(self.customers):
            by_region.setdefault(customer.home_store.region_id, []).append(i)
        pools = {}
        for region_id, members in by_region.items():
            w = weights[members]
            pools[region_id] = (np.array(members), np.cumsum(w) / w.sum())
        everyone = (np.arange(n), np.cumsum(weights) / weights.sum())
        region_of_store = {s.pk: s.region_id for s in self.stores}
        busy_until = [self.start] * n
        planned.sort(key=lambda p: p.rented_at)
        draws = self.np.random(size=(len(planned), 12))
        for k, p in enumerate(planned):
            members, cdf = pools.get(region_of_store[p.pickup_store], everyone)
            chosen = None
            for j in range(12):
                if j == 8:
                    members, cdf = everyone
                candidate = int(members[min(np.searchsorted(cdf, draws[k, j]), len(members) - 1)])
                if busy_until[candidate] <= p.rented_at:
                    chosen = candidate
                    break
            if chosen is None:
                chosen = min(range(n), key=lambda c: busy_until[c])
            p.customer = chosen
            busy_until[chosen] = max(p.returned_at, p.due_at) + dt.timedelta(hours=1)
