from django.db import models
from django.db.models import Q

from apps.common.models import TimeStampedModel


class Region(TimeStampedModel):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="Europe/Berlin")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Store(TimeStampedModel):
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="stores")
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120)
    city = models.CharField(max_length=100)
    latitude = models.DecimalField(max_digits=8, decimal_places=5)
    longitude = models.DecimalField(max_digits=8, decimal_places=5)
    capacity = models.PositiveIntegerField(default=50, help_text="Parking places for vehicles.")
    opened_on = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90, longitude__gte=-180, longitude__lte=180),
                name="%(app_label)s_%(class)s_coordinates_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Salesperson(TimeStampedModel):
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="salespeople")
    employee_code = models.CharField(max_length=20, unique=True)
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    email = models.EmailField(blank=True)
    hired_on = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        verbose_name_plural = "salespeople"

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class StoreDailyMetrics(models.Model):
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="daily_metrics")
    date = models.DateField()
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    rentals = models.PositiveIntegerField(default=0, help_text="Rentals started that day.")
    active_rentals = models.PositiveIntegerField(default=0, help_text="Vehicles on rent that day.")
    fleet_size = models.PositiveIntegerField(default=0)
    utilisation = models.DecimalField(max_digits=5, decimal_places=4, default=0)
    average_daily_rate = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "store"]
        verbose_name_plural = "store daily metrics"
        constraints = [
            models.UniqueConstraint(
                fields=["store", "date"],
                name="%(app_label)s_%(class)s_unique_store_date",
                violation_error_message="Metrics for this store and date exist already.",
            ),
            models.CheckConstraint(condition=Q(revenue__gte=0), name="%(app_label)s_%(class)s_revenue_non_negative"),
            models.CheckConstraint(
                condition=Q(utilisation__gte=0, utilisation__lte=1), name="%(app_label)s_%(class)s_utilisation_share"
            ),
            models.CheckConstraint(
                condition=Q(average_daily_rate__gte=0), name="%(app_label)s_%(class)s_rate_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.date}"
