"""The rentals as booked and paid (seasonal daily rates, insurance, discounts, one generous
salesperson), and where each vehicle stands afterwards."""

import datetime as dt
from decimal import Decimal

from apps.demo.world.bulk import BATCH, copy_rows
from apps.demo.world.demand import Planned, yearly_demand
from apps.demo.world.values import money
from apps.fleet.models import Vehicle


class Rentals:
    """The rentals step of the WorldBuilder (after the demand is planned and customers assigned)."""

    def build_rentals(self) -> None:
        planned = self.plan_rentals()
        self.assign_customers(planned)
        rng = self.rng
        rows = []
        status_count = {"completed": 0, "active": 0, "reserved": 0, "cancelled": 0}
        self.last_return: dict[int, Planned] = {}
        self.active_vehicles: set[int] = set()
        self.completed_by_vehicle: dict[int, list[Planned]] = {}
        for p in planned:
            vehicle = self.vehicles[p.vehicle]
            customer = self.customers[p.customer]
            seasonal = 0.88 + 0.22 * (yearly_demand(p.rented_at.date()) - 0.7) / 0.85
            if p.rented_at.weekday() >= 4:
                seasonal *= 1.05
            if p.days >= 7:
                seasonal *= 0.85
            daily_rate = money(float(vehicle.price_per_day) * seasonal)
            late_day = 1 if p.returned_at > p.due_at + dt.timedelta(hours=3) else 0
            rental_amount = daily_rate * (p.days + late_day)
            insurance = vehicle.insurance_per_day * p.days if rng.random() < 0.45 else Decimal("0.00")
            salespeople = self.salespeople[p.pickup_store]
            salesperson = rng.choice(salespeople)
            discount = Decimal("0.00")
            if salesperson == self.generous and rng.random() < 0.45:
                discount = money(rental_amount * Decimal(str(round(rng.uniform(0.25, 0.40), 2))))
            elif rng.random() < 0.10:
                discount = money(rental_amount * Decimal(str(round(rng.uniform(0.05, 0.15), 2))))
            total = rental_amount + insurance - discount
            booked_at = min(p.rented_at - dt.timedelta(hours=rng.uniform(1, 24 * 21)), self.now)
            status = p.status
            status_count[status] += 1
            returned_at = p.returned_at if status == "completed" else None
            odometer_out = p.odometer_out
            odometer_in = p.odometer_out + p.km if status == "completed" else None
            if status == "cancelled":
                rental_amount = insurance = discount = total = Decimal("0.00")
            if status == "completed":
                self.last_return[p.vehicle] = p
                self.completed_by_vehicle.setdefault(p.vehicle, []).append(p)
            if status == "active":
                self.active_vehicles.add(p.vehicle)
            rows.append(
                (
                    booked_at,
                    returned_at or booked_at,
                    customer.pk,
                    vehicle.pk,
                    p.pickup_store,
                    p.return_store if status != "cancelled" else None,
                    salesperson,
                    self.card_of[customer.pk],
                    status,
                    p.rented_at,
                    p.due_at,
                    returned_at,
                    daily_rate,
                    rental_amount,
                    insurance,
                    discount,
                    total,
                    odometer_out,
                    odometer_in,
                )
            )
        columns = (
            "created_at, updated_at, customer_id, vehicle_id, pickup_store_id, return_store_id, salesperson_id, "
            "payment_card_id, status, rented_at, due_at, returned_at, daily_rate, rental_amount, insurance_amount, "
            "discount_amount, total_amount, odometer_out_km, odometer_in_km"
        )
        copy_rows("transactions_rental", columns, rows)
        self.update_vehicles()
        self.counts["rentals"] = len(rows)
        self.counts.update({f"rentals_{k}": v for k, v in status_count.items()})

    def update_vehicles(self) -> None:
        changed = []
        for index, vehicle in enumerate(self.vehicles):
            last = self.last_return.get(index)
            if last is not None:
                vehicle.odometer_km = last.odometer_out + last.km
                vehicle.current_store_id = last.return_store
            if index in self.active_vehicles:
                vehicle.status = Vehicle.Status.RENTED
                vehicle.current_store_id = None
            elif self.rng.random() < 0.015:
                vehicle.status = Vehicle.Status.MAINTENANCE
            changed.append(vehicle)
        Vehicle.objects.bulk_update(changed, ["odometer_km", "current_store", "status"], batch_size=BATCH)
