import datetime as dt

from rest_framework import serializers


class MetricsQuery(serializers.Serializer):
    date_from = serializers.DateField(required=False, help_text="First day (default: 30 days before date_to).")
    date_to = serializers.DateField(required=False, help_text="Last day (default: yesterday).")

    MAX_DAYS = 366

    def validate(self, attrs):
        from django.utils import timezone

        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown query parameter."] for name in unknown})
        date_to = attrs.get("date_to") or timezone.localdate() - dt.timedelta(days=1)
        date_from = attrs.get("date_from") or date_to - dt.timedelta(days=29)
        if date_from > date_to:
            raise serializers.ValidationError({"date_from": ["Must not be after date_to."]})
        if (date_to - date_from).days + 1 > self.MAX_DAYS:
            raise serializers.ValidationError({"date_from": [f"At most {self.MAX_DAYS} days."]})
        return {"date_from": date_from, "date_to": date_to}


class KpiOutput(serializers.Serializer):
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    rentals = serializers.IntegerField()
    vehicle_days_on_rent = serializers.IntegerField()
    fleet_days = serializers.IntegerField()
    utilisation = serializers.DecimalField(max_digits=6, decimal_places=4)
    average_daily_rate = serializers.DecimalField(max_digits=10, decimal_places=2)


class RegionKpiOutput(KpiOutput):
    region_code = serializers.CharField()
    region_name = serializers.CharField()


class AlertCountsOutput(serializers.Serializer):
    total = serializers.IntegerField()
    by_type = serializers.DictField(child=serializers.IntegerField())
    by_severity = serializers.DictField(child=serializers.IntegerField())


class MetricsOutput(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    company = KpiOutput()
    regions = RegionKpiOutput(many=True)
    open_alerts = AlertCountsOutput()
    fleet_by_status = serializers.DictField(child=serializers.IntegerField())
