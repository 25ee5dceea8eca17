from django.db import models
from django.db.models import Q

from apps.common.models import TimeStampedModel


class VehicleCategory(TimeStampedModel):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    seats = models.PositiveSmallIntegerField(default=5)
    base_price_per_day = models.DecimalField(max_digits=8, decimal_places=2)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "vehicle categories"
        constraints = [
            models.CheckConstraint(
                condition=Q(base_price_per_day__gte=0), name="%(app_label)s_%(class)s_price_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Vehicle(TimeStampedModel):
    class Status(models.TextChoices):
        AVAILABLE = "available"
        RENTED = "rented"
        MAINTENANCE = "maintenance"
        RETIRED = "retired"

    class Fuel(models.TextChoices):
        PETROL = "petrol"
        DIESEL = "diesel"
        HYBRID = "hybrid"
        ELECTRIC = "electric"

    vin = models.CharField("VIN", max_length=17, unique=True)
    plate = models.CharField(max_length=16, unique=True)
    make = models.CharField(max_length=40)
    model = models.CharField(max_length=40)
    model_year = models.PositiveSmallIntegerField()
    fuel = models.CharField(max_length=10, choices=Fuel.choices, default=Fuel.PETROL)
    category = models.ForeignKey(VehicleCategory, on_delete=models.PROTECT, related_name="vehicles")
    home_store = models.ForeignKey("regions.Store", on_delete=models.PROTECT, related_name="home_vehicles")
    current_store = models.ForeignKey(
        "regions.Store", on_delete=models.PROTECT, related_name="present_vehicles", null=True, blank=True
    )
    price_per_day = models.DecimalField(max_digits=8, decimal_places=2, help_text="List daily rate.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.AVAILABLE)
    odometer_km = models.PositiveIntegerField(default=0)
    acquired_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["plate"]
        indexes = [models.Index(fields=["home_store", "status"], name="fleet_vehicle_store_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(vin__regex=r"^[A-HJ-NPR-Z0-9]{17}$"),
                name="%(app_label)s_%(class)s_vin_format",
                violation_error_message="A VIN has 17 characters, letters I, O and Q excluded.",
            ),
            models.CheckConstraint(
                condition=Q(price_per_day__gte=0), name="%(app_label)s_%(class)s_price_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["available", "rented", "maintenance", "retired"]),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(model_year__gte=1990, model_year__lte=2100), name="%(app_label)s_%(class)s_model_year_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plate} {self.make} {self.model}"


class MaintenanceRecord(TimeStampedModel):
    class Kind(models.TextChoices):
        SERVICE = "service"
        INSPECTION = "inspection"
        TYRES = "tyres"
        BRAKES = "brakes"
        REPAIR = "repair"

    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="maintenance_records")
    store = models.ForeignKey("regions.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.SERVICE)
    performed_on = models.DateField()
    odometer_km = models.PositiveIntegerField()
    cost = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    description = models.TextField(blank=True)
    next_due_on = models.DateField(null=True, blank=True)
    next_due_km = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-performed_on"]
        indexes = [models.Index(fields=["vehicle", "-performed_on"], name="fleet_maint_vehicle_date_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(cost__gte=0), name="%(app_label)s_%(class)s_cost_non_negative"),
            models.CheckConstraint(
                condition=Q(kind__in=["service", "inspection", "tyres", "brakes", "repair"]),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(next_due_on__isnull=True) | Q(next_due_on__gt=models.F("performed_on")),
                name="%(app_label)s_%(class)s_next_due_after_service",
            ),
        ]


class MaintenanceForecast(TimeStampedModel):
    class Urgency(models.TextChoices):
        OVERDUE = "overdue"
        DUE_SOON = "due_soon"
        PLANNED = "planned"
        OK = "ok"

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="maintenance_forecasts")
    as_of = models.DateField()
    predicted_service_on = models.DateField()
    km_since_service = models.PositiveIntegerField(default=0)
    days_since_service = models.PositiveIntegerField(default=0)
    utilisation = models.DecimalField(max_digits=5, decimal_places=4, default=0)
    idle_days = models.PositiveIntegerField(default=0)
    harsh_event_load = models.FloatField(null=True, blank=True)
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    reason = models.TextField()

    class Meta:
        ordering = ["predicted_service_on"]
        constraints = [
            models.UniqueConstraint(fields=["vehicle", "as_of"], name="%(app_label)s_%(class)s_unique_vehicle_day"),
            models.CheckConstraint(
                condition=Q(urgency__in=["overdue", "due_soon", "planned", "ok"]),
                name="%(app_label)s_%(class)s_urgency_valid",
            ),
            models.CheckConstraint(
                condition=Q(utilisation__gte=0, utilisation__lte=1), name="%(app_label)s_%(class)s_utilisation_share"
            ),
        ]
