from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    BACK_OFFICE = "back_office", "Back office"
    ANALYST = "analyst", "Analyst"
    OPS = "ops", "Ops"


class User(AbstractUser):
    """FleetOps user. Roles are Django groups named after `Role` values."""

    class Meta:
        db_table = "accounts_user"

    def has_role(self, role: str) -> bool:
        return self.is_superuser or self.groups.filter(name=role).exists()
