"""Stores across the regions and their salespeople."""

import datetime as dt
from decimal import Decimal

from apps.demo.world.bulk import BATCH
from apps.demo.world.catalogue import FEMALE, LAST, MALE, STORES
from apps.demo.world.values import ascii_slug
from apps.regions.models import Region, Salesperson, Store


class Places:
    """The stores and staff steps of the WorldBuilder."""

    def build_stores(self) -> None:
        regions = {r.code: r for r in Region.objects.filter(code__in=STORES)}
        missing = sorted(set(STORES) - set(regions))
        if missing:
            raise RuntimeError(f"regions {', '.join(missing)} are missing: run manage.py load_reference_data first")
        # Round-robin over regions so even the small world spans all of them.
        picked, depth = [], 0
        while len(picked) < self.size.stores:
            for code in STORES:
                if depth < len(STORES[code]) and len(picked) < self.size.stores:
                    picked.append((code, STORES[code][depth]))
            depth += 1
        stores = []
        for code, (suffix, name, city, plate, postal, lat, lon) in picked:
            store = Store(
                region=regions[code],
                code=f"{code}-{suffix}",
                name=name,
                city=city,
                latitude=Decimal(f"{lat:.5f}"),
                longitude=Decimal(f"{lon:.5f}"),
                capacity=max(30, int(self.size.vehicles / self.size.stores * 1.4)),
                opened_on=dt.date(2012 + self.rng.randrange(12), 1 + self.rng.randrange(12), 1),
            )
            store.plate_code = plate
            store.postal_prefix = postal
            stores.append(store)
        Store.objects.bulk_create(stores)
        self.stores = sorted(stores, key=lambda s: s.code)
        self.stores_by_region: dict[int, list[Store]] = {}
        for store in self.stores:
            self.stores_by_region.setdefault(store.region_id, []).append(store)
        self.counts["regions"] = len(self.stores_by_region)
        self.counts["stores"] = len(self.stores)

    def build_staff(self) -> None:
        people = []
        n = 0
        for store in self.stores:
            for _ in range(3 + self.rng.randrange(4)):
                n += 1
                female = self.rng.random() < 0.5
                first = self.rng.choice(FEMALE if female else MALE)
                last = self.rng.choice(LAST)
                people.append(
                    Salesperson(
                        store=store,
                        employee_code=f"E{store.code.replace('-', '')}{n:04d}",
                        first_name=first,
                        last_name=last,
                        email=f"{ascii_slug(first)}.{ascii_slug(last)}.{n}@fleetops.example",
                        hired_on=self.today - dt.timedelta(days=60 + self.rng.randrange(3000)),
                    )
                )
        Salesperson.objects.bulk_create(people, batch_size=BATCH)
        self.salespeople: dict[int, list[int]] = {}
        for pk, store_id in Salesperson.objects.filter(store__in=self.stores).values_list("pk", "store_id"):
            self.salespeople.setdefault(store_id, []).append(pk)
        # One salesperson gives far more and deeper discounts than anyone else: something for
        # the revenue and fraud analyses to find.
        self.generous = self.salespeople[self.stores[0].pk][0]
        self.counts["salespeople"] = len(people)
