"""The core demo world built by `manage.py seed_demo`: see builder.py."""

from apps.demo.world.builder import SIZES, Size, WorldBuilder
from apps.demo.world.logins import STAFF_LOGINS, demo_password

__all__ = ["SIZES", "STAFF_LOGINS", "Size", "WorldBuilder", "demo_password"]
