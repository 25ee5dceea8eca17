"""Prints where FleetOps answers and who can log in: `manage.py demo_logins --port 8000`."""

import os

from django.core.management.base import BaseCommand

from apps.accounts.models import Role, User
from apps.demo.world import STAFF_LOGINS, demo_password

# Where each staff role starts its day: analysts and ops work in the ops console, not the admin.
START_PAGE = {Role.ANALYST: "/ops/", Role.OPS: "/ops/"}

PAGES = [
    ("/admin/", "back office (Django admin)"),
    ("/ops/", "ops analysts' pages"),
    ("/portal/", "driver portal"),
    ("/api/docs/", "partner API documentation"),
    ("/healthz", "liveness"),
    ("/readyz", "readiness: database, Redis, migrations"),
]


class Command(BaseCommand):
    help = "Prints the URLs and the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("WEB_PORT", 8000)))
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, port: int, host: str, **options):
        base = f"http://{host}:{port}"
        out = self.stdout
        out.write(self.style.MIGRATE_HEADING("FleetOps is at"))
        for path, what in PAGES:
            out.write(f"  {base}{path:<12} {what}")
        staff = {u.username: u for u in User.objects.filter(username__in=STAFF_LOGINS.values())}
        drivers = list(
            User.objects.filter(customer__isnull=False, username__startswith="driver")
            .select_related("customer")
            .order_by("username")
        )
        if not staff and not drivers:
            out.write("No demo logins: run `manage.py seed_demo` (make run does).")
            return
        source = "DEMO_PASSWORD" if os.environ.get("DEMO_PASSWORD") else "var/secrets/demo_password"
        out.write(self.style.MIGRATE_HEADING(f"Demo logins (password from {source}):"))
        out.write(f"  password: {demo_password()}")
        for role, username in STAFF_LOGINS.items():
            if username in staff:
                start = START_PAGE.get(role, "/admin/")
                out.write(f"  {username:<12} {role.label} — {base}{start}")
        for user in drivers:
            out.write(f"  {user.username:<12} driver {user.customer} — {base}/portal/")
