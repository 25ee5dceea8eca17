from rest_framework import serializers


class SampleCountsSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    stored = serializers.IntegerField()
    dropped = serializers.DictField(child=serializers.IntegerField(), help_text="Dropped samples by reason.")
    dropped_total = serializers.IntegerField()
    reordered = serializers.IntegerField(help_text="Samples that arrived out of time order (sorted, kept).")


class TripUploadResultSerializer(serializers.Serializer):
    trip_id = serializers.IntegerField()
    external_id = serializers.CharField()
    created = serializers.BooleanField()
    samples = SampleCountsSerializer()
    feature_status = serializers.CharField()
