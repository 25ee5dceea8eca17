from rest_framework import serializers

from apps.accounts.api.base import StrictSerializer
from apps.accounts.models import WebhookEndpoint


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
    harsh_brake_count = serializers.IntegerField()
    harsh_accel_count = serializers.IntegerField()
    harsh_corner_count = serializers.IntegerField()
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
