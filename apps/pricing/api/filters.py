import django_filters

from apps.pricing.models import Policy, PolicyKind, Quote


class QuoteFilter(django_filters.FilterSet):
    driver_id = django_filters.NumberFilter(field_name="driver_id", min_value=1, max_value=2**63 - 1)
    kind = django_filters.ChoiceFilter(choices=PolicyKind.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Quote
        fields = ["driver_id", "kind", "created_after", "created_before"]


class PolicyFilter(django_filters.FilterSet):
    driver_id = django_filters.NumberFilter(field_name="driver_id", min_value=1, max_value=2**63 - 1)
    status = django_filters.ChoiceFilter(choices=Policy.Status.choices)
    kind = django_filters.ChoiceFilter(choices=PolicyKind.choices)
    starts_after = django_filters.DateFilter(field_name="starts_on", lookup_expr="gte")
    starts_before = django_filters.DateFilter(field_name="starts_on", lookup_expr="lt")

    class Meta:
        model = Policy
        fields = ["driver_id", "status", "kind", "starts_after", "starts_before"]
