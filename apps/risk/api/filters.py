import django_filters

from apps.risk.models import RiskScore


class ScoreHistoryFilter(django_filters.FilterSet):
    as_of_after = django_filters.DateFilter(field_name="as_of", lookup_expr="gte")
    as_of_before = django_filters.DateFilter(field_name="as_of", lookup_expr="lte")
    band = django_filters.ChoiceFilter(choices=RiskScore.Band.choices)
    model_version = django_filters.CharFilter(field_name="model__version")

    class Meta:
        model = RiskScore
        fields = ["as_of_after", "as_of_before", "band", "model_version"]
