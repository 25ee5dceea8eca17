"""Demo logins: one per staff role, and portal logins for the drivers who rent most; all share the
demo password."""

import os

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group

from apps.accounts.models import Role, User
from apps.customers.models import Customer

STAFF_LOGINS = {Role.ADMIN: "admin", Role.BACK_OFFICE: "back_office", Role.ANALYST: "analyst", Role.OPS: "ops"}


def demo_password() -> str:
    """DEMO_PASSWORD, or a random one kept under var/secrets (never committed)."""
    from fleetops.settings.base import local_secret

    return os.environ.get("DEMO_PASSWORD") or local_secret("demo_password")


class Logins:
    """The logins step of the WorldBuilder (runs last: driver logins go to the busiest renters)."""

    def build_logins(self) -> None:
        # One hash for every demo login: they share the one demo password anyway, and hashing
        # is deliberately slow.
        password = make_password(demo_password())
        groups = {g.name: g for g in Group.objects.filter(name__in=STAFF_LOGINS)}
        staff = []
        for role, username in STAFF_LOGINS.items():
            user = User(
                username=username,
                email=f"{username}@fleetops.example",
                first_name=role.label,
                last_name="(demo)",
                is_staff=True,
                is_superuser=role == Role.ADMIN,
                password=password,
            )
            staff.append((user, groups[role.value]))
        User.objects.bulk_create([u for u, _ in staff])
        for user, group in staff:
            user.groups.add(group)
        # Portal logins for the drivers who rent most.
        rentals_per_customer = {}
        for p in self.completed_by_vehicle.values():
            for rental in p:
                rentals_per_customer[rental.customer] = rentals_per_customer.get(rental.customer, 0) + 1
        top = sorted(rentals_per_customer, key=lambda c: (-rentals_per_customer[c], c))[: self.size.drivers_with_login]
        drivers = []
        for n, index in enumerate(sorted(top), start=1):
            customer = self.customers[index]
            user = User(
                username=f"driver{n}",
                email=customer.email,
                first_name=customer.first_name,
                last_name=customer.last_name,
                password=password,
            )
            drivers.append((user, customer))
        User.objects.bulk_create([u for u, _ in drivers])
        for user, customer in drivers:
            customer.user = user
        Customer.objects.bulk_update([c for _, c in drivers], ["user"])
        self.counts["staff_logins"] = len(staff)
        self.counts["driver_logins"] = len(drivers)
