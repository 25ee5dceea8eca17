from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from apps.common.models import TimeStampedModel


class RatePlan(TimeStampedModel):
    """A version of the tariff. A version in force is never edited: a change is a new version."""

    name = models.CharField(max_length=60, default="standard")
    version = models.PositiveIntegerField()
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR")
    # {"<category code>": {"<region code>": "annual premium"}, ...}; "*" is the fallback key.
    base_premiums = models.JSONField(default=dict)
    # [{"min_years": 0, "factor": "1.60"}, ...] ordered by min_years.
    experience_factors = models.JSONField(default=list)
    vehicle_age_factors = models.JSONField(default=list)
    per_km_rate = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal("0.0300"))
    minimum_premium = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("150.00"))
    max_discount = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.450"))
    max_surcharge = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.400"))
    eligibility_min_trips = models.PositiveIntegerField(default=20)
    eligibility_min_km = models.PositiveIntegerField(default=500)
    eligibility_window_days = models.PositiveSmallIntegerField(default=90)
    # Telematics factor = relative_risk ** risk_elasticity, clamped to the bounds (see services).
    risk_elasticity = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.500"))
    # PAYD: this share of the traditional premium is fixed, the rest is paid per kilometre.
    payd_fixed_share = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.600"))
    # Insurance sold with one rental costs the annual premium / 365 times this loading per day.
    daily_loading = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("1.300"))
    quote_valid_days = models.PositiveSmallIntegerField(default=30)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="%(app_label)s_%(class)s_unique_version"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=F("effective_from")),
                name="%(app_label)s_%(class)s_period_valid",
            ),
            models.CheckConstraint(
                condition=Q(max_discount__gte=0, max_discount__lt=1, max_surcharge__gte=0),
                name="%(app_label)s_%(class)s_bounds_valid",
            ),
            models.CheckConstraint(
                condition=Q(per_km_rate__gte=0, minimum_premium__gte=0),
                name="%(app_label)s_%(class)s_prices_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(risk_elasticity__gt=0, payd_fixed_share__gte=0, payd_fixed_share__lte=1)
                & Q(daily_loading__gte=1, quote_valid_days__gte=1),
                name="%(app_label)s_%(class)s_curve_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def is_in_force_or_past(self, on=None) -> bool:
        """A plan whose period has started is frozen: a change is a new version."""
        return self.effective_from <= (on or timezone.localdate())


class PolicyKind(models.TextChoices):
    TRADITIONAL = "traditional", "Traditional"
    PAYD = "payd", "Pay as you drive"
    PHYD = "phyd", "Pay how you drive"


class Quote(models.Model):
    """An immutable price offer with everything it was computed from."""

    driver = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="quotes")
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="quotes"
    )
    rate_plan = models.ForeignKey(RatePlan, on_delete=models.PROTECT, related_name="quotes")
    risk_score = models.ForeignKey(
        "risk.RiskScore", on_delete=models.PROTECT, null=True, blank=True, related_name="quotes"
    )
    vehicle_category = models.ForeignKey("fleet.VehicleCategory", on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=PolicyKind.choices)
    currency = models.CharField(max_length=3, default="EUR")
    traditional_premium = models.DecimalField(max_digits=10, decimal_places=2)
    telematics_factor = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("1"))
    telematics_premium = models.DecimalField(max_digits=10, decimal_places=2)
    discount = models.DecimalField(
        max_digits=10, decimal_places=2, default=0, help_text="Traditional minus telematics (negative: surcharge)."
    )
    per_km_rate = models.DecimalField(max_digits=8, decimal_places=4, default=0)
    payd_part = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    annual_premium = models.DecimalField(max_digits=10, decimal_places=2)
    daily_price = models.DecimalField(max_digits=8, decimal_places=2, help_text="For insurance sold with one rental.")
    inputs = models.JSONField()
    inputs_hash = models.CharField(max_length=64, db_index=True)
    breakdown = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["driver", "-created_at"], name="quote_driver_time_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(traditional_premium__gte=0, telematics_premium__gte=0, annual_premium__gte=0)
                & Q(daily_price__gte=0, payd_part__gte=0, per_km_rate__gte=0),
                name="%(app_label)s_%(class)s_amounts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["traditional", "payd", "phyd"]), name="%(app_label)s_%(class)s_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(telematics_factor__gt=0), name="%(app_label)s_%(class)s_factor_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Quote {self.pk} {self.annual_premium} {self.currency}"


class Policy(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "active"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    driver = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="policies")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="policies")
    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, related_name="policy")
    kind = models.CharField(max_length=12, choices=PolicyKind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    starts_on = models.DateField()
    ends_on = models.DateField()
    annual_premium = models.DecimalField(max_digits=10, decimal_places=2)
    bound_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-bound_at"]
        verbose_name_plural = "policies"
        indexes = [models.Index(fields=["partner", "status"], name="policy_partner_status_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["driver", "partner"],
                condition=Q(status="active"),
                name="%(app_label)s_%(class)s_one_active_per_driver_partner",
                violation_error_message="This driver already has an active policy with this partner.",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gt=F("starts_on")), name="%(app_label)s_%(class)s_period_valid"
            ),
            models.CheckConstraint(
                condition=Q(annual_premium__gte=0), name="%(app_label)s_%(class)s_premium_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "cancelled", "expired"]), name="%(app_label)s_%(class)s_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="%(app_label)s_%(class)s_cancelled_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Policy {self.pk} ({self.status})"


class PremiumChange(models.Model):
    """The premium history of a policy: one row when it is bound and one per requote that moved it."""

    class Reason(models.TextChoices):
        BOUND = "bound"
        REQUOTE = "requote"
        CANCELLED = "cancelled"

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="premium_changes")
    driver = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="premium_changes")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    quote = models.ForeignKey(Quote, on_delete=models.PROTECT, related_name="premium_changes")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    previous_premium = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    annual_premium = models.DecimalField(max_digits=10, decimal_places=2)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["driver", "-created_at"], name="premiumchange_driver_time_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(reason__in=["bound", "requote", "cancelled"]), name="%(app_label)s_%(class)s_reason_valid"
            ),
            models.CheckConstraint(
                condition=Q(annual_premium__gte=0), name="%(app_label)s_%(class)s_premium_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} {self.reason} {self.previous_premium} -> {self.annual_premium}"


class PartnerJob(models.Model):
    """Which partner started a job run through the API (JobRun itself knows only staff users);
    a partner can read only its own runs."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="+")
    job = models.OneToOneField("jobs.JobRun", on_delete=models.CASCADE, related_name="partner_link")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["partner", "-created_at"], name="partnerjob_partner_time_idx")]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.job_id}"
