from rest_framework import serializers

from apps.accounts.api.base import StrictSerializer
from apps.fleet.models import VehicleCategory
from apps.pricing.models import Policy, PolicyKind
from apps.regions.models import Region

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
