"""Service books: scheduled services, brakes, tyre changes, inspections and repairs that follow
each vehicle's rentals."""

import datetime as dt

from apps.demo.world.bulk import copy_rows
from apps.demo.world.values import money


class Maintenance:
    """The service-book step of the WorldBuilder (after the rentals, whose returns it follows)."""

    def build_maintenance(self) -> None:
        rng = self.rng
        rows = []

        def record(vehicle, kind, day, km, cost, store_id, text, due_days=None, due_km=None):
            stamp = dt.datetime.combine(day, dt.time(17), self.tz)
            rows.append(
                (
                    stamp,
                    stamp,
                    vehicle.pk,
                    store_id,
                    kind,
                    day,
                    km,
                    money(cost),
                    text,
                    day + dt.timedelta(days=due_days) if due_days else None,
                    km + due_km if due_km else None,
                )
            )

        for index, vehicle in enumerate(self.vehicles):
            rentals = self.completed_by_vehicle.get(index, [])
            start_km = rentals[0].odometer_out if rentals else vehicle.odometer_km
            service_km = max(0, start_km - rng.randrange(0, 18000))
            service_day = self.start.date() - dt.timedelta(days=rng.randrange(5, 300))
            if service_day > vehicle.acquired_on:
                record(
                    vehicle,
                    "service",
                    service_day,
                    service_km,
                    rng.uniform(180, 450),
                    vehicle.home_store_id,
                    "Annual service: oil, filters, fluids, checks.",
                    365,
                    20000,
                )
            else:
                service_day, service_km = vehicle.acquired_on, start_km
            swapped = set()
            for p in rentals:
                km_in = p.odometer_out + p.km
                day = (p.returned_at + dt.timedelta(hours=18)).date()
                if day >= self.today:
                    break
                if km_in - service_km >= 20000 or (day - service_day).days >= 365:
                    record(
                        vehicle,
                        "service",
                        day,
                        km_in,
                        rng.uniform(180, 450),
                        p.return_store,
                        "Scheduled service: oil, filters, fluids, checks.",
                        365,
                        20000,
                    )
                    service_km, service_day = km_in, day
                    if rng.random() < 0.25:
                        record(
                            vehicle,
                            "brakes",
                            day,
                            km_in,
                            rng.uniform(250, 600),
                            p.return_store,
                            "Brake pads and discs replaced.",
                        )
                season = (day.year, "winter" if day.month in (10, 11) else "summer" if day.month in (3, 4) else None)
                if season[1] and season not in swapped and rng.random() < 0.15:
                    swapped.add(season)
                    record(
                        vehicle,
                        "tyres",
                        day,
                        km_in,
                        rng.uniform(60, 120),
                        p.return_store,
                        f"Changed to {season[1]} tyres.",
                    )
            if vehicle.acquired_on <= self.today - dt.timedelta(days=3 * 365) and rentals:
                p = rentals[len(rentals) // 2]
                day = (p.returned_at + dt.timedelta(hours=18)).date()
                if day < self.today:
                    record(
                        vehicle,
                        "inspection",
                        day,
                        p.odometer_out + p.km,
                        rng.uniform(120, 160),
                        p.return_store,
                        "Periodic technical inspection (HU/AU) passed.",
                        730,
                    )
            if rentals and rng.random() < 0.06:
                p = rng.choice(rentals)
                day = (p.returned_at + dt.timedelta(hours=18)).date()
                if day < self.today:
                    record(
                        vehicle,
                        "repair",
                        day,
                        p.odometer_out + p.km,
                        rng.uniform(200, 2500),
                        p.return_store,
                        rng.choice(
                            ["Bumper repaired after parking damage.", "Windscreen replaced.", "Door dent removed."]
                        ),
                    )
        columns = (
            "created_at, updated_at, vehicle_id, store_id, kind, performed_on, odometer_km, cost, description, "
            "next_due_on, next_due_km"
        )
        copy_rows("fleet_maintenancerecord", columns, rows)
        self.counts["maintenance_records"] = len(rows)
