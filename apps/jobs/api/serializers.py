from rest_framework import serializers


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
