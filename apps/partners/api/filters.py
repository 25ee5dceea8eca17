import django_filters
from django.db.models import Exists, OuterRef

from apps.common.filters import IsoDateTimeFilter
from apps.customers.models import Customer
from apps.pricing.models import Policy, PolicyKind, Quote
from apps.risk.models import RiskScore
from apps.telematics.models import Trip


class DriverFilter(django_filters.FilterSet):
    city = django_filters.CharFilter(field_name="city", lookup_expr="iexact")
    policy_status = django_filters.ChoiceFilter(
        choices=Policy.Status.choices, method="filter_policy_status", help_text="Drivers with a policy in this status."
    )
    licence_since_before = django_filters.DateFilter(field_name="licence_since", lookup_expr="lt")
    licence_since_after = django_filters.DateFilter(field_name="licence_since", lookup_expr="gte")

    class Meta:
        model = Customer
        fields = ["city", "policy_status", "licence_since_before", "licence_since_after"]

    def filter_policy_status(self, queryset, name, value):
        partner = self.request.user.partner
        return queryset.filter(Exists(Policy.objects.filter(partner=partner, driver_id=OuterRef("pk"), status=value)))


class TripFilter(django_filters.FilterSet):
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")
    min_distance_km = django_filters.NumberFilter(
        field_name="distance_km", lookup_expr="gte", min_value=0, max_value=100000
    )

    class Meta:
        model = Trip
        fields = ["started_after", "started_before", "min_distance_km"]


class ScoreHistoryFilter(django_filters.FilterSet):
    as_of_after = django_filters.DateFilter(field_name="as_of", lookup_expr="gte")
    as_of_before = django_filters.DateFilter(field_name="as_of", lookup_expr="lte")
    band = django_filters.ChoiceFilter(choices=RiskScore.Band.choices)
    model_version = django_filters.CharFilter(field_name="model__version")

    class Meta:
        model = RiskScore
        fields = ["as_of_after", "as_of_before", "band", "model_version"]


class QuoteFilter(django_filters.FilterSet):
    driver_id = django_filters.NumberFilter(field_name="driver_id", min_value=1, max_value=2**63 - 1)
    kind = django_filters.ChoiceFilter(choices=PolicyKind.choices)
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

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
