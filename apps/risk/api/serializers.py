from rest_framework import serializers

from apps.accounts.api.base import StrictSerializer


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
    direction = serializers.CharField()


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
