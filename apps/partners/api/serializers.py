"""Input and output of the partner API (inputs refuse unknown fields: StrictSerializer)."""

from rest_framework import serializers

from apps.common.api import StrictSerializer
from apps.fleet.models import VehicleCategory
from apps.partners.models import WebhookEndpoint
from apps.pricing.models import Policy, PolicyKind
from apps.regions.models import Region


class DriverOutput(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    city = serializers.CharField()
    licence_since = serializers.DateField(allow_null=True)
    has_active_policy = serializers.BooleanField()


class DriverDetailOutput(DriverOutput):
    score = serializers.DictField(allow_null=True, help_text="The latest score (as /score/), or null.")
    policy_ids = serializers.ListField(child=serializers.IntegerField())


class TripOutput(serializers.Serializer):
    id = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    distance_km = serializers.FloatField()
    duration_s = serializers.FloatField()
    mean_speed_mps = serializers.FloatField()
    max_speed_mps = serializers.FloatField()
    harsh_brake_count = serializers.IntegerField(allow_null=True, help_text="null: not measurable for this trip")
    harsh_accel_count = serializers.IntegerField(allow_null=True)
    harsh_corner_count = serializers.IntegerField(allow_null=True)
    speeding_s = serializers.FloatField()
    phone_use_s = serializers.FloatField()
    night_s = serializers.FloatField()
    score = serializers.IntegerField(allow_null=True)


class WebhookEndpointInput(StrictSerializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEndpoint.Event.choices), min_length=1, max_length=2
    )


class WebhookEndpointOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.CharField())
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class WebhookEndpointCreatedOutput(WebhookEndpointOutput):
    secret = serializers.CharField(help_text="The signing secret, shown only in this response.")


# --- scores ----------------------------------------------------------------------------------------


class ScoreOutput(serializers.Serializer):
    driver_id = serializers.IntegerField()
    score_id = serializers.IntegerField()
    safety_score = serializers.IntegerField(help_text="0-100, 100 safest.")
    band = serializers.ChoiceField(choices=["low", "mild", "medium", "high"])
    expected_claims_per_year = serializers.FloatField()
    relative_risk = serializers.FloatField(help_text="Expected claim frequency over the portfolio mean.")
    as_of = serializers.DateField()
    model_version = serializers.CharField()
    scored_at = serializers.DateTimeField()


class ContributionOutput(serializers.Serializer):
    feature = serializers.CharField()
    contribution = serializers.FloatField(help_text="SHAP contribution to the log claim frequency.")
    value = serializers.JSONField(allow_null=True)
    direction = serializers.CharField(
        help_text='"raises risk", "lowers risk", or "no supported effect" for a feature the model\'s held-out '
        "drivers do not support (its contribution is within the noise; it is never a reason)."
    )
    supported = serializers.BooleanField(
        help_text="Whether removing this feature's term worsens the held-out drivers' deviance by more than 2 "
        "standard errors; only supported features are named in reasons."
    )


class ExplanationOutput(ScoreOutput):
    base_value = serializers.FloatField()
    reasons = serializers.ListField(child=serializers.JSONField())
    contributions = ContributionOutput(many=True)


class ScoreHistoryOutput(serializers.Serializer):
    score_id = serializers.IntegerField(source="pk")
    as_of = serializers.DateField()
    safety_score = serializers.IntegerField()
    band = serializers.CharField()
    expected_claims_per_year = serializers.FloatField()
    relative_risk = serializers.FloatField()
    model_version = serializers.CharField(source="model.version")
    scored_at = serializers.DateTimeField(source="created_at")


class BatchScoreInput(StrictSerializer):
    driver_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        min_length=1,
        max_length=10000,
        help_text="Drivers to rescore; all of the partner's insured drivers when omitted.",
    )


class JobAcceptedOutput(serializers.Serializer):
    job_id = serializers.IntegerField()
    status = serializers.CharField()
    drivers = serializers.IntegerField()
    url = serializers.CharField()


# --- quotes and policies ---------------------------------------------------------------------------

BIGINT = 2**63 - 1


class QuoteInput(StrictSerializer):
    driver_id = serializers.IntegerField(min_value=1, max_value=BIGINT)
    vehicle_category = serializers.SlugRelatedField(slug_field="code", queryset=VehicleCategory.objects.all())
    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all())
    kind = serializers.ChoiceField(choices=PolicyKind.choices, default=PolicyKind.PHYD)
    vehicle_age_years = serializers.IntegerField(min_value=0, max_value=60, required=False)


class QuoteOutput(serializers.Serializer):
    id = serializers.IntegerField()
    driver_id = serializers.IntegerField()
    kind = serializers.CharField()
    currency = serializers.CharField()
    vehicle_category = serializers.CharField(source="vehicle_category.code")
    region = serializers.CharField(source="region.code")
    traditional_premium = serializers.DecimalField(max_digits=10, decimal_places=2)
    telematics_factor = serializers.DecimalField(max_digits=6, decimal_places=4)
    telematics_premium = serializers.DecimalField(max_digits=10, decimal_places=2)
    discount = serializers.DecimalField(max_digits=10, decimal_places=2)
    per_km_rate = serializers.DecimalField(max_digits=8, decimal_places=4)
    payd_part = serializers.DecimalField(max_digits=10, decimal_places=2)
    annual_premium = serializers.DecimalField(max_digits=10, decimal_places=2)
    daily_price = serializers.DecimalField(max_digits=8, decimal_places=2)
    breakdown = serializers.JSONField()
    reasons = serializers.JSONField()
    rate_plan = serializers.SerializerMethodField()
    model_version = serializers.SerializerMethodField()
    risk_score_id = serializers.IntegerField(allow_null=True)
    inputs_hash = serializers.CharField()
    created_at = serializers.DateTimeField()
    valid_until = serializers.DateTimeField()

    def get_rate_plan(self, obj) -> dict:
        return {"name": obj.rate_plan.name, "version": obj.rate_plan.version}

    def get_model_version(self, obj) -> str | None:
        score = (obj.inputs or {}).get("risk_score")
        return score["model_version"] if score else None


class PolicyInput(StrictSerializer):
    quote_id = serializers.IntegerField(min_value=1, max_value=BIGINT)
    starts_on = serializers.DateField(required=False)


class PolicyCancelInput(StrictSerializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class PremiumChangeOutput(serializers.Serializer):
    reason = serializers.CharField()
    previous_premium = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    annual_premium = serializers.DecimalField(max_digits=10, decimal_places=2)
    quote_id = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class PolicyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    driver_id = serializers.IntegerField()
    quote_id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=Policy.Status.choices)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    annual_premium = serializers.DecimalField(max_digits=10, decimal_places=2)
    bound_at = serializers.DateTimeField()
    cancelled_at = serializers.DateTimeField(allow_null=True)
    cancel_reason = serializers.CharField()


class PolicyDetailOutput(PolicyOutput):
    premium_history = PremiumChangeOutput(many=True, source="premium_changes_list")


# --- jobs ------------------------------------------------------------------------------------------


class JobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    progress_done = serializers.IntegerField()
    progress_total = serializers.IntegerField(allow_null=True)
    progress_note = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    result = serializers.JSONField()
    failed = serializers.SerializerMethodField()

    def get_failed(self, obj) -> bool:
        # The error text (a traceback) stays in the back office; the partner learns the outcome.
        return obj.status == "failed"
