from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.common.models import TimeStampedModel


class Claim(TimeStampedModel):
    class Kind(models.TextChoices):
        COLLISION = "collision"
        LIABILITY = "liability"
        THEFT = "theft"
        GLASS = "glass"
        OTHER = "other"

    class Status(models.TextChoices):
        OPEN = "open"
        SETTLED = "settled"
        REJECTED = "rejected"

    driver = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="claims")
    vehicle = models.ForeignKey("fleet.Vehicle", on_delete=models.PROTECT, null=True, blank=True, related_name="claims")
    policy = models.ForeignKey("pricing.Policy", on_delete=models.PROTECT, null=True, blank=True, related_name="claims")
    trip = models.ForeignKey("telematics.Trip", on_delete=models.PROTECT, null=True, blank=True, related_name="claims")
    occurred_at = models.DateTimeField()
    reported_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.COLLISION)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["driver", "occurred_at"], name="claim_driver_time_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="%(app_label)s_%(class)s_amount_non_negative"),
            models.CheckConstraint(
                condition=Q(reported_at__gte=models.F("occurred_at")), name="%(app_label)s_%(class)s_reported_after"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["collision", "liability", "theft", "glass", "other"]),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "settled", "rejected"]), name="%(app_label)s_%(class)s_status_valid"
            ),
        ]


class RiskModel(TimeStampedModel):
    """A trained claim-frequency model: artifact (XGBoost JSON) plus its test-set model card."""

    version = models.CharField(max_length=40, unique=True)
    algorithm = models.CharField(max_length=40, default="xgboost-poisson")
    artifact_path = models.CharField(max_length=500)
    feature_names = models.JSONField(default=list)
    training_data_hash = models.CharField(max_length=64)
    as_of = models.DateField(null=True, blank=True)
    window_days = models.PositiveSmallIntegerField(default=90)
    metrics = models.JSONField(default=dict, blank=True, help_text="Test-set metrics of XGBoost and the GLM.")
    model_card = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(is_active=True),
                name="%(app_label)s_%(class)s_one_active",
                violation_error_message="Only one risk model can be active.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version}{' (active)' if self.is_active else ''}"


class RiskScore(models.Model):
    class Band(models.TextChoices):
        LOW = "low"
        MILD = "mild"
        MEDIUM = "medium"
        HIGH = "high"

    # No index of its own: the unique (driver, model, as_of) and the latest-score index lead with it.
    driver = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="risk_scores", db_index=False
    )
    # No index of its own either: every read starts from the driver, and 100,000 scores share
    # one model (only deleting a model, which PROTECT refuses while scores exist, would scan).
    model = models.ForeignKey(RiskModel, on_delete=models.PROTECT, related_name="scores", db_index=False)
    as_of = models.DateField()
    expected_claims_per_year = models.FloatField()
    relative_risk = models.FloatField(help_text="Expected frequency over the portfolio mean.")
    safety_score = models.PositiveSmallIntegerField(help_text="0-100, 100 safest.")
    band = models.CharField(max_length=8, choices=Band.choices)
    # The features snapshot as an array in the order of model.feature_names (fixed for a model
    # version), not a JSON object: building a jsonb object converts every float to a numeric,
    # which cost as much as the rest of the insert (about 6.5 us of 10 per score, measured).
    feature_values = ArrayField(
        models.FloatField(),
        default=list,
        blank=True,
        help_text="Feature values the score was computed from, in the order of the model's feature names.",
    )
    contributions = models.JSONField(
        default=dict, blank=True, help_text="SHAP contributions to the log-frequency margin."
    )
    base_value = models.FloatField(default=0)
    reasons = models.JSONField(default=list, blank=True, help_text="Top reasons in plain words.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-as_of", "driver"]
        indexes = [models.Index(fields=["driver", "-as_of"], name="riskscore_driver_latest_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["driver", "model", "as_of"], name="%(app_label)s_%(class)s_unique_driver_model_day"
            ),
            models.CheckConstraint(
                condition=Q(safety_score__gte=0, safety_score__lte=100), name="%(app_label)s_%(class)s_score_range"
            ),
            models.CheckConstraint(
                condition=Q(band__in=["low", "mild", "medium", "high"]), name="%(app_label)s_%(class)s_band_valid"
            ),
            models.CheckConstraint(
                condition=Q(expected_claims_per_year__gte=0, relative_risk__gte=0),
                name="%(app_label)s_%(class)s_frequency_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.driver_id} {self.as_of}: {self.safety_score} ({self.band})"

    @property
    def features(self) -> dict[str, float]:
        """The feature values by name (reads the model row: select_related("model") with it)."""
        return dict(zip(self.model.feature_names, self.feature_values or [], strict=False))
