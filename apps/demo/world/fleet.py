"""The fleet: vehicles by category mix, homed at the stores, with plates, VINs and list prices."""

import datetime as dt
import math
from decimal import Decimal

import numpy as np

from apps.demo.world.bulk import BATCH
from apps.demo.world.catalogue import FLEET_MIX
from apps.demo.world.values import money, vin_for
from apps.fleet.models import Vehicle, VehicleCategory


class Fleet:
    """The fleet step of the WorldBuilder."""

    def build_fleet(self) -> None:
        categories = {c.code: c for c in VehicleCategory.objects.filter(code__in=FLEET_MIX)}
        codes = list(FLEET_MIX)
        shares = np.array([FLEET_MIX[c][0] for c in codes])
        picks = self.np.choice(len(codes), size=self.size.vehicles, p=shares / shares.sum())
        store_weights = np.array([1.5 if "Airport" in s.name else 1.0 for s in self.stores])
        homes = self.np.choice(len(self.stores), size=self.size.vehicles, p=store_weights / store_weights.sum())
        ages_days = self.np.integers(30, 4 * 365, size=self.size.vehicles)
        vehicles, plates = [], set()
        for i in range(self.size.vehicles):
            code = codes[picks[i]]
            category = categories[code]
            make, model, wmi = self.rng.choice(FLEET_MIX[code][1])
            store = self.stores[homes[i]]
            acquired = self.today - dt.timedelta(days=int(ages_days[i]))
            year = acquired.year if acquired.month > 6 else acquired.year - 1
            while True:
                letters = "".join(self.rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
                plate = f"{store.plate_code}-{letters} {self.rng.randrange(1, 10000)}"
                if plate not in plates:
                    plates.add(plate)
                    break
            if code == "EV":
                fuel = Vehicle.Fuel.ELECTRIC
            else:
                fuel = self.rng.choices(["petrol", "diesel", "hybrid"], weights=[55, 30, 15])[0]
            list_price = float(category.base_price_per_day) * self.rng.uniform(0.92, 1.12)
            vehicle = Vehicle(
                vin=vin_for(wmi, year, 100000 + i, self.rng),
                plate=plate,
                make=make,
                model=model,
                model_year=year,
                fuel=fuel,
                category=category,
                home_store=store,
                current_store=store,
                price_per_day=money(math.floor(list_price) + 0.9),
                # At the start of the simulated year; the rentals add their kilometres.
                odometer_km=max(0, int(ages_days[i]) - 365) * self.rng.randint(40, 80) + self.rng.randint(10, 60),
                acquired_on=acquired,
            )
            vehicle.insurance_per_day = Decimal(FLEET_MIX[code][2])
            vehicles.append(vehicle)
        Vehicle.objects.bulk_create(vehicles, batch_size=BATCH)
        self.vehicles = vehicles
        self.counts["vehicles"] = len(vehicles)
